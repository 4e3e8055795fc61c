"""The apply log read back: the recorded applies that changed one model.

Each run of the apply log carries, per model it changed, a tag with a compact
summary of that model's alias and stage changes
(:func:`registry_ops.pipeline.audit.summary_tag`): one tag-filtered search
answers ``history`` without downloading an artifact.

With ``REGISTRY_OPS_PLAN_KEY`` set, only runs whose MAC verifies
(:mod:`registry_ops.pipeline.logrecord`) count as applies; the others are
listed as unverified with what they claim. A run whose summary cannot be read
is skipped with a note: anyone can add runs to the log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from registry_ops.core.records import RecordKey
from registry_ops.pipeline.logrecord import (
    EXPERIMENT,
    TAG_ACTOR,
    TAG_APPLIED_AT,
    TAG_COMMIT,
    TAG_OUTCOME,
    TAG_PLAN,
    model_filter,
    model_tag,
    run_trust,
)
from registry_ops.registry import Registry
from registry_ops.registry.applylog import ApplyLog


@dataclass(frozen=True)
class AppliedMove:
    """One alias or stage change of one model in one recorded apply."""

    action: str
    target: str | None
    previous: int | None
    new: int | None
    reason: str
    landed: bool | None
    from_stage: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "action": self.action,
            "target": self.target,
            "previous": self.previous,
            "new": self.new,
            "from_stage": self.from_stage,
            "reason": self.reason,
            "landed": self.landed,
        }


@dataclass(frozen=True)
class LoggedRun:
    """One recorded apply, as far as one model is concerned."""

    run_id: str
    applied_at: str
    recorded_ms: int
    actor: str
    commit: str
    plan_digest: str
    outcome: str
    model_status: str
    moves: tuple[AppliedMove, ...]
    other_changes: int
    truncated: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "run_id": self.run_id,
            "applied_at": self.applied_at,
            "actor": self.actor,
            "commit": self.commit,
            "plan_digest": self.plan_digest,
            "outcome": self.outcome,
            "model_status": self.model_status,
            "changes": [m.to_dict() for m in self.moves],
            "other_changes": self.other_changes,
            "not_in_tag": self.truncated,
        }


class Malformed(ValueError):
    """A run whose summary of a model cannot be read: skipped, with this reason."""


def _int(value: Any) -> int | None:
    """A version number as the summary holds it (null stays None)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Malformed(f"version {str(value)[:40]!r} is no number")
    try:
        return int(value)
    except ValueError:
        raise Malformed(f"version {str(value)[:40]!r} is no number") from None


def _text(value: Any, what: str, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise Malformed(f"{what} is not text")
    return value


def _count(value: Any, what: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise Malformed(f"{what} is not a count")
    return value


def _move(m: Any) -> AppliedMove:
    if not isinstance(m, dict):
        raise Malformed("a change is not an object")
    landed = m.get("landed")
    if landed is not None and not isinstance(landed, bool):
        raise Malformed("a change's landed is not true, false or null")
    return AppliedMove(
        action=_text(m.get("action"), "a change's action"),
        target=_text(m.get("target"), "a change's target", optional=True),
        previous=_int(m.get("from")),
        new=_int(m.get("to")),
        reason=_text(m.get("reason", ""), "a change's reason"),
        landed=landed,
        from_stage=_text(m.get("from_stage"), "a change's from_stage", optional=True),
    )


def _applied_at(tags: dict[str, str], start_ms: int) -> str:
    value = tags.get(TAG_APPLIED_AT)
    if value is None:
        return datetime.fromtimestamp(start_ms / 1000, UTC).isoformat(timespec="microseconds")
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise Malformed(f"{TAG_APPLIED_AT} {value[:40]!r} is no time") from None
    return value


def parse_run(run: dict[str, Any], model: str) -> LoggedRun | None:
    """A run of the apply log, seen from ``model`` (None when it does not name it).

    Raises :class:`Malformed` when its summary of the model cannot be read: anyone can
    add a run to the log, and one bad run must not stop ``history``.
    """
    tags: dict[str, str] = run.get("tags", {})
    raw = tags.get(model_tag(model))
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise Malformed("its summary of the model is not JSON") from None
    if not isinstance(data, dict):
        raise Malformed("its summary of the model is not a JSON object")
    changes = data.get("changes", [])
    if not isinstance(changes, list):
        raise Malformed("its list of changes is not a list")
    start = _count(run.get("start_time"), "its start time")
    return LoggedRun(
        run_id=str(run.get("run_id", "")),
        applied_at=_applied_at(tags, start),
        recorded_ms=_count(run.get("end_time"), "its end time") or start,
        actor=tags.get(TAG_ACTOR, "unknown"),
        commit=tags.get(TAG_COMMIT, "unknown"),
        plan_digest=tags.get(TAG_PLAN, ""),
        outcome=tags.get(TAG_OUTCOME, ""),
        model_status=_text(data.get("status", ""), "its status"),
        moves=tuple(_move(m) for m in changes),
        other_changes=_count(data.get("other"), "its count of other changes"),
        truncated=_count(data.get("more"), "its count of changes left out"),
    )


@dataclass(frozen=True)
class UnverifiedRun:
    """A run in the apply log that no apply can be shown to have written: what it claims."""

    run_id: str
    claims: dict[str, str]  # actor, commit, outcome, applied_at, as its tags say

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"run_id": self.run_id, "claims": dict(self.claims), "why": "no valid MAC"}


@dataclass
class LogRead:
    """The apply log as far as one model is concerned, and what of it does not count."""

    runs: list[LoggedRun] = field(default_factory=list)  # oldest first
    unverified: list[UnverifiedRun] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "run <id>: why it was skipped"


_CLAIMS = {
    "actor": TAG_ACTOR,
    "commit": TAG_COMMIT,
    "outcome": TAG_OUTCOME,
    "applied_at": TAG_APPLIED_AT,
}
_MAX_CLAIM = 200  # characters of a claimed value worth showing


def sort_runs(runs: list[dict[str, Any]], model: str, key: RecordKey) -> LogRead:
    """Runs of the apply log (as :meth:`ApplyLog.search_runs` returns them) sorted into
    the applies that count, the runs without a valid MAC (only when a key is set)
    and the runs that cannot be read."""
    out = LogRead()
    for run in runs:
        run_id = str(run.get("run_id", ""))
        tags = run.get("tags") or {}
        if not run_trust(key, run_id, tags, run.get("params") or {}).usable:
            claims = {k: str(tags[t])[:_MAX_CLAIM] for k, t in _CLAIMS.items() if t in tags}
            out.unverified.append(UnverifiedRun(run_id, claims))
            continue
        try:
            parsed = parse_run(run, model)
        except Malformed as exc:
            out.skipped.append(f"run {run_id}: {exc}")
            continue
        if parsed is not None:
            out.runs.append(parsed)
    out.runs.sort(key=lambda r: r.applied_at)
    return out


def read_log(registry: Registry, model: str, key: RecordKey) -> LogRead:
    """Every recorded apply that changed ``model``, oldest first, and the runs that
    claim to be one but do not count: the experiment lookup and one tag-filtered
    search (a request per 1,000 runs)."""
    log = ApplyLog(registry)
    experiment = log.experiment_id(EXPERIMENT)
    if experiment is None:
        return LogRead()
    return sort_runs(log.search_runs(experiment, model_filter(model)), model, key)
