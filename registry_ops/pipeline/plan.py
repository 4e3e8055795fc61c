"""The flow of ``plan`` and ``apply``: load, observe, diff, gate, execute.

The CLI turns options into calls to these functions and their results into
output and exit codes; nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from registry_ops import gates
from registry_ops import gitrepo as gitinfo
from registry_ops.core.authentic import authenticated
from registry_ops.core.changes import Change
from registry_ops.core.model import Desired, ModelManifest
from registry_ops.core.plan import ModelPlan, Plan
from registry_ops.core.planner import plan_models
from registry_ops.core.provenance import held_since
from registry_ops.core.records import RecordKey
from registry_ops.core.redact import without_credentials
from registry_ops.core.state import Observed, ObservedModel
from registry_ops.errors import PlanSealError, RegistryOpsError
from registry_ops.pipeline import binding
from registry_ops.pipeline.lease import LEASE_TAG, last_applied_commit

if TYPE_CHECKING:  # the adapter imports mlflow: keep it off validate's path
    from registry_ops.registry import Registry

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"  # MLflow's own default


@dataclass(frozen=True)
class Endpoint:
    """Where the manifests live and which MLflow they describe."""

    root: Path
    tracking_uri: str
    registry_uri: str | None

    def connect(self, on_retry: Callable[[str], None] | None = None) -> Registry:
        """A registry client for this endpoint (imports mlflow on first use)."""
        from registry_ops.registry import Registry

        return Registry(self.tracking_uri, self.registry_uri, on_retry)

    @property
    def tracking_id(self) -> str:
        """The tracking URI as a plan records it: no credentials, sqlite paths absolute."""
        return identity(self.tracking_uri)

    @property
    def registry_id(self) -> str:
        """The registry URI as a plan records it."""
        return identity(self.registry_uri or self.tracking_uri)


def identity(uri: str) -> str:
    """A URI reduced to which registry it names: credentials removed, a sqlite path
    made absolute, scheme and host lower-cased, no trailing slash."""
    uri = without_credentials(uri.strip())
    if uri.startswith("sqlite://"):
        # sqlite:///rel.db is relative to the working directory, sqlite:////abs.db absolute
        path, _, query = uri[len("sqlite://") :].partition("?")
        path = path[1:] if path.startswith("/") else path
        if path and path != ":memory:":
            path = str(Path(path).resolve())
        return "sqlite:///" + path + ("?" + query if query else "")
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return uri
    hostpart, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{hostpart.lower()}{slash}{path}".rstrip("/")


def check_target(plan: Plan, endpoint: Endpoint) -> None:
    """Refuse a saved plan made for another tracking or registry URI."""
    wrong = []
    if plan.tracking_uri != endpoint.tracking_id:
        wrong.append(f"tracking URI {plan.tracking_uri!r}, here {endpoint.tracking_id!r}")
    if plan.registry_uri != endpoint.registry_id:
        wrong.append(f"registry URI {plan.registry_uri!r}, here {endpoint.registry_id!r}")
    if wrong:
        raise PlanSealError(
            "the saved plan was made for another registry: " + "; ".join(wrong) + ". "
            "Make a new plan against this one."
        )


def select(desired: Desired, names: Sequence[str]) -> list[str]:
    """Model names to work on: ``names`` if given (each must have a manifest), else all."""
    unknown = [n for n in names if n not in desired.manifests]
    if unknown:
        managed = ", ".join(sorted(desired.manifests)) or "none"
        raise RegistryOpsError(
            f"no manifest for model(s): {', '.join(unknown)} (manifests cover: {managed})"
        )
    return list(dict.fromkeys(names)) if names else sorted(desired.manifests)


# Above this many manifests the whole registry is read anyway (the adapter's
# per-name reads stop paying off), so it is read while the manifests load.
PREFETCH_ABOVE = 10


def prepare(
    endpoint: Endpoint,
    names: Sequence[str],
    connect: Callable[[], Registry],
    load: Callable[[Path], Desired] | None = None,
) -> tuple[Desired, Registry, Observed | None]:
    """Load the manifests and connect; for a large repository, read the whole registry
    in the background meanwhile (on 10,000 models that hides the manifests' load time).

    Manifest errors are reported before any registry error, as without the overlap.
    """
    from registry_ops.desired import loader

    read_manifests: Callable[[Path], Desired] = load or loader.load
    manifests = endpoint.root / "manifests"
    count = sum(1 for _ in manifests.rglob("*.y*ml")) if manifests.is_dir() else 0
    if names or count <= PREFETCH_ABOVE:
        desired = read_manifests(endpoint.root)
        return desired, connect(), None

    def read() -> tuple[Registry, Observed]:
        registry = connect()
        return registry, registry.read_state(None)

    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(read)
    try:
        desired = read_manifests(endpoint.root)  # its errors win over a registry error
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)  # report now; the read is moot
        raise
    try:
        registry, observed = future.result()
    finally:
        pool.shutdown()
    return desired, registry, observed


def make_plan(
    desired: Desired,
    names: Sequence[str],
    endpoint: Endpoint,
    registry: Registry,
    progress: Callable[[str], None] | None = None,
    observed: Observed | None = None,
) -> Plan:
    """Diff the manifests for ``names`` against the live registry and run their gates.

    ``observed`` is the registry already read (a superset of ``names`` is fine).
    """
    from registry_ops.registry.evidence import RegistryEvidence

    chosen = select(desired, names)
    if observed is None:
        observed = registry.read_state(chosen)
    else:
        wanted = set(chosen)
        observed = Observed({n: m for n, m in observed.models.items() if n in wanted})
    # MLflow's searches hide prompts: a manifest naming one must hear that, not "no such model".
    observed.models.update(registry.prompts(n for n in chosen if n not in observed.models))
    # Records without a valid MAC decide nothing: they are out of every reader's view.
    observed = authenticated(observed, RecordKey.from_env())
    model_plans = plan_models([desired.manifests[n] for n in chosen], observed)
    label_drift(model_plans, desired, observed, endpoint.root)
    evidence = RegistryEvidence(registry, progress)
    context = gates.GateContext(root=endpoint.root.resolve(), models=evidence)
    try:
        gates.evaluate(model_plans, desired, observed, registry.read_metrics, context=context)
    finally:
        evidence.close()
    _override_authors(model_plans, endpoint.root)
    binding.bind(model_plans, desired, endpoint.root)
    git = gitinfo.describe(endpoint.root)
    return Plan(
        models=model_plans,
        # Microseconds: saved plans are ordered by it (registry_ops.pipeline.replay).
        created_at=datetime.now(UTC).isoformat(timespec="microseconds"),
        tracking_uri=endpoint.tracking_id,
        registry_uri=endpoint.registry_id,
        git=git.to_dict() if git else None,
    )


def label_drift(
    model_plans: list[ModelPlan], desired: Desired, observed: Observed, root: Path
) -> None:
    """Name as drift the changes that revert edits made outside registry-ops.

    The registry tells: a wanted version whose provenance shows registry-ops put it
    on the target last, yet it no longer holds it; a stage holder with no record
    of how it got there, on a model registry-ops manages. Git tells the rest: if
    the manifest is unchanged since the last applied commit, every difference
    was made out of band. On a model with no record at all, only the protected
    targets are labelled (:func:`_label_unrecorded`).
    """
    for model_plan in model_plans:
        manifest = desired.manifests[model_plan.model]
        model = observed.models[model_plan.model]
        if not model_plan.changes:
            continue
        if not model.managed:
            _label_unrecorded(model_plan, manifest)
            continue
        last = last_applied_commit(model.tags.get(LEASE_TAG), model.name, RecordKey.from_env())
        sha = last.split("+")[0] if last and last != "unknown" else None
        same = gitinfo.unchanged_since(root, sha, [model_plan.manifest]) if sha else None
        for change in model_plan.changes:
            info = _drift(change, model, bool(same), last)
            if info is not None:
                target = change.target_name if change.stage != "Archived" else change.from_stage
                info["protected"] = target in manifest.protect
                change.reason = "drift"
                change.drift = info


def _label_unrecorded(model_plan: ModelPlan, manifest: ModelManifest) -> None:
    """Alerts on a model registry-ops has never written to (adopted with ``export``).

    No record tells an out-of-band move there, yet adoption is when teams add
    ``protect``: a protected target whose holder differs from the manifest is an
    alert all the same. Other differences stay plain changes (its first plan).
    The first apply records who holds what (the planner stamps the holders of a
    model that protects a target), and from then on the records decide.
    """
    for change in model_plan.changes:
        if change.reason not in ("manifest", "displaced"):
            continue  # stamps and retention move no protected target's holder
        target = change.target_name if change.stage != "Archived" else change.from_stage
        if target in manifest.protect:
            change.reason = "drift"
            change.drift = {"no_registry_ops_record": True, "protected": True}


def _drift(
    change: Change, model: ObservedModel, unchanged: bool, last: str | None
) -> dict[str, object] | None:
    versions = model.versions
    promotion = change.reason == "manifest" and change.stage != "Archived"
    if promotion and change.target and change.version is not None and change.version in versions:
        since = held_since(versions[change.version], change.target)
        later = [
            t
            for n, v in versions.items()
            if n != change.version and (t := held_since(v, change.target)) and since and t > since
        ]
        if since and not later:
            return {"put_by_registry_ops_at": since, "version": change.version}
    if change.reason == "displaced" and change.version in versions and change.from_stage:
        record = held_since(versions[change.version], f"stage:{change.from_stage}")
        if record is None:
            return {"entered_outside_registry_ops": f"stage:{change.from_stage}"}
    if unchanged and change.reason == "manifest":
        return {"last_applied_commit": last}
    return None


def _override_authors(model_plans: list[ModelPlan], root: Path) -> None:
    """Who wrote each override in use, from git (recorded in the plan and stamped at apply)."""
    for model_plan in model_plans:
        for change in model_plan.changes:
            if change.override is None:
                continue
            line = change.override.get("line")
            author = gitinfo.line_author(root, model_plan.manifest, line) if line else None
            change.override["author"] = author or "uncommitted (not in git yet)"


def changed_models(
    desired: Desired, root: Path, ref: str, names: Sequence[str] = ()
) -> tuple[str, ...]:
    """The models (of ``names``, or all) whose manifest, or a policy they gate with,
    changed between ``ref`` and the working tree."""
    try:
        changed = gitinfo.changed_since(root, ref)
    except ValueError as exc:
        raise RegistryOpsError(f"--changed-since: {exc}") from None
    if changed is None:
        raise RegistryOpsError(f"--changed-since {ref}: {root} is not inside a git repository")
    files = set(changed)
    root_path = Path(root).resolve()

    def rel(file: str) -> str:
        path = Path(file).resolve()
        return str(path.relative_to(root_path)) if path.is_relative_to(root_path) else file

    policies = {name: rel(p.file) for name, p in desired.policies.items()}
    chosen = []
    for name in select(desired, names):
        manifest = desired.manifests[name]
        used = {policies.get(p) for p in manifest.gates.values()}
        if manifest.file in files or used & files:
            chosen.append(name)
    return tuple(chosen)


def empty_plan(endpoint: Endpoint) -> Plan:
    """A plan of nothing, for the same registry (nothing to read)."""
    git = gitinfo.describe(endpoint.root)
    return Plan(
        models=[],
        created_at=datetime.now(UTC).isoformat(timespec="microseconds"),
        tracking_uri=endpoint.tracking_id,
        registry_uri=endpoint.registry_id,
        git=git.to_dict() if git else None,
    )


def narrow(plan: Plan, names: Sequence[str]) -> Plan:
    """A saved plan limited to ``names`` (all of it when empty)."""
    if not names:
        return plan
    known = {m.model for m in plan.models}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise RegistryOpsError(f"the saved plan does not cover model(s): {', '.join(unknown)}")
    plan.models = [m for m in plan.models if m.model in names]
    return plan
