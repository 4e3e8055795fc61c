"""``registry-ops propose``: find versions that pass a target's gates and commit each
manifest change on a new local branch (the bot that opens promotion pull requests).

For every gated target of a manifest (an alias, or the Production or Staging
stage, that ``gates:`` names a policy for), the READY versions newer than the
one the manifest wants are tried newest first. Each candidate is judged by the
real pipeline: the manifest is changed in memory to give the target to the
candidate, planned against the live registry (:func:`planner.plan_models`) and
gated by :func:`gates.evaluate` with the same evidence providers as ``plan``.
The first candidate whose change for that target ran its gates and passed every
one of them is proposed; an ungated target is never proposed.

A proposal is one commit on ``registry-ops/propose/<model>/<target>-v<N>``,
made from HEAD: the manifest's text with exactly one scalar replaced (found by
its source position, so comments and layout stay as written), and a message
that carries the evidence (each gate's result and numbers, the plan digest).
The user's checkout (HEAD, index, working tree) is never touched and nothing
is pushed: the propose workflow pushes the branches and opens the pull requests.

A branch that already exists, locally or as a remote-tracking branch, means its
version was proposed before: it is reported as already proposed, and no older
version is tried for that target, so a second run proposes nothing new.
"""

from __future__ import annotations

import codecs
import copy
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from registry_ops import gates
from registry_ops import gitrepo as gitinfo
from registry_ops.core.changes import PROMOTION_STAGES, Change
from registry_ops.core.gate_result import GateResult
from registry_ops.core.metric_book import MetricBook
from registry_ops.core.model import Desired, ModelManifest
from registry_ops.core.plan import ModelPlan, Plan
from registry_ops.core.planner import plan_models
from registry_ops.core.state import Observed, ObservedModel, ObservedVersion
from registry_ops.desired import yamldoc
from registry_ops.errors import InvalidInput, RegistryOpsError
from registry_ops.pipeline.plan import Endpoint, select

if TYPE_CHECKING:  # the adapter imports mlflow
    from registry_ops.registry import Registry

BRANCH_PREFIX = "registry-ops/propose"

PROPOSED = "proposed"
WOULD_PROPOSE = "would propose"  # --dry-run
ALREADY_PROPOSED = "already proposed"


@dataclass(frozen=True)
class Target:
    """One gated target of a manifest and the version the manifest wants for it."""

    model: str
    kind: str  # "alias" or "stage"
    name: str
    policy: str
    wanted: int  # for a stage listing several versions: the newest of them

    @property
    def key(self) -> str:
        """``alias:NAME`` or ``stage:NAME``, as changes name their target."""
        return f"{self.kind}:{self.name}"


@dataclass
class Proposal:
    """One promotion found to pass its gates (or found proposed already)."""

    model: str
    target: str
    kind: str
    manifest: str
    from_version: int
    to_version: int
    branch: str
    status: str
    policy: str
    holder: int | None = None  # the version holding the target in the registry now
    commit: str | None = None
    plan_digest: str | None = None
    gates: list[GateResult] = field(default_factory=list)

    @property
    def title(self) -> str:
        """The commit's subject, which becomes the pull request's title."""
        return _plain(f"Promote {self.model} v{self.to_version} to {self.target}")

    def summary(self) -> str:
        """One line for the text output."""
        if self.status == ALREADY_PROPOSED:
            return f"{self.title} (branch exists at {(self.commit or '?')[:12]})"
        n = len(self.gates)
        return (
            f"{self.title} (manifest wants v{self.from_version}; {n} gate{'s' * (n != 1)} passed)"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``propose --format json``)."""
        return {
            "status": self.status,
            "branch": self.branch,
            "model": self.model,
            "target": self.target,
            "kind": self.kind,
            "manifest": self.manifest,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "holder_version": self.holder,
            "policy": self.policy,
            "commit": self.commit,
            "plan_digest": self.plan_digest,
            "title": self.title,
            "gates": [g.to_dict() for g in self.gates],
        }


@dataclass(frozen=True)
class Rejection:
    """A candidate that was tried and not proposed, and why."""

    model: str
    target: str
    version: int
    reason: str


@dataclass
class Outcome:
    """Everything one ``propose`` run found."""

    proposals: list[Proposal] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    targets: int = 0  # gated targets looked at
    dry_run: bool = False

    def count(self, status: str) -> int:
        """How many proposals have ``status``."""
        return sum(1 for p in self.proposals if p.status == status)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``propose --format json``)."""
        return {
            "proposals": [p.to_dict() for p in self.proposals],
            "rejected": [
                {"model": r.model, "target": r.target, "version": r.version, "reason": r.reason}
                for r in self.rejected
            ],
            "errors": list(self.errors),
            "summary": {
                "targets_checked": self.targets,
                "proposed": self.count(PROPOSED),
                "would_propose": self.count(WOULD_PROPOSE),
                "already_proposed": self.count(ALREADY_PROPOSED),
                "errors": len(self.errors),
                "dry_run": self.dry_run,
            },
        }


