"""Gates on plain data: each gate kind, and evaluate() with a recording metrics fetcher."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from registry_ops.core.changes import Change
from registry_ops.core.gate_result import GateResult
from registry_ops.core.metric_book import MetricBook
from registry_ops.core.metrics import Reading
from registry_ops.core.model import Desired, GateSpec, ModelManifest, Policy, Retention
from registry_ops.core.plan import ModelPlan
from registry_ops.core.planner import plan_models
from registry_ops.core.provenance import with_stamp
from registry_ops.core.state import Observed, ObservedModel, ObservedVersion
from registry_ops.gates import Candidate, GateKind, build, evaluate, register, unregister
from registry_ops.gates.age import AgeGate
from registry_ops.gates.metric import MetricGate
from registry_ops.gates.tags import TagsGate

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
DAY_MS = 86_400_000

# --- builders ----------------------------------------------------------------


def policy(name: str, *gates: dict[str, Any]) -> Policy:
    specs = []
    for index, params in enumerate(gates):
        kind = next(k for k in ("metric", "tags", "max_age_days", "spy") if k in params)
        specs.append(GateSpec(kind, dict(params), index))
    return Policy(name, f"policies/{name}.yaml", tuple(specs))


def one_gate(**params: Any) -> Any:
    (gate,) = build(policy("p", params))
    return gate


def version(
    v: int = 2,
    run_id: str | None = "run2",
    age_days: float = 1.0,
    tags: dict[str, str] | None = None,
    stage: str = "None",
) -> ObservedVersion:
    created = int(NOW.timestamp() * 1000 - age_days * DAY_MS)
    return ObservedVersion(v, stage, run_id, created, dict(tags or {}))


def candidate(metrics: dict[str, float] | None = None, **kw: Any) -> Candidate:
    """A candidate whose source run (if it has one) logged ``metrics``."""
    v = kw.pop("v", version())
    runs = {v.run_id: metrics} if v.run_id and metrics is not None else {}
    book = MetricBook.of_runs(runs, asked=[v.run_id] if v.run_id else [])
    return Candidate("clf", "champion", v, None, book.of(v), now=NOW, **kw)


class Fetcher:
    """A plain-Python metrics source (runs only) that records every call."""

    def __init__(self, metrics: dict[str, dict[str, float]]) -> None:
        self.metrics = metrics
        self.calls: list[list[str]] = []

    def __call__(self, versions: Iterable[ObservedVersion]) -> MetricBook:
        runs, _ = MetricBook.wanted(versions)
        ids = sorted(runs)
        self.calls.append(ids)
        return MetricBook.of_runs({r: self.metrics[r] for r in ids if r in self.metrics}, ids)


def setup(
    manifests: list[ModelManifest], models: list[ObservedModel], *policies: Policy
) -> tuple[list[ModelPlan], Desired, Observed]:
    desired = Desired("/r", {m.model: m for m in manifests}, {p.name: p for p in policies})
    observed = Observed({m.name: m for m in models})
    return plan_models(manifests, observed), desired, observed


def registry(name: str = "clf") -> ObservedModel:
    """v1 Production (r1), v2 new (r2), v3 Staging (r3), v4 new (r4), v5 new without a run."""
    versions = {
        1: version(1, "r1", stage="Production"),
        2: version(2, "r2"),
        3: version(3, "r3", stage="Staging"),
        4: version(4, "r4"),
        5: version(5, None),
    }
    return ObservedModel(name, aliases={"champion": 1}, versions=versions)


PRODUCTION = policy("production", {"metric": "acc", "min": 0.9})
TAGS_ONLY = policy("approved", {"tags": {"validation": "approved"}})

# --- MetricGate --------------------------------------------------------------------


def test_build_makes_gates_in_written_order() -> None:
    built = build(
        policy("p", {"tags": {"a": "b"}}, {"metric": "acc", "min": 0.5}, {"max_age_days": 30})
    )
    assert [type(g) for g in built] == [TagsGate, MetricGate, AgeGate]
    assert [g.needs_metrics for g in built] == [False, True, False]
    assert [g.name for g in built] == ["tags a=b", "acc >= 0.5", "age <= 30 days"]


@pytest.mark.parametrize(
    ("bounds", "value", "passed"),
    [
        ({"min": 0.9}, 0.9, True),  # inclusive
        ({"min": 0.9}, 0.95, True),
        ({"min": 0.9}, 0.8999, False),
        ({"max": 0.35}, 0.35, True),  # inclusive
        ({"max": 0.35}, 0.3501, False),
        ({"min": 0.5, "max": 1.0}, 0.5, True),
        ({"min": 0.5, "max": 1.0}, 1.0, True),
        ({"min": 0.5, "max": 1.0}, 1.01, False),
        ({"min": 0.5, "max": 1.0}, 0.49, False),
        ({"min": 0}, 0, True),
    ],
)
def test_metric_bounds_are_inclusive(bounds: dict[str, float], value: float, passed: bool) -> None:
    result = one_gate(metric="acc", **bounds).evaluate(candidate({"acc": value}))
    assert isinstance(result, GateResult)
    assert result.passed is passed
    assert result.observed == value


def test_metric_failure_details_name_value_and_bound() -> None:
    low = one_gate(metric="acc", min=0.9).evaluate(candidate({"acc": 0.5}))
    assert low.detail == "acc = 0.5, below the minimum 0.9 (run run2, step 0)"
    assert low.threshold == 0.9
    high = one_gate(metric="loss", max=0.35).evaluate(candidate({"loss": 0.4}))
    assert high.detail == "loss = 0.4, above the maximum 0.35 (run run2, step 0)"
    assert high.threshold == 0.35
    gate = one_gate(metric="acc", min=0.5, max=1)
    assert gate.name == "acc >= 0.5 and <= 1"


def test_missing_metric_fails_naming_it() -> None:
    result = one_gate(metric="val_accuracy", min=0.9).evaluate(candidate({"other": 1.0}))
    assert not result.passed
    assert "'val_accuracy'" in result.detail and "run2" in result.detail
    assert result.observed is None


def test_no_source_run_fails() -> None:
    cand = candidate(None, v=version(run_id=None))
    result = one_gate(metric="acc", min=0.1).evaluate(cand)
    assert not result.passed
    assert "no source run" in result.detail and "'acc'" in result.detail


@pytest.mark.parametrize("bounds", [{"min": 0.0}, {"max": 1.0}, {"min": 0.0, "max": 1.0}])
def test_nan_fails(bounds: dict[str, float]) -> None:
    result = one_gate(metric="acc", **bounds).evaluate(candidate({"acc": math.nan}))
    assert not result.passed
    assert "NaN" in result.detail


# --- TagsGate and AgeGate ------------------------------------------------------------


def test_tags_gate_passes_with_exact_values() -> None:
    cand = candidate(v=version(tags={"validation": "approved", "extra": "x"}))
    result = one_gate(tags={"validation": "approved"}).evaluate(cand)
    assert result.passed and result.name == "tags validation=approved"


def test_tags_gate_fails_naming_every_wrong_tag() -> None:
    cand = candidate(v=version(tags={"validation": "pending"}))
    result = one_gate(tags={"validation": "approved", "owner": "ml"}).evaluate(cand)
    assert not result.passed
    assert result.detail == "owner is missing; validation is 'pending', not 'approved'"


def test_tags_gate_does_not_need_metrics_or_a_run() -> None:
    cand = candidate(None, v=version(run_id=None, tags={"a": "b"}))
    assert one_gate(tags={"a": "b"}).evaluate(cand).passed


@pytest.mark.parametrize(
    ("age_days", "passed"), [(0.0, True), (29.5, True), (30.0, True), (30.001, False), (400, False)]
)
def test_age_gate_boundary_inclusive(age_days: float, passed: bool) -> None:
    result = one_gate(max_age_days=30).evaluate(candidate(v=version(age_days=age_days)))
    assert result.passed is passed
    assert result.threshold == 30
    assert ("older than 30 days" in result.detail) is not passed


def test_age_gate_one_millisecond_past_the_limit_fails() -> None:
    v = ObservedVersion(2, creation_timestamp=int(NOW.timestamp() * 1000) - 30 * DAY_MS - 1)
    assert not one_gate(max_age_days=30).evaluate(candidate(v=v)).passed


# --- evaluate(): what is fetched, when -------------------------------------------------


def manifest(**kw: Any) -> ModelManifest:
    stages = {k: (v,) if isinstance(v, int) else tuple(v) for k, v in kw.pop("stages", {}).items()}
    name = kw.pop("model", "clf")
    return ModelManifest(name, f"manifests/{name}.yaml", stages=stages, **kw)


def test_fetch_once_only_for_candidates_and_displaced_holders() -> None:
    wanted = manifest(
        aliases={"champion": 2, "challenger": 4},  # challenger: a promotion without gates
        stages={"Production": 2},
        gates={"champion": "production", "Production": "production"},
        # archives v5; v3 holds Staging, which this manifest does not own
        retention=Retention(archive_unlisted=True),
    )
    plans, desired, observed = setup([wanted], [registry()], PRODUCTION)
    archived = [c.version for c in plans[0].changes if c.stage == "Archived"]
    assert archived == [1, 5]  # the scenario has non-promotions with runs
    fetch = Fetcher({"r1": {"acc": 0.8}, "r2": {"acc": 0.95}, "r3": {"acc": 0.1}})

    evaluate(plans, desired, observed, fetch, now=NOW)

    assert fetch.calls == [["r1", "r2"]]
    by_target = {c.target: c for c in plans[0].changes if c.gates}
    assert set(by_target) == {"alias:champion", "stage:Production"}
    for change in by_target.values():
        assert [(g.policy, g.passed) for g in change.gates] == [("production", True)]
        assert not change.blocked
    others = [c for c in plans[0].changes if c.target not in by_target]
    assert all(c.gates == [] and not c.blocked for c in others)
    assert not plans[0].blocked


def test_one_fetch_for_several_models() -> None:
    a = manifest(model="a", aliases={"champion": 2}, gates={"champion": "production"})
    b = manifest(model="b", stages={"Staging": 4}, gates={"Staging": "production"})
    plans, desired, observed = setup([a, b], [registry("a"), registry("b")], PRODUCTION)
    fetch = Fetcher({})
    evaluate(plans, desired, observed, fetch, now=NOW)
    # a: v2 displaces the champion v1; b: v4 displaces the Staging holder v3
    assert fetch.calls == [["r1", "r2", "r3", "r4"]]
    assert all(p.blocked for p in plans)  # metrics missing -> gates fail


def test_no_fetch_when_no_gate_needs_metrics() -> None:
    wanted = manifest(aliases={"champion": 2}, gates={"champion": "approved"})
    plans, desired, observed = setup([wanted], [registry()], TAGS_ONLY)

    def refuse(_: Iterable[str]) -> dict[str, dict[str, float]]:
        raise AssertionError("metrics fetched although no gate needs them")

    evaluate(plans, desired, observed, refuse, now=NOW)
    (change,) = plans[0].changes
    assert change.blocked and change.gates[0].detail == "validation is missing"


def test_no_fetch_when_nothing_is_promoted() -> None:
    wanted = manifest(
        aliases={"champion": 1},  # already held
        stages={"Production": 1},
        gates={"champion": "production", "Production": "production"},
        retention=Retention(archive_unlisted=True),
    )
    # v1 holds both targets with a record of an apply putting it there: nothing to
    # stamp (a stamp-only change of a holder no record vouches for runs its gates).
    held = {"held": {"alias:champion": "2024-01-01", "stage:Production": "2024-01-01"}}
    model = with_stamp(registry(), 1, json.dumps(held))
    plans, desired, observed = setup([wanted], [model], PRODUCTION)
    assert plans[0].changes  # only archiving
    assert all(c.reason == "retention" for c in plans[0].changes)
    fetch = Fetcher({})
    evaluate(plans, desired, observed, fetch, now=NOW)
    assert fetch.calls == []
    assert all(c.gates == [] for c in plans[0].changes)


def test_candidate_without_run_is_not_fetched_and_fails() -> None:
    wanted = manifest(aliases={"champion": 5}, gates={"champion": "production"})
    plans, desired, observed = setup([wanted], [registry()], PRODUCTION)
    fetch = Fetcher({"r1": {"acc": 0.99}})
    evaluate(plans, desired, observed, fetch, now=NOW)
    assert fetch.calls == [["r1"]]  # only the displaced holder has a run
    (change,) = plans[0].changes
    assert change.blocked and "no source run" in change.gates[0].detail


def test_blocked_when_any_gate_fails() -> None:
    strict = policy(
        "production", {"metric": "acc", "min": 0.9}, {"tags": {"validation": "approved"}}
    )
    wanted = manifest(aliases={"champion": 2}, gates={"champion": "production"})
    plans, desired, observed = setup([wanted], [registry()], strict)
    evaluate(plans, desired, observed, Fetcher({"r2": {"acc": 0.95}}), now=NOW)
    (change,) = plans[0].changes
    assert [g.passed for g in change.gates] == [True, False]
    assert change.blocked and plans[0].blocked


def test_not_blocked_when_all_gates_pass() -> None:
    wanted = manifest(stages={"Production": 2}, gates={"Production": "production"})
    plans, desired, observed = setup([wanted], [registry()], PRODUCTION)
    evaluate(plans, desired, observed, Fetcher({"r2": {"acc": 0.9}}), now=NOW)
    promotion, archive = plans[0].changes
    assert promotion.gates[0].passed and not promotion.blocked
    assert archive.stage == "Archived" and archive.gates == []
    assert not plans[0].blocked


class SpyGate(GateKind):
    """Records the candidate it is given."""

    key = "spy"
    schema = {"type": "object"}
    needs_metrics = True
    seen: list[Candidate] = []

    def __init__(self, spec: GateSpec) -> None:
        self.name = "spy"

    def evaluate(self, cand: Candidate) -> GateResult:
        SpyGate.seen.append(cand)
        return GateResult(self.name, True, "seen")


@pytest.fixture
def spy_kind() -> Iterator[type[SpyGate]]:
    """SpyGate registered for one test only."""
    register(SpyGate)
    try:
        yield SpyGate
    finally:
        unregister(SpyGate.key)


def test_candidate_carries_holder_metrics_target_and_clock(
    monkeypatch: pytest.MonkeyPatch, spy_kind: type[SpyGate]
) -> None:
    monkeypatch.setattr(SpyGate, "seen", [])
    wanted = manifest(aliases={"champion": 2}, gates={"champion": "spy"})
    plans, desired, observed = setup([wanted], [registry()], policy("spy", {"spy": True}))
    metrics = {"r1": {"acc": 0.8}, "r2": {"acc": 0.95}}
    evaluate(plans, desired, observed, Fetcher(metrics), now=NOW)
    (cand,) = SpyGate.seen
    assert (cand.model, cand.target, cand.version.version) == ("clf", "champion", 2)
    assert cand.holder is not None and cand.holder.version == 1
    assert cand.metrics is not None and cand.holder_metrics is not None
    assert (cand.metrics.read("acc"), cand.holder_metrics.read("acc")) == (
        Reading("acc", 0.95, run_id="r2"),
        Reading("acc", 0.8, run_id="r1"),
    )
    assert cand.now == NOW
    assert plans[0].changes[0].gates[0].policy == "spy"


def test_evaluate_replaces_stale_gate_results() -> None:
    wanted = manifest(aliases={"champion": 2}, gates={"champion": "production"})
    plans, desired, observed = setup([wanted], [registry()], PRODUCTION)
    change: Change = plans[0].changes[0]
    change.gates = [GateResult("old", False, "from a previous run")]
    assert change.blocked
    evaluate(plans, desired, observed, Fetcher({"r2": {"acc": 0.95}}), now=NOW)
    assert [g.name for g in change.gates] == ["acc >= 0.9"] and not change.blocked
