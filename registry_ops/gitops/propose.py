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

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from registry_ops import gates
from registry_ops import gitrepo as gitinfo
from registry_ops.core.authentic import authenticated
from registry_ops.core.model import Desired
from registry_ops.core.plan import Plan
from registry_ops.core.records import RecordKey
from registry_ops.core.state import Observed
from registry_ops.errors import RegistryOpsError
from registry_ops.gitops.candidates import (
    Metrics,
    Search,
    already,
    first_passing,
    gated_targets,
    in_other_stage,
    prefetch,
    start_search,
)
from registry_ops.gitops.proposal_commit import commit_proposal
from registry_ops.gitops.proposals import Outcome
from registry_ops.pipeline.plan import Endpoint, prepare, select

if TYPE_CHECKING:  # the adapter imports mlflow
    from registry_ops.registry import Registry


def run(
    endpoint: Endpoint,
    names: Sequence[str],
    connect: Callable[[], Registry],
    warn: Callable[[str], None],
    progress: Callable[[str], None] | None = None,
    dry_run: bool = False,
) -> Outcome:
    """``registry-ops propose``: check the repository, load the manifests for ``names``
    (all when empty) and read the registry, then :func:`propose`.

    ``warn`` is told of each warning loading the manifests gave, before the search.
    """
    check_repository(endpoint.root)
    desired, registry, observed = prepare(endpoint, names, connect)
    for warning in desired.warnings:
        warn(warning)
    return propose(desired, names, endpoint, registry, observed, progress, dry_run=dry_run)


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
    # The gates read provenance (requires_previous, rollbacks): only authenticated records.
    observed = authenticated(observed, RecordKey.from_env())
    # MLflow's searches leave prompts out: a name they did not find may be one.
    prompts = registry.prompts(m.model for m in manifests if observed.get(m.model) is None)

    searches: list[Search] = []
    for manifest in manifests:
        model = observed.get(manifest.model)
        if (model is not None and model.is_prompt) or manifest.model in prompts:
            outcome.errors.append(
                f"{manifest.file}: '{manifest.model}' is an MLflow prompt, not a registered "
                "model; registry-ops does not manage prompts"
            )
            continue
        if model is None:
            outcome.errors.append(
                f"{manifest.file}: registered model '{manifest.model}' does not exist in MLflow"
            )
            continue
        targets = gated_targets(manifest)
        if targets:
            outcome.targets += len(targets)
            searches.append(start_search(root, manifest, model, targets))
        for target in targets:
            outcome.rejected.extend(in_other_stage(manifest, target))

    metrics = Metrics(registry.read_sources)
    metrics(prefetch(searches, desired))
    evidence = RegistryEvidence(registry, progress)
    context = gates.GateContext(root=root.resolve(), models=evidence)
    created_at = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        for search in searches:
            found = first_passing(search, desired, observed, metrics, context, outcome)
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
                    commit_proposal(proposal, root, endpoint.registry_id, created_at, outcome)
                    if proposal.commit is None:
                        continue
                outcome.proposals.append(proposal)
            elif search.existing is not None:
                version, commit = search.existing
                outcome.proposals.append(already(search, version, commit))
    finally:
        evidence.close()
    return outcome