class EditError(RegistryOpsError):
    """A manifest value could not be replaced in place."""


# ---- what to try --------------------------------------------------------------------


def gated_targets(manifest: ModelManifest) -> list[Target]:
    """The manifest's targets that a policy gates: aliases, then Production and Staging."""
    out: list[Target] = []
    for name, version in sorted(manifest.aliases.items()):
        policy = manifest.gates.get(name)
        if policy is not None:
            out.append(Target(manifest.model, "alias", name, policy, version))
    for stage in PROMOTION_STAGES:
        policy = manifest.gates.get(stage)
        versions = manifest.stages.get(stage)
        if policy is not None and versions:
            out.append(Target(manifest.model, "stage", stage, policy, max(versions)))
    return out


def candidates(manifest: ModelManifest, model: ObservedModel, target: Target) -> list[int]:
    """READY versions newer than the one the manifest wants, newest first.

    Left out: versions holding the target already (no promotion, so no gate
    evidence), versions the manifest archives, and, for a stage, versions the
    manifest gives another stage (one edit cannot give a version two stages).
    """
    excluded = set(manifest.stages.get("Archived", ()))
    if target.kind == "stage":
        for stage, versions in manifest.stages.items():
            if stage != target.name:
                excluded.update(versions)
        holding = set(model.stage_holders(target.name))
    else:
        holder = model.aliases.get(target.name)
        holding = {holder} if holder is not None else set()
    return [
        number
        for number, version in sorted(model.versions.items(), reverse=True)
        if number > target.wanted
        and version.status == "READY"
        and number not in excluded
        and number not in holding
    ]


def hypothetical(manifest: ModelManifest, target: Target, version: int) -> ModelManifest:
    """The manifest with ``target`` moved to ``version`` (a stage's list keeps its other
    versions: the one the manifest wants now is replaced)."""
    if target.kind == "alias":
        return replace(manifest, aliases={**manifest.aliases, target.name: version})
    listed = manifest.stages[target.name]
    moved = tuple(version if v == target.wanted else v for v in listed)
    return replace(manifest, stages={**manifest.stages, target.name: moved})


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def ref_part(text: str) -> str:
    """``text`` as one component of a git ref: letters, digits, ``._-`` only (safe in
    the workflow's shell loop too), with a short hash when anything had to change, so
    two names never share a branch."""
    part = re.sub(r"\.{2,}", ".", _UNSAFE.sub("-", text)).strip(".-")
    if part.endswith(".lock"):
        part = part[: -len(".lock")] + "-lock"
    if part != text:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        part = f"{part}-{digest}" if part else digest
    return part


def branch_name(model: str, target: str, version: int) -> str:
    """``registry-ops/propose/<model>/<target>-v<N>``, made safe for git."""
    return f"{BRANCH_PREFIX}/{ref_part(model)}/{ref_part(target)}-v{version}"


# ---- the run -------------------------------------------------------------------------


