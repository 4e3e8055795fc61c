"""Everything ``history`` knows about one model, and reading it: git in a thread
while MLflow is imported and asked, then the join."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry_ops.core.authentic import authenticated_model, unverified
from registry_ops.core.provenance import record
from registry_ops.core.records import KEY_ENV, RecordKey
from registry_ops.core.state import ObservedModel
from registry_ops.errors import RegistryOpsError
from registry_ops.gitops.history.adoption import adoption_of
from registry_ops.gitops.history.desired import DesiredChange, desired_history
from registry_ops.gitops.history.follow import MANIFESTS, find_manifest
from registry_ops.gitops.history.timeline import Interval, current_holders, timeline
from registry_ops.gitops.history.times import iso
from registry_ops.pipeline.logged import LoggedRun, read_log
from registry_ops.pipeline.logrecord import EXPERIMENT

if TYPE_CHECKING:
    from registry_ops.gitrepo import FileRevision
    from registry_ops.registry import Registry


@dataclass
class History:
    """Everything ``history`` knows about one model."""

    model: str
    manifest: str | None
    desired: list[DesiredChange]
    applies: list[LoggedRun]
    current: dict[str, list[int]]
    intervals: list[Interval]
    now: datetime
    registered: bool = True
    notes: list[str] = field(default_factory=list)
    # Records that claim an apply but carry no valid MAC (a key is set): shown, never used.
    unverified: list[dict[str, Any]] = field(default_factory=list)
    authenticated: bool = False  # REGISTRY_OPS_PLAN_KEY was set: only records with a MAC count

    @property
    def targets(self) -> list[str]:
        """Every target seen anywhere: aliases first, then stages."""
        seen = {i.target for i in self.intervals} | set(self.current)
        seen |= {t for d in self.desired for t in d.targets}
        return sorted(seen, key=lambda t: (not t.startswith("alias:"), t))

    @property
    def drift(self) -> list[Interval]:
        """Holdings no apply made, reverted or not."""
        return [i for i in self.intervals if i.source == "drift"]

    def commit(self, sha: str | None) -> DesiredChange | None:
        """The manifest commit ``sha`` (a ``+uncommitted`` label too), if it changed the model."""
        if not sha:
            return None
        sha = sha.split("+", 1)[0]
        for change in self.desired:
            if change.commit == sha or (len(sha) >= 7 and change.commit.startswith(sha)):
                return change
        return None

    def run(self, run_id: str | None) -> LoggedRun | None:
        """The logged apply ``run_id``."""
        return next((r for r in self.applies if r.run_id == run_id), None)

    def desired_at(self, when: datetime) -> DesiredChange | None:
        """The last manifest commit at or before ``when``."""
        past = [d for d in self.desired if d.date <= when]
        return max(past, key=lambda d: d.date) if past else None

    def at(self, when: datetime) -> dict[str, Any]:
        """Which version held each target at ``when``, who put it there, and what
        the manifests wanted then."""
        wanted = self.desired_at(when)
        targets: dict[str, Any] = {}
        for target in self.targets:
            holders = [i for i in self.intervals if i.target == target and i.covers(when)]
            entries = []
            for interval in sorted(holders, key=lambda i: (i.source == "drift", i.start)):
                entry = interval.to_dict()
                run = self.run(interval.run_id)
                entry["apply"] = run.to_dict() if run else None
                change = self.commit(interval.commit)
                entry["commit_info"] = _commit_info(change)
                entry["note"] = _uncertainty(interval, when)
                entry["basis"] = _basis(interval)
                entries.append(entry)
            desired = wanted.targets.get(target) if wanted and wanted.present else None
            if not entries and desired is None:
                continue
            targets[target] = {
                "holders": entries,
                "desired": desired,
                "desired_commit": _commit_info(wanted),
            }
        return {"time": iso(when), "targets": targets}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (newest first in each list)."""
        return {
            "model": self.model,
            "manifest": self.manifest,
            "registered": self.registered,
            "now": iso(self.now),
            "experiment": EXPERIMENT,
            "current": self.current,
            "desired": [d.to_dict() for d in self.desired],
            "applies": [r.to_dict() for r in reversed(self.applies)],
            "timeline": [i.to_dict() for i in self.intervals],
            "drift": [i.to_dict() for i in self.drift],
            "notes": list(self.notes),
            "records_authenticated": self.authenticated,
            "unverified": list(self.unverified),
        }


def _commit_info(change: DesiredChange | None) -> dict[str, Any] | None:
    if change is None:
        return None
    return {
        "commit": change.commit,
        "author": change.author,
        "email": change.email,
        "date": iso(change.date),
        "message": change.message,
    }


def _basis(interval: Interval) -> str:
    """Where the answer for this holding comes from: ``apply-log``, ``provenance``,
    ``adoption`` (the adopting commit and the registry's timestamps) or ``registry``
    (MLflow's own timestamps alone)."""
    if interval.source == "adopted":
        return "adoption"
    if interval.source in ("apply", "provenance"):
        return "apply-log" if interval.run_id else "provenance"
    return "apply-log" if interval.reverted_by else "registry"


