"""``registry-ops propose``: find versions that pass their targets' gates and commit the
manifest change on a new local branch (the bot that opens promotion pull requests).

For every gated target of a manifest (an alias, or the Production or Staging
stage, that ``gates:`` names a policy for), the READY versions newer than the
one the manifest wants are candidates; for a target the manifest owns and
leaves empty (``challenger: null``, ``Staging: []``), those newer than every version
it gives an alias or promotion stage. A model's candidates are tried newest
first, each judged by the real pipeline: the manifest is changed in memory to
give the candidate every target it is a candidate for, planned against the live
registry (:func:`planner.plan_models`) and gated by :func:`gates.evaluate` with
the same evidence providers as ``plan``. The first candidate whose change for a
target ran its gates and passed every one of them is proposed, for every target
it passes (Production rather than Staging when it passes both: a version holds
one stage); an ungated target is never proposed.

A proposal is one commit on ``registry-ops/propose/<model>/v<N>``, made from
HEAD: one pull request per model and run, so that merging it cannot leave a
sibling proposal for the same version stale. The commit is the manifest's text
with the value of each of those targets replaced (found by its source position,
so comments and layout stay as written), and a message that carries the
evidence (each target's gates, their results and numbers, the plan digest).
The user's checkout (HEAD, index, working tree) is never touched and nothing
is pushed: the propose workflow pushes the branches and opens the pull requests.

A branch that already exists, locally or as a remote-tracking branch, means its
version was proposed before: it is reported as already proposed, and no older
version is tried for that model, so a second run proposes nothing new.
"""

from __future__ import annotations

import codecs
import copy
import hashlib
import json
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
from registry_ops.core.model import Desired, ModelManifest
from registry_ops.core.plan import ModelPlan, Plan
from registry_ops.core.planner import plan_models
from registry_ops.core.state import Observed, ObservedModel
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
    wanted: int | None  # for a stage listing several versions: the newest; None: empty
    # Candidates are newer than this: ``wanted``, or for an empty target the newest
    # version the manifest gives out (an older one would be a step back, not a fill).
    floor: int = 0

    @property
    def key(self) -> str:
        """``alias:NAME`` or ``stage:NAME``, as changes name their target."""
        return f"{self.kind}:{self.name}"


