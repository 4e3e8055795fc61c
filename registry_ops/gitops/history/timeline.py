"""Who held what, when: every holding of every target, joined from the apply log,
the versions' provenance records and the registry now.

Drift is a holder no apply put there: an apply change whose reason is drift,
a displaced holder the log never gave that target, or a holder in the
registry now that differs from what the last apply left. Drift that a later
apply reverted stays visible as drift. A holder the registry already had when
the manifest adopting it was committed is adopted, not drift (see
:mod:`.adoption`); holdings nobody recorded are bounded by MLflow's own
timestamps, and say so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from registry_ops.core.provenance import record
from registry_ops.core.state import ObservedModel
from registry_ops.gitops.history.adoption import Adoption, registry_record
from registry_ops.gitops.history.times import EPOCH, iso, iso_us, parse_iso
from registry_ops.gitops.history.wanted import NOT_TARGETS
from registry_ops.pipeline.logged import LoggedRun


@dataclass
class Interval:
    """One version holding one target for a while.

    ``source``: ``apply`` (a run of the apply log put it there), ``provenance``
    (its provenance record says an apply did; the log has no run for it),
    ``adopted`` (the registry already had it there when ``commit``, the commit
    that first added the manifest, named it), ``drift`` (no apply put it there)
    or ``unmanaged`` (a model registry-ops never applied). ``start_known`` /
    ``end_known`` are false when the change happened outside registry-ops, at a
    time nobody recorded: then ``start`` is the earliest it can have been and
    ``end`` the time it was found; ``held_by``, when known, is the time by which
    it surely held the target, and ``evidence`` what MLflow's own timestamps say.
    """

    target: str
    version: int
    start: datetime
    end: datetime | None
    source: str
    run_id: str | None = None
    commit: str | None = None
    actor: str | None = None
    start_known: bool = True
    end_known: bool = True
    reverted_by: str | None = None  # drift: the run that undid it
    reason: str | None = None
    held_by: datetime | None = None
    evidence: str | None = None

    def covers(self, when: datetime) -> bool:
        """Whether this holding spans ``when``."""
        return self.start <= when and (self.end is None or when < self.end)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "target": self.target,
            "version": self.version,
            "start": iso(self.start),
            "end": iso(self.end),
            "source": self.source,
            "run_id": self.run_id,
            "commit": self.commit,
            "actor": self.actor,
            "start_known": self.start_known,
            "end_known": self.end_known,
            "reverted_by": self.reverted_by,
            "reason": self.reason,
            "held_by": iso(self.held_by),
            "evidence": self.evidence,
        }


@dataclass
class _Event:
    when: datetime
    order: int
    target: str
    kind: str  # take, leave, clear
    version: int | None
    previous: int | None = None
    run: LoggedRun | None = None
    reason: str | None = None
    commit: str | None = None
    actor: str | None = None


def _log_events(runs: Iterable[LoggedRun]) -> list[_Event]:
    events: list[_Event] = []
    for run in runs:
        when = parse_iso(run.applied_at) or EPOCH
        for move in run.moves:
            if move.landed is not True or move.target is None:
                continue
            steps: list[tuple[str, str, int | None, int | None]] = []
            if move.action == "set_alias":
                steps.append((move.target, "take", move.new, move.previous))
            elif move.action == "delete_alias":
                steps.append((move.target, "clear", None, move.previous))
            elif move.action == "transition_stage" and move.new is not None:
                left = f"stage:{move.from_stage}" if move.from_stage else None
                # (a stamp of a version where it stands "moves" it to its own stage: it stays)
                if left and left not in NOT_TARGETS and left != move.target:
                    steps.append((left, "leave", move.new, None))
                if move.target not in NOT_TARGETS:
                    steps.append((move.target, "take", move.new, move.previous))
            for target, kind, version, previous in steps:
                events.append(
                    _Event(when, len(events), target, kind, version, previous, run, move.reason)
                )
    return events


def _provenance_events(
    model: ObservedModel | None, logged: set[tuple[str, int, str]]
) -> list[_Event]:
    """Takes the versions' records show and the log lacks."""
    events: list[_Event] = []
    if model is None:
        return events
    for number, version in sorted(model.versions.items()):
        data = record(version)
        held = data.get("held")
        if not isinstance(held, dict):
            continue
        for target, since in held.items():
            if target in NOT_TARGETS or not isinstance(since, str):
                continue
            when = parse_iso(since)
            if when is None or (target, number, iso_us(when)) in logged:
                continue
            same = data.get("applied_at") == since
            events.append(
                _Event(
                    when=when, order=-1, target=target, kind="take", version=number,
                    commit=str(data.get("commit")) if same else None,
                    actor=str(data.get("applied_by")) if same else None, reason="provenance",
                )
            )  # fmt: skip
    return events


def _created(model: ObservedModel | None, version: int | None) -> datetime:
    if model is None or version is None or version not in model.versions:
        return EPOCH
    return datetime.fromtimestamp(model.versions[version].creation_timestamp / 1000, UTC)