class _Metrics:
    """A metrics fetcher that reads each run and logged model once: prefetched in one
    batch, the rest (those of other pending promotions) on demand."""

    def __init__(self, read: Callable[[Iterable[str], Iterable[str]], MetricBook]) -> None:
        self.read = read
        self.book = MetricBook()

    def __call__(self, versions: Iterable[ObservedVersion]) -> MetricBook:
        runs, models = self.book.missing(versions)
        if runs or models:
            self.book.merge(self.read(runs, models))
        return self.book


@dataclass
class _Search:
    """One target's candidates still to try (newer than any existing proposal)."""

    target: Target
    manifest: ModelManifest
    model: ObservedModel
    tries: list[int]
    existing: tuple[int, str] | None  # version and commit of a proposal branch found


def check_repository(root: Path) -> gitinfo.GitInfo:
    """The git facts of ``root``; RegistryOpsError when it is not in a repository with a
    commit (proposals are commits)."""
    git = gitinfo.describe(root)
    if git is None:
        raise RegistryOpsError(
            f"propose commits each proposal on a new git branch, but {root.resolve()} is "
            "not in a git repository with a commit (or git is not installed)"
        )
    return git


def propose(
    desired: Desired,
    names: Sequence[str],
    endpoint: Endpoint,
    registry: Registry,
    observed: Observed | None = None,
    progress: Callable[[str], None] | None = None,
    dry_run: bool = False,
) -> Outcome:
    """Find, for each gated target of the manifests for ``names`` (all when empty), the
    newest READY version that passes its gates, and commit each on a new branch.

    ``observed`` is the registry already read (a superset of ``names`` is fine);
    otherwise it is read once, for all models. With ``dry_run`` nothing is written.
    """
    from registry_ops.registry.evidence import RegistryEvidence

    root = endpoint.root
    git = check_repository(root)
    outcome = Outcome(dry_run=dry_run)
    if git.dirty:
        outcome.warnings.append(
            f"uncommitted changes in {', '.join(git.uncommitted)}: the gates ran on what is "
            f"on disk, but proposal branches start from HEAD ({git.commit[:12]})"
        )
    chosen = select(desired, names)
    manifests = [desired.manifests[n] for n in chosen]
    if not any(gated_targets(m) for m in manifests):
        return outcome
    if observed is None:
        observed = registry.read_state(chosen)

    searches: list[_Search] = []
    for manifest in manifests:
        model = observed.get(manifest.model)
        if model is None:
            outcome.errors.append(
                f"{manifest.file}: registered model '{manifest.model}' does not exist in MLflow"
            )
            continue
        for target in gated_targets(manifest):
            outcome.targets += 1
            searches.append(_search(root, manifest, model, target))
            outcome.rejected.extend(_in_other_stage(manifest, target))

    metrics = _Metrics(registry.read_sources)
    metrics(_prefetch(searches, desired))
    evidence = RegistryEvidence(registry, progress)
    context = gates.GateContext(root=root.resolve(), models=evidence)
    created_at = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        for search in searches:
            found = _first_passing(search, desired, observed, metrics, context, outcome)
            if found is not None:
                proposal, model_plan = found
                plan = Plan(
                    models=[model_plan],
                    created_at=created_at,
                    tracking_uri=endpoint.tracking_id,
                    registry_uri=endpoint.registry_id,
                    git=git.to_dict(),
                )
                proposal.plan_digest = plan.digest
                if not dry_run:
                    _commit(proposal, search, root, endpoint.registry_id, created_at, outcome)
                    if proposal.commit is None:
                        continue
                outcome.proposals.append(proposal)
            elif search.existing is not None:
                version, commit = search.existing
                outcome.proposals.append(_already(search, version, commit))
    finally:
        evidence.close()
    return outcome


def _search(root: Path, manifest: ModelManifest, model: ObservedModel, target: Target) -> _Search:
    """The candidates to try, newest first, up to the first one proposed before."""
    tries: list[int] = []
    for version in candidates(manifest, model, target):
        commit = gitinfo.find_branch(root, branch_name(target.model, target.name, version))
        if commit is not None:
            return _Search(target, manifest, model, tries, (version, commit))
        tries.append(version)
    return _Search(target, manifest, model, tries, None)