def _registry_says(interval: Interval, when: datetime) -> str:
    """What MLflow's own timestamps say of a holding nobody recorded, at ``when``."""
    text = f"from MLflow's own timestamps: {interval.evidence}" if interval.evidence else ""
    if interval.held_by is not None:
        sure = "held it then" if when >= interval.held_by else "may not have held it yet then"
        text += f"; in place by {iso(interval.held_by)} at the latest, so it {sure}"
    return text


def _uncertainty(interval: Interval, when: datetime) -> str | None:
    registry = _registry_says(interval, when)
    if interval.source == "adopted":
        until = f"until {iso(interval.end)}" if interval.end else "so far"
        return (
            f"adopted: the registry already had v{interval.version} here when commit "
            f"{(interval.commit or '')[:12]} first added the manifest naming it; no apply "
            f"changed this target {until}; {registry}"
        )
    if interval.source == "unmanaged":
        return f"registry-ops never applied this model: no apply log; {registry}"
    if interval.source == "drift":
        found = f"found and reverted by apply run {interval.reverted_by}" if interval.reverted_by \
            else "still in the registry"  # fmt: skip
        return (
            f"drift: set outside registry-ops at an unrecorded time after {iso(interval.start)}; "
            f"{found}" + (f"; {registry}" if registry else "")
        )
    if not interval.end_known:
        return (
            f"it was replaced outside registry-ops at an unrecorded time before {iso(interval.end)}"
        )
    return None


def collect(
    root: str | Path,
    model: str,
    connect: Callable[[], Registry],
    now: datetime | None = None,
) -> History:
    """Read git (in a thread, while MLflow is imported and asked) and the registry,
    and join them."""
    found: list[tuple[Path, list[FileRevision]] | None] = [None]
    failed: list[BaseException] = []

    def read_git() -> None:
        try:
            found[0] = find_manifest(root, model)
        except Exception as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failed.append(exc)

    worker = threading.Thread(target=read_git, name="git-history", daemon=True)
    worker.start()
    key = RecordKey.from_env()
    try:
        registry = connect()
        raw = registry.read_state([model]).get(model)
        log = read_log(registry, model, key)
        now = now or datetime.now(UTC)  # the moment the registry was read
    finally:
        worker.join()
    if failed:
        raise failed[0]
    notes = []
    if not key.enabled:
        notes.append(UNKEYED_NOTE)
    manifest = None
    desired: list[DesiredChange] = []
    adoption = None
    if found[0] is not None:
        _, revisions = found[0]
        desired = desired_history(revisions, model)
        manifest = revisions[0].path if revisions else None
        adoption = adoption_of(desired)
    else:
        notes.append(f"no manifest under {MANIFESTS}/ names {model} in git")
    bad = [{"kind": "apply-log run", **r.to_dict()} for r in log.unverified]
    bad += _unverified_provenance(raw, key)
    if raw is None and not desired and not log.runs and not bad and not log.skipped:
        raise RegistryOpsError(
            f"nothing known about {model}: no manifest in git names it, it is not "
            "registered in MLflow, and the apply log has no run for it"
        )
    if raw is None:
        notes.append(f"{model} is not registered in MLflow now")
    notes += [f"skipped apply-log {line} (unreadable; not counted)" for line in log.skipped]
    runs = log.runs
    truncated = sum(r.truncated for r in runs)
    if truncated:
        notes.append(
            f"{truncated} archive change(s) are only in the runs' report.json (too many for a tag)"
        )
    observed = authenticated_model(raw, key) if raw is not None else None
    return History(
        model=model,
        manifest=manifest,
        desired=desired,
        applies=runs,
        current=current_holders(observed),
        intervals=timeline(runs, observed, now, adoption),
        now=now,
        registered=observed is not None,
        notes=notes,
        unverified=bad,
        authenticated=key.enabled,
    )


UNKEYED_NOTE = (
    f"records are unauthenticated: {KEY_ENV} is not set, so the apply log and the "
    "provenance records are shown as written, and anyone who can write to the registry "
    "could have written them"
)
_MAX_CLAIM = 200  # characters of a claimed value worth showing


def _unverified_provenance(model: ObservedModel | None, key: RecordKey) -> list[dict[str, Any]]:
    """The provenance records of ``model`` that do not verify, with what they claim."""
    if model is None:
        return []
    out = []
    for number in unverified(model, key):
        data = record(model.versions[number])
        held = data.get("held")
        claims = {
            "commit": data.get("commit"),
            "actor": data.get("applied_by"),
            "applied_at": data.get("applied_at"),
            "held": ", ".join(map(str, held)) if isinstance(held, dict) else None,
        }
        shown = {k: str(v)[:_MAX_CLAIM] for k, v in claims.items() if v is not None}
        out.append(
            {"kind": "provenance", "version": number, "claims": shown, "why": "no valid MAC"}
        )
    return out