@dataclass
class Move:
    """One target a proposal gives its version, and the gates it passed for it."""

    target: Target
    holder: int | None = None  # the version holding the target in the registry now
    gates: list[GateResult] = field(default_factory=list)

    def wants(self) -> str:
        """What the manifest says of the target now, in words."""
        wanted = self.target.wanted
        return (
            f"{self.target.name} v{wanted}" if wanted is not None else f"{self.target.name} empty"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (one of a proposal's ``targets``)."""
        return {
            "target": self.target.name,
            "kind": self.target.kind,
            "policy": self.target.policy,
            "from_version": self.target.wanted,
            "holder_version": self.holder,
            "gates": [g.to_dict() for g in self.gates],
        }


@dataclass
class Proposal:
    """One version of one model found to pass the gates of one or more of its targets
    (one branch, one pull request), or found proposed already."""

    model: str
    manifest: str
    to_version: int
    branch: str
    status: str
    # Every target the version passes, in the manifest's order (aliases, then stages);
    # none for a proposal found already made (its branch says which).
    moves: list[Move] = field(default_factory=list)
    commit: str | None = None
    plan_digest: str | None = None

    @property
    def title(self) -> str:
        """The commit's subject, which becomes the pull request's title."""
        names = [m.target.name for m in self.moves]
        to = ""
        if names:
            listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
            to = f" to {listed}"
        return _plain(f"Promote {self.model} v{self.to_version}{to}")

    def summary(self) -> str:
        """One line for the text output."""
        if self.status == ALREADY_PROPOSED:
            return f"{self.title} (branch exists at {(self.commit or '?')[:12]})"
        n = sum(len(m.gates) for m in self.moves)
        wants = ", ".join(m.wants() for m in self.moves)
        return f"{self.title} (manifest: {wants}; {n} gate{'s' * (n != 1)} passed)"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``propose --format json``)."""
        return {
            "status": self.status,
            "branch": self.branch,
            "model": self.model,
            "manifest": self.manifest,
            "to_version": self.to_version,
            "targets": [m.to_dict() for m in self.moves],
            "commit": self.commit,
            "plan_digest": self.plan_digest,
            "title": self.title,
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
    """The manifest's targets that a policy gates: aliases, then Production and Staging
    (empty ones included: they are there to be filled)."""
    given = [v for v in manifest.aliases.values() if v is not None]
    given += [v for stage in PROMOTION_STAGES for v in manifest.stages.get(stage, ())]
    newest = max(given, default=0)
    out: list[Target] = []
    for name, version in sorted(manifest.aliases.items()):
        policy = manifest.gates.get(name)
        if policy is not None:
            floor = newest if version is None else version
            out.append(Target(manifest.model, "alias", name, policy, version, floor))
    for stage in PROMOTION_STAGES:
        policy = manifest.gates.get(stage)
        if policy is not None and stage in manifest.stages:
            versions = manifest.stages[stage]
            wanted = max(versions) if versions else None
            floor = newest if wanted is None else wanted
            out.append(Target(manifest.model, "stage", stage, policy, wanted, floor))
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
        if number > target.floor
        and version.status == "READY"
        and number not in excluded
        and number not in holding
    ]


def hypothetical(manifest: ModelManifest, targets: Sequence[Target], version: int) -> ModelManifest:
    """The manifest with each of ``targets`` moved to ``version`` (a stage's list keeps
    its other versions: the one the manifest wants now is replaced; an empty one gets
    ``version``)."""
    aliases, stages = dict(manifest.aliases), dict(manifest.stages)
    for target in targets:
        if target.kind == "alias":
            aliases[target.name] = version
        else:
            moved = tuple(version if v == target.wanted else v for v in stages[target.name])
            stages[target.name] = moved or (version,)
    return replace(manifest, aliases=aliases, stages=stages)


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


def branch_name(model: str, version: int) -> str:
    """``registry-ops/propose/<model>/v<N>``, made safe for git: one branch (one pull
    request) per model and version, whatever targets it covers."""
    return f"{BRANCH_PREFIX}/{ref_part(model)}/v{version}"


# ---- the run -------------------------------------------------------------------------


class _Metrics:
    """A metrics fetcher that reads each run once: prefetched in one batch, the rest
    (runs of other pending promotions) on demand."""

    def __init__(self, fetch: gates.MetricsFetcher) -> None:
        self.fetch = fetch
        self.cache: dict[str, dict[str, float]] = {}

    def __call__(self, run_ids: Iterable[str]) -> dict[str, dict[str, float]]:
        wanted = set(run_ids)
        missing = wanted - set(self.cache)
        if missing:
            read = self.fetch(missing)
            for run_id in missing:
                self.cache[run_id] = read.get(run_id, {})
        return {r: self.cache[r] for r in wanted if self.cache[r]}


@dataclass
class _Search:
    """One model's candidates still to try, newest first (newer than any existing
    proposal), and which of its gated targets each is a candidate for."""

    manifest: ModelManifest
    model: ObservedModel
    targets: list[Target]
    per_target: dict[str, list[int]]  # target key -> its candidates
    tries: list[int]
    existing: tuple[int, str] | None  # version and commit of a proposal branch found

    def targets_of(self, version: int) -> list[Target]:
        """The gated targets ``version`` is a candidate for."""
        return [t for t in self.targets if version in self.per_target[t.key]]


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
    """Find, for each manifest for ``names`` (all when empty), the newest READY version
    that passes the gates of one or more of its gated targets, and commit it for every
    target it passes on one new branch.

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
        targets = gated_targets(manifest)
        if targets:
            outcome.targets += len(targets)
            searches.append(_search(root, manifest, model, targets))
        for target in targets:
            outcome.rejected.extend(_in_other_stage(manifest, target))

    metrics = _Metrics(registry.run_metrics)
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
                    _commit(proposal, root, endpoint.registry_id, created_at, outcome)
                    if proposal.commit is None:
                        continue
                outcome.proposals.append(proposal)
            elif search.existing is not None:
                version, commit = search.existing
                outcome.proposals.append(_already(search, version, commit))
    finally:
        evidence.close()
    return outcome


def _search(
    root: Path, manifest: ModelManifest, model: ObservedModel, targets: list[Target]
) -> _Search:
    """Every target's candidates, newest first across them, up to the first version
    proposed before (its branch exists): nothing older is tried for the model."""
    per_target = {t.key: candidates(manifest, model, t) for t in targets}
    tries: list[int] = []
    for version in sorted({v for found in per_target.values() for v in found}, reverse=True):
        commit = gitinfo.find_branch(root, branch_name(manifest.model, version))
        if commit is not None:
            return _Search(manifest, model, targets, per_target, tries, (version, commit))
        tries.append(version)
    return _Search(manifest, model, targets, per_target, tries, None)


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
        if version > target.floor
    ]


