"""The apply log read back: the recorded applies that changed one model.

Each run of the apply log carries, per model it changed, a tag with a compact
summary of that model's alias and stage changes
(:func:`registry_ops.pipeline.audit.summary_tag`): one tag-filtered search
answers ``history`` without downloading an artifact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from registry_ops.pipeline.audit import (
    EXPERIMENT,
    TAG_ACTOR,
    TAG_APPLIED_AT,
    TAG_COMMIT,
    TAG_OUTCOME,
    TAG_PLAN,
    model_filter,
    model_tag,
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


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def parse_run(run: dict[str, Any], model: str) -> LoggedRun | None:
    """A run of the apply log, seen from ``model`` (None when it does not name it
    or its summary is unreadable)."""
    tags: dict[str, str] = run.get("tags", {})
    raw = tags.get(model_tag(model))
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    moves = tuple(
        AppliedMove(
            action=str(m.get("action", "")),
            target=m.get("target"),
            previous=_int(m.get("from")),
            new=_int(m.get("to")),
            reason=str(m.get("reason", "")),
            landed=m.get("landed"),
            from_stage=m.get("from_stage"),
        )
        for m in data.get("changes", [])
        if isinstance(m, dict)
    )
    start = int(run.get("start_time") or 0)
    applied_at = tags.get(TAG_APPLIED_AT) or datetime.fromtimestamp(start / 1000, UTC).isoformat(
        timespec="microseconds"
    )
    return LoggedRun(
        run_id=str(run.get("run_id", "")),
        applied_at=applied_at,
        recorded_ms=int(run.get("end_time") or start),
        actor=tags.get(TAG_ACTOR, "unknown"),
        commit=tags.get(TAG_COMMIT, "unknown"),
        plan_digest=tags.get(TAG_PLAN, ""),
        outcome=tags.get(TAG_OUTCOME, ""),
        model_status=str(data.get("status", "")),
        moves=moves,
        other_changes=int(data.get("other", 0) or 0),
        truncated=int(data.get("more", 0) or 0),
    )


def read_log(registry: Registry, model: str) -> list[LoggedRun]:
    """Every recorded apply that changed ``model``, oldest first: the experiment
    lookup and one tag-filtered search (a request per 1,000 runs)."""
    log = ApplyLog(registry)
    experiment = log.experiment_id(EXPERIMENT)
    if experiment is None:
        return []
    runs = log.search_runs(experiment, model_filter(model))
    parsed = [parse_run(run, model) for run in runs]
    return sorted((r for r in parsed if r is not None), key=lambda r: r.applied_at)