def _in_other_stage(manifest: ModelManifest, target: Target) -> list[Rejection]:
    """Newer versions that the manifest gives the other promotion stage: moving one
    takes two edits (it must leave that stage), so that is left to a person."""
    if target.kind != "stage":
        return []
    return [
        Rejection(
            target.model,
            target.name,
            version,
            f"the manifest gives it {stage}: moving it between stages takes more than one edit",
        )
        for stage in PROMOTION_STAGES
        if stage != target.name
        for version in sorted(manifest.stages.get(stage, ()), reverse=True)
        if version > target.wanted
    ]


def _prefetch(searches: list[_Search], desired: Desired) -> list[ObservedVersion]:
    """Versions whose metrics the gates will read: every candidate and the holders."""
    versions: list[ObservedVersion] = []
    for search in searches:
        policy = desired.policies.get(search.target.policy)
        if not search.tries or policy is None:
            continue
        if not any(g.needs_metrics for g in gates.build(policy)):
            continue
        model = search.model
        if search.target.kind == "alias":
            holders = [model.aliases.get(search.target.name)]
        else:
            holders = list(model.stage_holders(search.target.name))
        for number in [*search.tries, *holders]:
            version = model.versions.get(number) if number is not None else None
            if version is not None:
                versions.append(version)
    return versions


def _first_passing(
    search: _Search,
    desired: Desired,
    observed: Observed,
    metrics: _Metrics,
    context: gates.GateContext,
    outcome: Outcome,
) -> tuple[Proposal, ModelPlan] | None:
    """The newest candidate whose change for the target is gated and passes every gate."""
    target = search.target
    for version in search.tries:
        manifest = hypothetical(search.manifest, target, version)
        try:
            model_plans = plan_models([manifest], observed)
        except InvalidInput as exc:
            outcome.errors.extend(str(p) for p in exc.problems)
            return None
        what_if = replace(desired, manifests={**desired.manifests, target.model: manifest})
        gates.evaluate(model_plans, what_if, observed, metrics, context=context)
        model_plan = model_plans[0]
        change = _change_for(model_plan, target, version)
        reason = _why_not(change)
        if reason is not None:
            outcome.rejected.append(Rejection(target.model, target.name, version, reason))
            continue
        assert change is not None
        proposal = _proposal(
            search,
            version,
            WOULD_PROPOSE if outcome.dry_run else PROPOSED,
            holder=change.from_version,
            gates=list(change.gates),
        )
        return proposal, model_plan
    return None


def _change_for(model_plan: ModelPlan, target: Target, version: int) -> Change | None:
    for change in model_plan.changes:
        if change.is_promotion and change.target == target.key and change.version == version:
            return change
    return None


def _why_not(change: Change | None) -> str | None:
    """Why this change may not be proposed; None when it may."""
    if change is None:
        return "no promotion to gate"
    if not change.gated:
        return "ungated"
    if change.rollback is not None:
        return "a rollback (exempt from the gates): not proposed"
    if not change.gates:
        return "no gate ran"
    failed = [g for g in change.gates if not g.passed]
    if failed:
        first = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return f"fails {first.name}: {first.detail}{more}"
    return None


def _already(search: _Search, version: int, commit: str) -> Proposal:
    return _proposal(search, version, ALREADY_PROPOSED, commit=commit)


def _proposal(search: _Search, version: int, status: str, **extra: Any) -> Proposal:
    """A proposal moving the search's target to ``version``."""
    target = search.target
    return Proposal(
        model=target.model,
        target=target.name,
        kind=target.kind,
        manifest=search.manifest.file,
        from_version=target.wanted,
        to_version=version,
        branch=branch_name(target.model, target.name, version),
        status=status,
        policy=target.policy,
        **extra,
    )


