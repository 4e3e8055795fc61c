"""Promotion gates: one small interface, one module per kind.

A gate sees a :class:`Candidate` (the version being promoted, the version it
displaces, and their run metrics) and returns a :class:`GateResult`. Gates
run only for promotions, i.e. changes that give a version a target it does
not hold now; re-running a converged plan therefore evaluates nothing.
Evidence is gathered once per plan: the metrics of every candidate and
displaced holder, in one batched read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from registry_ops.model import Desired, GateSpec, Policy
from registry_ops.plan import Change, GateResult, ModelPlan
from registry_ops.state import Observed, ObservedVersion, version_facts


@dataclass(frozen=True)
class Candidate:
    """What a gate may look at for one promotion."""

    model: str
    target: str
    version: ObservedVersion
    holder: ObservedVersion | None
    metrics: dict[str, float] | None = None  # None: the version has no source run
    holder_metrics: dict[str, float] | None = None
    now: datetime = field(default_factory=datetime.now)


class Gate(Protocol):
    """One check of a policy."""

    name: str
    needs_metrics: bool

    def evaluate(self, candidate: Candidate) -> GateResult:
        """Decide for one candidate; never raise for missing evidence, fail instead."""
        ...


GateFactory = Callable[[GateSpec], Gate]
_KINDS: dict[str, GateFactory] = {}


def register(kind: str) -> Callable[[GateFactory], GateFactory]:
    """Class decorator: make a gate kind available to policies under ``kind``."""

    def wrap(factory: GateFactory) -> GateFactory:
        _KINDS[kind] = factory
        return factory

    return wrap


def build(policy: Policy) -> list[Gate]:
    """The gates of a policy, in the order written."""
    _load_kinds()
    return [_KINDS[spec.kind](spec) for spec in policy.gates]


def _load_kinds() -> None:
    # Imported for their @register side effect; kept lazy to avoid import cycles.
    from registry_ops.gates import age, metric, tags  # noqa: F401


MetricsFetcher = Callable[[Iterable[str]], dict[str, dict[str, float]]]


def evaluate(
    plans: list[ModelPlan],
    desired: Desired,
    observed: Observed,
    fetch_metrics: MetricsFetcher,
    now: datetime | None = None,
) -> None:
    """Run the gates of every promotion in ``plans``, recording results on each change.

    Metrics are fetched in one batch, and only for runs of candidates and of
    the versions they displace, and only when some gate needs them.
    """
    now = now or datetime.now().astimezone()
    work: list[tuple[Change, Policy, list[Gate], ObservedVersion, ObservedVersion | None]] = []
    by_change: dict[int, ModelPlan] = {}
    for model_plan in plans:
        manifest = desired.manifests[model_plan.model]
        model = observed.models[model_plan.model]
        for change in model_plan.changes:
            policy_name = manifest.gates.get(change.target_name or "")
            if not change.is_promotion or policy_name is None or change.version is None:
                continue
            change.gated = True
            policy = desired.policies[policy_name]
            holder = model.versions.get(change.from_version) if change.from_version else None
            work.append((change, policy, build(policy), model.versions[change.version], holder))
            by_change[id(change)] = model_plan

    run_ids: set[str] = set()
    for _, _, gates, version, holder in work:
        if any(g.needs_metrics for g in gates):
            run_ids.update(v.run_id for v in (version, holder) if v is not None and v.run_id)
    metrics = fetch_metrics(run_ids) if run_ids else {}

    for change, policy, gates, version, holder in work:
        candidate = Candidate(
            model=change.model,
            target=change.target_name or "",
            version=version,
            holder=holder,
            metrics=metrics.get(version.run_id, {}) if version.run_id else None,
            holder_metrics=(
                metrics.get(holder.run_id, {}) if holder is not None and holder.run_id else None
            ),
            now=now,
        )
        change.gates = []
        for gate in gates:
            result = gate.evaluate(candidate)
            result.policy = policy.name
            result.evidence = {
                "version": version.version,
                "run_id": version.run_id,
                **result.evidence,
            }
            change.gates.append(result)
        _pin_evidence(by_change[id(change)], gates, version, holder, metrics)


def _pin_evidence(
    model_plan: ModelPlan,
    gates: list[Gate],
    version: ObservedVersion,
    holder: ObservedVersion | None,
    metrics: dict[str, dict[str, float]],
) -> None:
    """Record what the gates read, so a saved plan is refused once any of it changed."""
    facts = model_plan.evidence.setdefault("versions", {})
    runs = model_plan.evidence.setdefault("metrics", {})
    names = {m for g in gates if isinstance(m := getattr(g, "metric", None), str)}
    for v in (version, holder):
        if v is None:
            continue
        facts[str(v.version)] = version_facts(v)
        if v.run_id and names:
            read = metrics.get(v.run_id, {})
            runs.setdefault(v.run_id, {}).update({n: read.get(n) for n in sorted(names)})


def fmt(value: float) -> str:
    """Numbers in gate details: short, without float noise."""
    return f"{value:.6g}"