def _adopted(
    adoption: Adoption, model: ObservedModel | None, target: str, version: int, holds_now: bool
) -> Interval:
    """A holding the adopting commit found in place, bounded by the registry's timestamps."""
    start, held_by, evidence = registry_record(model, target, version, holds_now)
    held_by = min(held_by, adoption.date) if held_by else adoption.date
    return Interval(target, version, min(start, held_by), None, "adopted",
                    commit=adoption.commit, start_known=False, reason="adopted",
                    held_by=held_by, evidence=evidence)  # fmt: skip


def timeline(
    runs: list[LoggedRun],
    model: ObservedModel | None,
    now: datetime,
    adoption: Adoption | None = None,
) -> list[Interval]:
    """Every holding of every target, from the log, the records and the registry now
    (``adoption``: the commit that first added the model's manifest, if any)."""
    logged = {
        (m.target, m.new, iso_us(parse_iso(r.applied_at) or EPOCH))
        for r in runs
        for m in r.moves
        if m.target and m.new is not None and m.landed is True
    }
    events = _log_events(runs) + _provenance_events(model, logged)
    events.sort(key=lambda e: (e.when, e.order))
    current = current_holders(model)
    managed = bool(runs) or bool(model and model.managed)
    done: list[Interval] = []
    open_: dict[str, list[Interval]] = {}
    last_event: dict[str, datetime] = {}

    def close(interval: Interval, when: datetime, known: bool = True) -> None:
        interval.end, interval.end_known = when, known
        open_[interval.target].remove(interval)
        done.append(interval)

    def drift(target: str, version: int, when: datetime, run: LoggedRun | None) -> None:
        start = max(last_event.get(target, EPOCH), _created(model, version))
        done.append(
            Interval(target, version, min(start, when), when, "drift", start_known=False,
                     reverted_by=run.run_id if run else None, reason="drift")
        )  # fmt: skip

    for event in events:
        target = event.target
        holders = open_.setdefault(target, [])
        alias = target.startswith("alias:")
        # The first apply to touch a target says who held it then: if that is what the
        # adopting commit named, it was there before any apply, adopted.
        found = event.version if event.kind == "leave" else event.previous
        first = target not in last_event and event.run is not None and found is not None
        if first and adoption and found is not None and adoption.claims(target, found, model):
            still = found in current.get(target, [])
            holders.append(_adopted(adoption, model, target, found, holds_now=still))
        if event.kind == "leave":
            for interval in [i for i in holders if i.version == event.version]:
                close(interval, event.when)
        elif event.kind in ("take", "clear"):
            versions = [i.version for i in holders]
            prev = event.previous
            if event.run and prev is not None and prev != event.version and prev not in versions:
                drift(target, prev, event.when, event.run)
            if alias or event.kind == "clear":
                for interval in list(holders):
                    if event.kind == "take" and interval.version == event.version:
                        continue  # re-stamped where it stands: the same holding goes on
                    known = event.run is None or prev is None or interval.version == prev
                    close(interval, event.when, known)
            elif event.run is None:  # a stage taken per a record: its old holder was archived
                for interval in [i for i in holders if i.version != event.version]:
                    close(interval, event.when, False)
            taken = event.version
            if event.kind == "take" and taken is not None and taken not in _versions(holders):
                run = event.run
                holders.append(
                    Interval(
                        target, taken, event.when, None,
                        "apply" if run else "provenance",
                        run_id=run.run_id if run else None,
                        commit=run.commit if run else event.commit,
                        actor=run.actor if run else event.actor,
                        reason=event.reason,
                    )
                )  # fmt: skip
        last_event[target] = event.when

    for target in sorted(set(open_) | set(current)):
        holders = open_.get(target, [])
        now_holding = current.get(target, [])
        for interval in list(holders):
            if interval.version not in now_holding:
                close(interval, now, known=False)  # changed outside registry-ops since
        for version in now_holding:
            if version in [i.version for i in holders]:
                continue
            if target not in last_event and adoption and adoption.claims(target, version, model):
                open_.setdefault(target, []).append(
                    _adopted(adoption, model, target, version, holds_now=True)
                )
                continue
            start = max(last_event.get(target, EPOCH), _created(model, version))
            _, held_by, evidence = registry_record(model, target, version, holds_now=True)
            held_by = held_by if held_by and held_by >= start else None
            source = "drift" if managed else "unmanaged"
            interval = Interval(target, version, min(start, now), None, source,
                                start_known=False, reason=source, held_by=held_by,
                                evidence=evidence)  # fmt: skip
            open_.setdefault(target, []).append(interval)
    done.extend(i for holders in open_.values() for i in holders)
    done.sort(key=lambda i: (i.target, i.start, i.version))
    return done


def _versions(holders: list[Interval]) -> list[int]:
    return [i.version for i in holders]


def current_holders(model: ObservedModel | None) -> dict[str, list[int]]:
    """Target -> the versions holding it in the registry now (stages may hold several)."""
    if model is None:
        return {}
    out: dict[str, list[int]] = {f"alias:{a}": [v] for a, v in sorted(model.aliases.items())}
    for number, version in sorted(model.versions.items()):
        target = f"stage:{version.stage}"
        if target not in NOT_TARGETS:
            out.setdefault(target, []).append(number)
    return out