def _commit(
    proposal: Proposal,
    search: _Search,
    root: Path,
    registry_id: str,
    created_at: str,
    outcome: Outcome,
) -> None:
    """Write the one-value edit of the manifest as it is at HEAD on the proposal's branch."""
    where = f"{proposal.manifest}: {proposal.title}"
    try:
        inside, committed = gitinfo.head_file(root, proposal.manifest)
        on_disk = (root / proposal.manifest).read_bytes()
        if committed is None:
            raise EditError(f"{proposal.manifest} is not committed; commit it first")
        if committed != on_disk:
            raise EditError(
                f"{proposal.manifest} has uncommitted changes and the proposal branch starts "
                "from HEAD; commit or discard them first"
            )
        path = _value_path(committed, search.target)
        edited = edit_version(committed, path, proposal.to_version)
        message = commit_message(proposal, path, registry_id, created_at)
        proposal.commit = gitinfo.commit_on_new_branch(
            root, proposal.branch, {inside: edited}, message
        )
    except (EditError, ValueError, OSError) as exc:
        outcome.errors.append(f"{where}: not proposed: {exc}")


# ---- the edit -------------------------------------------------------------------------

# Line breaks as YAML counts lines (libyaml and PyYAML alike).
_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
# A tag or anchor before a value: a node's mark is where its properties start.
_PROPERTIES = re.compile(r"(?:[!&][^\s,\[\]{}]*[ \t]+)*")
# A plain scalar as a version is written (digits, in block or flow style).
_PLAIN = re.compile(r"[^\s,\[\]{}#]+")


def _decode(data: bytes) -> tuple[bytes, str]:
    bom = codecs.BOM_UTF8 if data.startswith(codecs.BOM_UTF8) else b""
    try:
        return bom, data[len(bom) :].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EditError(f"not UTF-8: {exc}") from None


def _value_path(data: bytes, target: Target) -> yamldoc.PathKey:
    """Where the version of ``target`` that the manifest wants stands in the document."""
    doc = _parse(_decode(data)[1])
    if target.kind == "alias":
        return ("aliases", target.name)
    value = (doc.data.get("stages") or {}).get(target.name)
    if isinstance(value, list):
        return ("stages", target.name, value.index(target.wanted))
    return ("stages", target.name)


def _parse(text: str) -> yamldoc.YamlDoc:
    try:
        doc = yamldoc.parse(text)
    except yamldoc.YamlSyntaxError as exc:
        raise EditError(str(exc)) from None
    if not isinstance(doc.data, dict):
        raise EditError("not a manifest (no mapping at the top)")
    return doc


def replace_scalar(text: str, line: int, column: int, new: str) -> str:
    """``text`` with the plain scalar whose node starts at ``line``:``column`` (1-based,
    as yamldoc marks them) replaced by ``new``; everything else byte for byte."""
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    if not 1 <= line <= len(starts):
        raise EditError(f"line {line} is outside the file")
    offset = starts[line - 1] + column - 1
    properties = _PROPERTIES.match(text, offset)
    start = properties.end() if properties else offset
    token = _PLAIN.match(text, start)
    if token is None:
        raise EditError(f"no plain value at line {line}, column {column}")
    return text[:start] + new + text[token.end() :]


def edit_version(data: bytes, path: yamldoc.PathKey, version: int) -> bytes:
    """The manifest ``data`` with the value at ``path`` set to ``version``, edited in
    place in its text (comments, quoting, order and layout kept).

    The result is parsed again and must differ from the original in that one
    value only (a value written through a YAML alias cannot be edited alone).
    """
    bom, text = _decode(data)
    doc = _parse(text)
    mark = doc.marks.get(yamldoc.normalize(path))
    if mark is None:
        raise EditError(f"no value at {_dotted(path)}")
    edited = replace_scalar(text, mark[0], mark[1], str(version))
    expected = copy.deepcopy(doc.data)
    parent: Any = expected
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = version
    if _parse(edited).data != expected:
        raise EditError(
            f"{_dotted(path)} (line {mark[0]}) cannot be changed alone in the text "
            "(is it written through a YAML anchor and alias?)"
        )
    return bom + edited.encode("utf-8")


def _dotted(path: yamldoc.PathKey) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


# ---- the evidence -----------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def _plain(text: str) -> str:
    """One line of text: no line breaks or control characters."""
    return _CONTROL.sub(" ", text).strip()


