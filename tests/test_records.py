"""Authenticated records (pure logic): a MAC binds kind, model, version and content."""

from __future__ import annotations

from registry_ops.core.records import MAC_FIELD, RecordKey, Trust

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