def _prefetch(searches: list[_Search], desired: Desired) -> set[str]:
    """Runs whose metrics the gates will read: every candidate's and the holders'."""
    runs: set[str] = set()
    for search in searches:
        model = search.model
        for target in search.targets:
            policy = desired.policies.get(target.policy)
            tries = [v for v in search.tries if v in search.per_target[target.key]]
            if not tries or policy is None:
                continue
            if not any(g.needs_metrics for g in gates.build(policy)):
                continue
            if target.kind == "alias":
                holders = [model.aliases.get(target.name)]
            else:
                holders = list(model.stage_holders(target.name))
            for number in [*tries, *holders]:
                version = model.versions.get(number) if number is not None else None
                if version is not None and version.run_id:
                    runs.add(version.run_id)
    return runs


def _first_passing(
    search: _Search,
    desired: Desired,
    observed: Observed,
    metrics: _Metrics,
    context: gates.GateContext,
    outcome: Outcome,
) -> tuple[Proposal, ModelPlan] | None:
    """The newest candidate that passes every gate of one or more of its targets, with
    the plan of the manifest giving it all of them."""
    for version in search.tries:
        targets = search.targets_of(version)
        judged = _judge(search, targets, version, desired, observed, metrics, context, outcome)
        if judged is None:
            return None
        model_plan, moves = judged
        passing = _one_stage(moves, version, outcome)
        if not passing:
            continue
        if len(passing) < len(targets):
            # The plan of what is proposed: re-planned without the targets it fails
            # (the context has every gate's evidence already).
            scratch = Outcome()  # its rejections were reported above already
            judged = _judge(
                search, [m.target for m in passing], version, desired, observed, metrics,
                context, scratch,
            )  # fmt: skip
            outcome.errors.extend(scratch.errors)
            if judged is None:
                return None
            model_plan, passing = judged
        status = WOULD_PROPOSE if outcome.dry_run else PROPOSED
        return _proposal(search, version, status, moves=passing), model_plan
    return None


def _judge(
    search: _Search,
    targets: list[Target],
    version: int,
    desired: Desired,
    observed: Observed,
    metrics: _Metrics,
    context: gates.GateContext,
    outcome: Outcome,
) -> tuple[ModelPlan, list[Move]] | None:
    """Plan and gate the manifest giving ``version`` every one of ``targets``, as
    ``plan`` would; the moves that pass, the others rejected in ``outcome``. None when
    the manifest cannot be planned (an error in ``outcome``)."""
    manifest = hypothetical(search.manifest, targets, version)
    try:
        model_plans = plan_models([manifest], observed)
    except InvalidInput as exc:
        outcome.errors.extend(str(p) for p in exc.problems)
        return None
    what_if = replace(desired, manifests={**desired.manifests, manifest.model: manifest})
    gates.evaluate(model_plans, what_if, observed, metrics, context=context)
    model_plan = model_plans[0]
    moves: list[Move] = []
    for target in targets:
        change = _change_for(model_plan, target, version)
        reason = _why_not(change)
        if reason is not None:
            outcome.rejected.append(Rejection(target.model, target.name, version, reason))
            continue
        assert change is not None
        moves.append(Move(target, holder=change.from_version, gates=list(change.gates)))
    return model_plan, moves


def _one_stage(moves: list[Move], version: int, outcome: Outcome) -> list[Move]:
    """``moves`` with at most one stage: a version passing both Production's and
    Staging's gates is proposed for Production (a policy asks for Staging first with
    ``requires_previous: Staging``)."""
    if not any(m.target.key == "stage:Production" for m in moves):
        return moves
    kept = []
    for move in moves:
        if move.target.key == "stage:Staging":
            outcome.rejected.append(
                Rejection(
                    move.target.model,
                    move.target.name,
                    version,
                    "passes Production's gates too: a version holds one stage at a time, "
                    "and it is proposed for Production",
                )
            )
            continue
        kept.append(move)
    return kept


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
    """A proposal giving ``version`` the search's model's targets in ``moves``."""
    return Proposal(
        model=search.manifest.model,
        manifest=search.manifest.file,
        to_version=version,
        branch=branch_name(search.manifest.model, version),
        status=status,
        **extra,
    )


