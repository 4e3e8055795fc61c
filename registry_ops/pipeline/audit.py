"""The apply log: every apply that changed something is a run in MLflow itself.

An apply that landed any change, or stopped with a failure part-way, becomes
one run of the experiment ``registry-ops/applies`` (created on first use).
The log is append-only: registry-ops never edits or deletes a run.

A run carries

- tags: ``registry_ops.commit``, ``registry_ops.actor``,
  ``registry_ops.plan_digest``, ``registry_ops.outcome`` (``applied`` /
  ``partial`` / ``failed``), ``registry_ops.models`` (for people; cut to fit),
  ``registry_ops.applied_at`` (the time stamped into the versions'
  provenance), and per model one ``registry_ops.model.<hash>`` tag (a hash of
  the name, so any name fits a tag key) whose value is a compact JSON summary
  of that model's alias and stage changes: what ``history`` reads, with one
  search and no artifact downloads; ``registry_ops.report_sha256``, the digest
  of ``report.json``, and with ``REGISTRY_OPS_PLAN_KEY`` set ``registry_ops.mac``,
  the MAC of all of these (:mod:`registry_ops.pipeline.logrecord`): only a run
  carrying a valid one counts as an apply. MLflow's own ``mlflow.user``,
  ``mlflow.source.git.commit`` and ``mlflow.note.content`` make the run read
  well in the MLflow UI;
- artifacts: ``plan.json`` (the sealed plan, as ``plan --out`` writes it) and
  ``report.json`` (per change: model, target, previous holder, new holder,
  actor, reason, landed or not, time).

``reason`` is ``rollback`` (a return exempted by policy), ``override`` (a
failed gate let through by an emergency override), ``drift`` (the change
undoes an edit made outside registry-ops: the holder it displaces was never
put there by an apply, or an alias the manifest does not own is pruned), or
the plan's own reason (``manifest``, ``displaced``, ``retention``,
``provenance``).

Cost: a converged apply records nothing and sends nothing. Otherwise about six
requests whatever the size of the apply: one version search (to tell drift),
the experiment lookup, the run with its tags, one batch of params, the
artifacts, and closing the run. A failure to write the log never changes the
apply's outcome; the command says so on stderr.

This module says what a run records; the names of its tags and its MAC are
:mod:`registry_ops.pipeline.logrecord`'s, the MLflow calls are
:mod:`registry_ops.registry.applylog`'s, and reading the log back is
:mod:`registry_ops.pipeline.logged`'s.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from registry_ops.core.authentic import authenticated_versions
from registry_ops.core.changes import Change
from registry_ops.core.plan import ModelPlan, Plan
from registry_ops.core.provenance import Provenance, now_iso, record
from registry_ops.core.records import RecordKey
from registry_ops.core.redact import redact
from registry_ops.core.state import ObservedVersion
from registry_ops.pipeline.logrecord import (
    EXPERIMENT as EXPERIMENT,  # re-exported: the CLI and the log's readers name it here
)
from registry_ops.pipeline.logrecord import (
    TAG_ACTOR,
    TAG_APPLIED_AT,
    TAG_COMMIT,
    TAG_MAC,
    TAG_MODELS,
    TAG_OUTCOME,
    TAG_PLAN,
    TAG_REPORT,
    model_tag,
    report_digest,
    run_mac,
)
from registry_ops.pipeline.logrecord import model_filter as model_filter  # re-exported too
from registry_ops.pipeline.seal import signed
from registry_ops.registry.applylog import ApplyLog, artifact_location, json_text

if TYPE_CHECKING:
    from registry_ops.pipeline.apply import ApplyResult, ModelOutcome
    from registry_ops.registry import Registry

REPORT_FORMAT = 1
PLAN_ARTIFACT = "plan.json"
REPORT_ARTIFACT = "report.json"
# MLflow 3 accepts 8,000 characters in a run tag value; older servers 5,000.
MAX_TAG_VALUE = 5_000
CORE_TAGS_PER_REQUEST = 90  # create_run carries the first model tags, log_batch the rest
OUTCOMES = ("applied", "partial", "failed")


@dataclass(frozen=True)
class LoggedApply:
    """Where an apply was recorded."""

    run_id: str
    experiment_id: str
    outcome: str


# ---- what the apply did ---------------------------------------------------------------


def _landed(outcome: ModelOutcome | None, change: Change) -> bool | None:
    """Did ``change`` land? None when unknown (the registry went away mid-write)."""
    if outcome is None:
        return False
    if any(c is change for c in outcome.landed):
        return True
    if outcome.failed is change:
        return outcome.failed_landed
    return False


def model_status(plan: ModelPlan, outcome: ModelOutcome | None, refused: Sequence[str]) -> str:
    """``applied``, ``partial``, ``failed``, ``refused``, ``not attempted`` or ``blocked``."""
    if plan.blocked:
        return "blocked"
    landed = [_landed(outcome, c) for c in plan.changes]
    if landed and all(x is True for x in landed):
        return "applied"
    if any(x is True for x in landed):
        return "partial"
    if outcome is not None and outcome.failed is not None:
        return "failed"
    if any(line.startswith(plan.model + ": ") for line in refused):
        return "refused"
    return "not attempted"


def outcome_of(plan: Plan, result: ApplyResult) -> str | None:
    """``applied``, ``partial`` or ``failed``; None when nothing is worth recording
    (nothing landed and nothing failed: converged, blocked, or only refused)."""
    outcomes = {o.plan.model: o for o in result.outcomes}
    runnable = [m for m in plan.models if m.changes and not m.blocked]
    landed = [_landed(outcomes.get(m.model), c) is not False for m in runnable for c in m.changes]
    definitely = [_landed(outcomes.get(m.model), c) is True for m in runnable for c in m.changes]
    if not any(landed) and result.error is None:
        return None
    if all(definitely) and result.error is None and not result.refused:
        return "applied"
    return "partial" if any(landed) else "failed"


def reason_of(change: Change, drift: bool) -> str:
    """Why a change was made, for people: see the module docstring."""
    if change.rollback:
        return "rollback"
    if change.overridden:
        return "override"
    if drift or change.reason == "prune":
        return "drift"
    return change.reason


def _held(version: ObservedVersion) -> dict[str, str]:
    held = record(version).get("held")
    return {k: v for k, v in held.items() if isinstance(v, str)} if isinstance(held, dict) else {}


def reverts_drift(change: Change, versions: dict[int, ObservedVersion], applied_at: str) -> bool:
    """Whether ``change`` displaces a holder no earlier apply put there.

    Read after the apply: this apply's own stamps carry ``applied_at`` and are
    left out, so the records say what earlier applies did. A model no apply
    ever stamped is being adopted, not reverted.
    """
    target, holder = change.target, change.from_version
    if change.reason != "manifest" or target is None or holder is None:
        return False
    if change.version is None or holder == change.version:
        return False  # it gives the target to no version (a deletion), or to its holder
    earlier = {
        n: {t: s for t, s in _held(v).items() if s < applied_at} for n, v in versions.items()
    }
    if not any(earlier.values()):
        return False  # adoption: registry-ops never wrote this model before
    since = earlier.get(holder, {}).get(target)
    if since is None:
        return True
    others = [h.get(target, "") for n, h in earlier.items() if n != holder]
    return since < max(others, default="")


def _change_entry(
    change: Change, landed: bool | None, drift: bool, prov: Provenance
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "model": change.model,
        "action": change.action,
        "target": change.target,
        "previous": change.from_version,
        "new": change.version,
        "actor": prov.actor,
        "reason": reason_of(change, drift),
        "plan_reason": change.reason,
        "landed": landed,
        "time": prov.applied_at,
    }
    if change.from_stage is not None:
        entry["from_stage"] = change.from_stage
    if change.key is not None:
        entry["key"] = change.key
    if change.overridden and change.override:
        entry["override"] = {k: change.override.get(k) for k in ("reason", "expires", "author")}
    if change.rollback:
        entry["rollback"] = change.rollback
    return entry


def build_report(
    plan: Plan,
    result: ApplyResult,
    prov: Provenance,
    drift: set[tuple[str, int]],
    outcome: str,
) -> dict[str, Any]:
    """The ``report.json`` of a recorded apply. ``drift`` holds ``(model, change
    index)`` of the changes that revert drift."""
    outcomes = {o.plan.model: o for o in result.outcomes}
    models = []
    for model_plan in plan.models:
        if not model_plan.changes:
            continue
        mine = outcomes.get(model_plan.model)
        models.append(
            {
                "model": model_plan.model,
                "manifest": model_plan.manifest,
                "status": model_status(model_plan, mine, result.refused),
                "error": redact(mine.error) if mine and mine.error else None,
                "changes": [
                    _change_entry(c, _landed(mine, c), (model_plan.model, i) in drift, prov)
                    for i, c in enumerate(model_plan.changes)
                ],
            }
        )
    return {
        "format_version": REPORT_FORMAT,
        "outcome": outcome,
        "applied_at": prov.applied_at,
        "recorded_at": now_iso(),
        "actor": prov.actor,
        "commit": prov.commit_label,
        "plan_digest": prov.plan,
        "error": redact(result.error) if result.error else None,
        "refused": [redact(line) for line in result.refused],
        "models": models,
    }


def summary_tag(model: dict[str, Any]) -> str:
    """The compact JSON a model's run tag carries: its status and its alias and
    stage changes (tag and description changes counted), cut to fit a tag value
    (promotions kept first; ``more`` counts what only ``report.json`` has)."""
    moves = [
        {
            k: v
            for k, v in (
                ("action", c["action"]),
                ("target", c["target"]),
                ("from", c["previous"]),
                ("to", c["new"]),
                ("from_stage", c.get("from_stage")),
                ("reason", c["reason"]),
                ("landed", c["landed"]),
            )
            if v is not None or k == "landed"
        }
        for c in model["changes"]
        if c["target"] is not None  # an alias or stage change
    ]
    other = len(model["changes"]) - len(moves)
    moves.sort(key=lambda m: str(m.get("target", "")).startswith("stage:Archived"))
    data: dict[str, Any] = {"status": model["status"], "changes": moves, "other": other}
    text = json.dumps(data, separators=(",", ":"))
    while len(text) > MAX_TAG_VALUE and data["changes"]:
        data["changes"] = data["changes"][:-1]
        data["more"] = data.get("more", 0) + 1
        text = json.dumps(data, separators=(",", ":"))
    return text


def _note(report: dict[str, Any]) -> str:
    """A Markdown description of the run for the MLflow UI (cut to fit a tag)."""
    lines = [f"registry-ops apply: **{report['outcome']}** by {report['actor']} "
             f"from `{report['commit'][:12]}`", ""]  # fmt: skip
    for model in report["models"]:
        lines.append(f"- {model['model']}: {model['status']}")
        for c in model["changes"]:
            if c["target"] is not None:
                mark = {True: "", False: " (not landed)", None: " (unknown)"}[c["landed"]]
                lines.append(
                    f"  - {c['target']}: {_v(c['previous'])} -> {_v(c['new'])} "
                    f"[{c['reason']}]{mark}"
                )
    text = "\n".join(lines)
    return text if len(text) <= MAX_TAG_VALUE else text[: MAX_TAG_VALUE - 20] + "\n- ..."


def _v(version: int | None) -> str:
    return "-" if version is None else f"v{version}"


def _millis(iso: str) -> int | None:
    try:
        return int(datetime.fromisoformat(iso).timestamp() * 1000)
    except ValueError:
        return None


def _drift(plan: Plan, prov: Provenance, registry: Registry) -> set[tuple[str, int]]:
    """``(model, change index)`` of changes that revert drift: one version search."""
    suspects = [
        (m.model, i, c)
        for m in plan.models
        if not m.blocked
        for i, c in enumerate(m.changes)
        if c.reason == "manifest" and c.from_version is not None and c.target is not None
    ]
    if not suspects:
        return set()
    versions = registry.read_versions(sorted({model for model, _, _ in suspects}))
    key = RecordKey.from_env()  # forged records must not turn drift into an ordinary change
    trusted = {name: authenticated_versions(name, found, key) for name, found in versions.items()}
    return {
        (model, i)
        for model, i, c in suspects
        if reverts_drift(c, trusted.get(model, {}), prov.applied_at)
    }


def record_apply(
    plan: Plan, result: ApplyResult, prov: Provenance, registry: Registry
) -> LoggedApply | None:
    """Record the apply as a run of the apply log; None when there is nothing to record.

    Raises RegistryError when the log cannot be written (the apply itself stands).
    """
    outcome = outcome_of(plan, result)
    if outcome is None:
        return None
    if result.error is not None:
        registry.probe()  # the registry may have gone away: fail fast, not after retries
    report = build_report(plan, result, prov, _drift(plan, prov, registry), outcome)
    recorded = [m for m in report["models"] if m["status"] not in ("blocked",)]
    names = [m["model"] for m in recorded]
    shown = ",".join(names)
    if len(shown) > MAX_TAG_VALUE:
        shown = shown[: MAX_TAG_VALUE - 30] + f",... ({len(names)} models)"
    tags = {
        TAG_COMMIT: prov.commit_label,
        TAG_ACTOR: prov.actor,
        TAG_PLAN: prov.plan,
        TAG_OUTCOME: outcome,
        TAG_MODELS: shown,
        TAG_APPLIED_AT: prov.applied_at,
        TAG_REPORT: report_digest(json_text(report)),
        "mlflow.user": prov.actor,
        "mlflow.source.git.commit": prov.commit or "",
        "mlflow.note.content": _note(report),
    }
    model_tags = {model_tag(m["model"]): summary_tag(m) for m in recorded}
    first = dict(list(model_tags.items())[:CORE_TAGS_PER_REQUEST])
    rest = dict(list(model_tags.items())[CORE_TAGS_PER_REQUEST:])
    log = ApplyLog(registry)
    experiment = log.experiment_id(
        EXPERIMENT, create=True, artifact_location=artifact_location(registry.uris["tracking_uri"])
    )
    assert experiment is not None
    run_name = f"apply {prov.commit_label[:12]} {outcome}"
    run_id = log.start_run(experiment, run_name, {**tags, **first}, _millis(prov.applied_at))
    landed = sum(1 for m in report["models"] for c in m["changes"] if c["landed"])
    params = {
        "commit": prov.commit_label,
        "plan_digest": prov.plan,
        "models": str(len(names)),
        "changes": str(sum(len(m["changes"]) for m in recorded)),
        "landed": str(landed),
    }
    # The MAC needs the run's id (a genuine run's tags copied to another do not verify),
    # so it goes with the params and the remaining tags: no extra request.
    mac = run_mac(RecordKey.from_env(), run_id, {**tags, **model_tags}, params)
    log.log_run_data(run_id, params, {**rest, TAG_MAC: mac} if mac else rest)
    log.log_json_artifacts(run_id, {PLAN_ARTIFACT: signed(plan), REPORT_ARTIFACT: report})
    log.end_run(run_id, "FINISHED" if outcome == "applied" else "FAILED")
    return LoggedApply(run_id, experiment, outcome)