def _code(text: str) -> str:
    """``text`` as a Markdown code span: read literally on GitHub (no mention, link or
    HTML) and still plain in ``git log``."""
    return "`" + _plain(text).replace("`", "'") + "`"


def _number(value: float, signed: bool = False) -> str:
    return f"{value:+.6g}" if signed else f"{value:.6g}"


def gate_line(gate: GateResult) -> str:
    """One gate as a list item: result, name, the numbers it compared, its detail."""
    name = f"{gate.policy}: {gate.name}" if gate.policy else gate.name
    numbers = [
        f"{label} {_number(value, signed=label == 'delta')}"
        for label, value in (
            ("candidate", gate.observed),
            ("holder", gate.holder),
            ("delta", gate.delta),
            ("threshold", gate.threshold),
        )
        if value is not None
    ]
    line = f"- {'pass' if gate.passed else 'FAIL'} {_code(name)}"
    if numbers:
        line += ": " + ", ".join(numbers)
    if gate.detail:
        line += f" ({_code(gate.detail)})"
    return line


def commit_message(
    proposal: Proposal, path: yamldoc.PathKey, registry_id: str, created_at: str
) -> str:
    """The proposal's commit message; the workflow makes its subject the pull request's
    title and its body the description."""
    kind = "alias" if proposal.kind == "alias" else "stage"
    holder = (
        f"v{proposal.holder} holds it now"
        if proposal.holder is not None
        else "no version holds it now"
    )
    lines = [
        proposal.title,
        "",
        f"Version {proposal.to_version} of {_code(proposal.model)} passes every gate of "
        f"policy {_code(proposal.policy)} for the {kind} {_code(proposal.target)}: "
        f"the manifest wants v{proposal.from_version}, {holder}.",
        "",
        f"- manifest: {_code(proposal.manifest)}, {_code(_dotted(path))}: "
        f"{proposal.from_version} -> {proposal.to_version}",
        f"- registry: {_code(registry_id)}, read at {created_at}",
        f"- plan digest: {_code(proposal.plan_digest or '-')} (this change planned and gated "
        "against that registry)",
        "",
        "Gates:",
        "",
        *(gate_line(g) for g in proposal.gates),
        "",
        "Proposed by `registry-ops propose`; the plan on this pull request re-reads the "
        "registry and runs the gates again.",
    ]
    return "\n".join(lines) + "\n"


# ---- output -------------------------------------------------------------------------------


def render_text(outcome: Outcome, stream: IO[str]) -> None:
    """One line per proposal and per candidate tried and rejected, then a summary."""
    for proposal in outcome.proposals:
        stream.write(f"{proposal.status:<17} {proposal.branch}  {proposal.summary()}\n")
    for rejection in outcome.rejected:
        stream.write(
            f"{'not proposed':<17} {_plain(rejection.model)} {_plain(rejection.target)} "
            f"v{rejection.version}: {_plain(rejection.reason)}\n"
        )
    stream.write(summary(outcome) + "\n")


def summary(outcome: Outcome) -> str:
    """The final line."""
    made = outcome.count(WOULD_PROPOSE if outcome.dry_run else PROPOSED)
    already = outcome.count(ALREADY_PROPOSED)
    tail = f"; {already} already proposed" if already else ""
    if outcome.errors:
        tail += f"; {len(outcome.errors)} error{'s' * (len(outcome.errors) != 1)}"
    if not outcome.targets and not outcome.errors:
        return "Nothing to propose: no manifest gates an alias or stage."
    if not made:
        n = outcome.targets
        return (
            f"Nothing to propose: no newer READY version passes the gates of its target "
            f"({n} gated target{'s' * (n != 1)} checked{tail})."
        )
    plural = "s" * (made != 1)
    if outcome.dry_run:
        return f"Would propose {made} promotion{plural}{tail} (dry run: no branch created)."
    return (
        f"Proposed {made} promotion{plural} on new local branch{'es' * (made != 1)}{tail}; "
        "nothing was pushed."
    )