def _commit(
    proposal: Proposal, root: Path, registry_id: str, created_at: str, outcome: Outcome
) -> None:
    """Write the edit of every target's value in the manifest as it is at HEAD, as one
    commit on the proposal's branch."""
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
        edited, paths = committed, []
        for move in proposal.moves:
            # One value at a time, each found in the text as the previous edit left it
            # (two values on one line move each other's columns).
            path = _value_path(edited, move.target)
            edited = edit_version(edited, path, proposal.to_version)
            paths.append(path)
        message = commit_message(proposal, paths, registry_id, created_at)
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
# An empty flow sequence: a stage owned and left empty.
_EMPTY_LIST = re.compile(r"\[\s*\]")


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
    if isinstance(value, list) and target.wanted is not None:
        return ("stages", target.name, value.index(target.wanted))
    return ("stages", target.name)  # its one version, or its empty list


def _parse(text: str) -> yamldoc.YamlDoc:
    try:
        doc = yamldoc.parse(text)
    except yamldoc.YamlSyntaxError as exc:
        raise EditError(str(exc)) from None
    if not isinstance(doc.data, dict):
        raise EditError("not a manifest (no mapping at the top)")
    return doc


def replace_scalar(text: str, line: int, column: int, new: str, empty: bool = False) -> str:
    """``text`` with the plain scalar whose node starts at ``line``:``column`` (1-based,
    as yamldoc marks them) replaced by ``new``; everything else byte for byte.

    With ``empty`` the node is an empty value instead: an empty flow list (``[]``,
    replaced) or nothing at all (``challenger:``, where ``new`` is inserted).
    """
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    if not 1 <= line <= len(starts):
        raise EditError(f"line {line} is outside the file")
    offset = starts[line - 1] + column - 1
    properties = _PROPERTIES.match(text, offset)
    start = properties.end() if properties else offset
    token = (_EMPTY_LIST if empty and text.startswith("[", start) else _PLAIN).match(text, start)
    if token is None and empty:
        # An empty scalar has no text: its mark is where it would start.
        gap = "" if start > 0 and text[start - 1] in " \t" else " "
        return text[:start] + gap + new + text[start:]
    if token is None:
        raise EditError(f"no plain value at line {line}, column {column}")
    return text[:start] + new + text[token.end() :]


def edit_version(data: bytes, path: yamldoc.PathKey, version: int) -> bytes:
    """The manifest ``data`` with the value at ``path`` set to ``version``, edited in
    place in its text (comments, quoting, order and layout kept). An empty target
    is filled: ``null`` (or nothing) becomes the version, ``[]`` a list of it.

    The result is parsed again and must differ from the original in that one
    value only (a value written through a YAML alias cannot be edited alone).
    """
    bom, text = _decode(data)
    doc = _parse(text)
    mark = doc.marks.get(yamldoc.normalize(path))
    if mark is None:
        raise EditError(f"no value at {_dotted(path)}")
    expected = copy.deepcopy(doc.data)
    parent: Any = expected
    for key in path[:-1]:
        parent = parent[key]
    current = parent[path[-1]]
    value: int | list[int] = [version] if current == [] else version
    empty = current is None or current == []
    edited = replace_scalar(text, mark[0], mark[1], json.dumps(value), empty=empty)
    parent[path[-1]] = value
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
    proposal: Proposal, paths: Sequence[yamldoc.PathKey], registry_id: str, created_at: str
) -> str:
    """The proposal's commit message; the workflow makes its subject the pull request's
    title and its body the description. ``paths`` are where each move's value stands in
    the manifest, in the order of ``proposal.moves``."""
    lines = [
        proposal.title,
        "",
        f"Version {proposal.to_version} of {_code(proposal.model)} passes every gate of "
        f"the policy of each target below.",
        "",
        f"- manifest: {_code(proposal.manifest)}",
        f"- registry: {_code(registry_id)}, read at {created_at}",
        f"- plan digest: {_code(proposal.plan_digest or '-')} (these changes planned and "
        "gated together against that registry)",
    ]
    for move, path in zip(proposal.moves, paths, strict=True):
        target = move.target
        holder = f"v{move.holder} holds it now" if move.holder is not None else "nobody holds it"
        if target.wanted is None:
            wants = "the manifest leaves it empty"
            edit = f"{'null' if target.kind == 'alias' else '[]'} -> {proposal.to_version}"
        else:
            wants = f"the manifest wants v{target.wanted}"
            edit = f"{target.wanted} -> {proposal.to_version}"
        lines += [
            "",
            f"{target.kind.capitalize()} {_code(target.name)}, policy {_code(target.policy)}: "
            f"{wants}, {holder}; {_code(_dotted(path))}: {edit}",
            "",
            *(gate_line(g) for g in move.gates),
        ]
    lines += [
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
