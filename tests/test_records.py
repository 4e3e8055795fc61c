"""Authenticated records (pure logic): a MAC binds kind, model, version and content."""

from __future__ import annotations

import json

from registry_ops.core.authentic import authenticated, seal_provenance, unverified
from registry_ops.core.metric_book import MetricBook
from registry_ops.core.model import Desired, GateSpec, ModelManifest, Policy
from registry_ops.core.planner import plan_models
from registry_ops.core.provenance import PROVENANCE_TAG, held_since, record
from registry_ops.core.records import MAC_FIELD, RecordKey, Trust
from registry_ops.core.state import Observed, ObservedModel, ObservedVersion
from registry_ops.gates import evaluate
from registry_ops.pipeline.logrecord import (
    TAG_ACTOR,
    TAG_COMMIT,
    TAG_MAC,
    model_tag,
    run_mac,
    run_trust,
)

KEY = RecordKey.from_env({"REGISTRY_OPS_PLAN_KEY": "s3cret"})


def test_a_sealed_record_verifies_and_any_edit_or_move_does_not() -> None:
    record = KEY.seal("provenance", "clf", 3, {"commit": "abc", "held": {"alias:champion": "t"}})
    assert KEY.check("provenance", "clf", 3, record) is Trust.VERIFIED
    assert KEY.check("provenance", "clf", 4, record) is Trust.UNVERIFIED  # another version
    assert KEY.check("provenance", "other", 3, record) is Trust.UNVERIFIED  # another model
    assert KEY.check("eval", "clf", 3, record) is Trust.UNVERIFIED  # another kind
    edited = {**record, "commit": "def"}
    assert KEY.check("provenance", "clf", 3, edited) is Trust.UNVERIFIED
    unsigned = {k: v for k, v in record.items() if k != MAC_FIELD}
    assert KEY.check("provenance", "clf", 3, unsigned) is Trust.UNVERIFIED
    other_key = RecordKey.from_env({"REGISTRY_OPS_PLAN_KEY": "other"})
    assert other_key.check("provenance", "clf", 3, record) is Trust.UNVERIFIED


def test_garbage_macs_are_unverified_not_errors() -> None:
    for mac in ("hmac-sha256:\u00e9", 7, None, "", "hmac-sha256:" + "0" * 64):
        assert KEY.check("eval", "m", 1, {"a": 1, MAC_FIELD: mac}) is Trust.UNVERIFIED
    assert KEY.check("eval", "m", 1, {"a": float("nan"), MAC_FIELD: "x"}) is Trust.UNVERIFIED


def test_without_a_key_records_are_unkeyed_and_sealing_adds_nothing() -> None:
    none = RecordKey.from_env({})
    assert not none.enabled
    assert none.seal("eval", "m", 1, {"a": 1}) == {"a": 1}
    assert none.check("eval", "m", 1, {"a": 1}) is Trust.UNKEYED
    assert Trust.UNKEYED.usable and Trust.VERIFIED.usable and not Trust.UNVERIFIED.usable


# ---- the records view, the apply log's MAC, stamp-only gates (plain data) ------------


def _model(**records: str) -> ObservedModel:
    """v1..v4 (``v2=...``: that version's provenance tag) and v9, with a tag of its own;
    v2 holds champion."""
    tags = {int(n[1:]): {PROVENANCE_TAG: t} for n, t in records.items()}
    versions = {n: ObservedVersion(n, run_id=f"r{n}", tags=tags.get(n, {})) for n in range(1, 5)}
    versions[9] = ObservedVersion(9, run_id="r9", tags={"team": "a"})
    return ObservedModel("clf", aliases={"champion": 2}, versions=versions)


def _held(target: str, when: str) -> str:
    return json.dumps({"held": {target: when}, "applied_at": when})


def test_the_records_view_leaves_out_what_does_not_verify() -> None:
    genuine = seal_provenance(_held("alias:champion", "2026-01-02"), "clf", 1, KEY)
    model = _model(
        v1=genuine,
        v2=_held("alias:champion", "2026-01-03"),  # unsigned
        v3=genuine,  # v1's record, copied onto v3
        v4="[" * 5000,  # exhausts the JSON parser: unreadable, not a crash
    )
    assert record(model.versions[4]) == {}
    view = authenticated(Observed({"clf": model}), KEY).models["clf"]
    assert {n: PROVENANCE_TAG in v.tags for n, v in view.versions.items()} == {
        1: True, 2: False, 3: False, 4: False, 9: False,
    }  # fmt: skip
    assert view.versions[9] is model.versions[9] and view.aliases == model.aliases
    assert unverified(model, KEY) == [2, 3, 4]
    assert held_since(view.versions[1], "alias:champion") == "2026-01-02"
    # Without a key the view is the registry as it is.
    none = RecordKey.from_env({})
    assert authenticated(Observed({"clf": model}), none).models["clf"] is model
    assert unverified(model, none) == []
    assert seal_provenance(genuine, "clf", 1, none) == genuine


def test_an_apply_log_mac_is_bound_to_its_run_and_covers_every_summary() -> None:
    tags = {TAG_COMMIT: "abc", TAG_ACTOR: "ada", model_tag("clf"): '{"changes":[]}'}
    params = {"commit": "abc"}
    mac = run_mac(KEY, "run1", tags, params)
    assert mac is not None
    signed = {**tags, TAG_MAC: mac, "mlflow.note.content": "for people; not covered"}
    assert run_trust(KEY, "run1", signed, params) is Trust.VERIFIED
    assert run_trust(KEY, "run2", signed, params) is Trust.UNVERIFIED  # copied to another run
    more = {**signed, model_tag("other"): '{"changes":[]}'}  # claims one more model
    assert run_trust(KEY, "run1", more, params) is Trust.UNVERIFIED
    assert run_trust(KEY, "run1", signed, {"commit": "def"}) is Trust.UNVERIFIED
    assert run_trust(KEY, "run1", tags, params) is Trust.UNVERIFIED  # no MAC at all
    none = RecordKey.from_env({})
    assert run_mac(none, "run1", tags, params) is None
    assert run_trust(none, "run1", tags, params) is Trust.UNKEYED


def test_a_stamp_only_change_runs_its_gates_against_the_version_it_displaced() -> None:
    relative = GateSpec("metric", {"metric": "acc", "baseline": "current",
                                   "min_absolute_change": 0.01}, 0)  # fmt: skip
    desired = Desired(
        "/r",
        {"clf": ModelManifest("clf", "m.yaml", aliases={"champion": 2}, gates={"champion": "p"})},
        {"p": Policy("p", "policies/p.yaml", (relative,))},
    )
    metrics = {"r1": {"acc": 0.9}, "r2": {"acc": 0.95}}

    def gates_of(model: ObservedModel) -> list[tuple[str, bool, float | None]]:
        observed = Observed({"clf": model})
        plans = plan_models(list(desired.manifests.values()), observed)
        evaluate(plans, desired, observed, lambda versions: MetricBook.of_runs(metrics))
        (change,) = plans[0].changes
        assert (change.reason, change.version, change.from_version) == ("provenance", 2, 2)
        return [(g.name, g.passed, g.holder) for g in change.gates]

    # v1 took champion, v2 holds it with no record: a crash before v2's stamp
    crashed = _model(v1=_held("alias:champion", "2026-01-02"))
    assert [(passed, holder) for _, passed, holder in gates_of(crashed)] == [(True, 0.9)]
    # no record shows any version taking champion: no baseline, as for a first promotion
    first = _model(v1=_held("alias:challenger", "2026-01-02"))
    assert [(passed, holder) for _, passed, holder in gates_of(first)] == [(True, None)]
