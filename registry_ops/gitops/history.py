"""``history MODEL``: the desired state from git joined with what was applied.

Three sources, joined per target (``alias:NAME`` or ``stage:NAME``):

- **git**: every commit that changed the manifest naming the model (found by
  its ``model:`` line under ``manifests/``, renames followed), with who, when,
  the message, and what moved between consecutive versions of the manifest
  (``champion: v2 -> v3``). One ``git log --follow -p`` reads them all.
- **the apply log** (:mod:`registry_ops.pipeline.audit`): the runs of the experiment
  ``registry-ops/applies`` that changed the model, each with the alias and
  stage changes that landed, when, by whom, from which commit.
- **the registry now**: who holds each target, and every version's
  provenance record (``held``: when it last took each target), which fills
  what the log lacks (applies from before the log existed, or whose log write
  failed).

Drift is a holder no apply put there: an apply change whose reason is drift,
a displaced holder the log never gave that target, or a holder in the
registry now that differs from what the last apply left. Drift that a later
apply reverted stays visible as drift.

``--at TIME`` answers which version held each target at that time, with the
apply and the commit that put it there, and what the manifests wanted then.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry_ops.core.provenance import record
from registry_ops.core.state import ObservedModel
from registry_ops.errors import RegistryOpsError
from registry_ops.pipeline.audit import EXPERIMENT
from registry_ops.pipeline.logged import LoggedRun, read_log

if TYPE_CHECKING:
    from registry_ops.gitrepo import FileRevision
    from registry_ops.registry import Registry

MANIFESTS = "manifests"
NOT_TARGETS = ("stage:Archived", "stage:None")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# ---- time -----------------------------------------------------------------------------

_RELATIVE = re.compile(
    r"^\s*(\d+|an?|one)\s+(second|minute|hour|day|week|month|year)s?\s+ago\s*$", re.I
)
_UNIT = {
    "second": timedelta(seconds=1),
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": timedelta(days=30),
    "year": timedelta(days=365),
}


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """``--at`` TIME: an ISO date (the end of that day, UTC), an ISO date-time
    (UTC unless it names an offset), ``now``, ``yesterday`` or ``N units ago``
    (seconds to years; a month is 30 days). Raises ValueError."""
    now = now or datetime.now(UTC)
    value = text.strip()
    low = value.lower()
    if low == "now":
        return now
    if low == "yesterday":
        return now - timedelta(days=1)
    match = _RELATIVE.match(value)
    if match:
        count = match.group(1).lower()
        n = 1 if count in ("a", "an", "one") else int(count)
        return now - n * _UNIT[match.group(2).lower()]
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = datetime.fromisoformat(value).replace(tzinfo=UTC)
            return day + timedelta(days=1) - timedelta(microseconds=1)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (use 2026-11-24, 2026-11-24T10:00, "
            "2026-11-24T10:00:00+01:00, or '2 days ago')"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_iso(iso: str | None) -> datetime | None:
    """An ISO 8601 time as an aware datetime (naive means UTC); None if unreadable."""
    if not iso:
        return None
    try:
        parsed = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(when: datetime | None) -> str | None:
    """UTC ISO 8601 to the second, ``Z``-suffixed (None stays None)."""
    if when is None:
        return None
    return when.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# ---- the desired state from git -------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """A target whose desired holder changed between two versions of the manifest."""

    target: str
    before: int | None
    after: int | None
    rollback: bool = False

    @property
    def text(self) -> str:
        """``champion: v2 -> v3`` (stages by name: ``Production: v2 -> v3``)."""
        name = self.target.partition(":")[2]
        note = " (rollback)" if self.rollback else ""
        return f"{name}: {_v(self.before)} -> {_v(self.after)}{note}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "target": self.target,
            "from": self.before,
            "to": self.after,
            "rollback": self.rollback,
        }


@dataclass(frozen=True)
class DesiredChange:
    """One commit that changed the model's manifest."""

    commit: str
    author: str
    email: str
    date: datetime
    message: str
    path: str
    targets: dict[str, int]
    moves: tuple[Move, ...]
    other: tuple[str, ...]
    present: bool  # the manifest names the model after this commit
    readable: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "commit": self.commit,
            "author": self.author,
            "email": self.email,
            "date": iso(self.date),
            "message": self.message,
            "path": self.path,
            "targets": dict(self.targets),
            "moves": [m.to_dict() for m in self.moves],
            "other": list(self.other),
            "present": self.present,
            "readable": self.readable,
        }


def _v(version: int | None) -> str:
    return "-" if version is None else f"v{version}"


def _yaml_load(text: str) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader


def _targets(doc: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for kind, key in (("alias", "aliases"), ("stage", "stages")):
        section = doc.get(key)
        if not isinstance(section, dict):
            continue
        for name, version in section.items():
            try:
                number = int(version)
            except (TypeError, ValueError):
                continue
            target = f"{kind}:{name}"
            if target not in NOT_TARGETS:
                out[target] = number
    return out


_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:", re.M)


@lru_cache(maxsize=8192)
def _load_block(block: str) -> Any:
    return _yaml_load(block)


def load_manifest(text: str) -> Any:
    """A manifest's YAML, read one top-level key at a time with each block's parse
    cached: across a file's history most blocks repeat (the description, tags,
    gates), so 1,000 versions cost little more than their distinct blocks. Falls
    back to one whole-document parse for anything that is not plain top-level
    keys (anchors across keys, several documents)."""
    starts = [(m.start(), m.group(1)) for m in _TOP_KEY.finditer(text)]
    doc: dict[str, Any] = {}
    head = text[: starts[0][0]] if starts else text
    plain = bool(starts) and all(
        not line.strip() or line.lstrip().startswith("#") for line in head.splitlines()
    )
    for index, (start, key) in enumerate(starts if plain else []):
        end = starts[index + 1][0] if index + 1 < len(starts) else len(text)
        block = text[start:end]
        if "&" in block or "*" in block or "\n---" in block:
            plain = False
            break
        try:
            loaded = _load_block(block)
        except Exception:  # noqa: BLE001 - let the whole-document parse say what is wrong
            plain = False
            break
        if not isinstance(loaded, dict) or set(loaded) != {key}:
            plain = False
            break
        doc[key] = loaded[key]
    return doc if plain else _yaml_load(text)


_OTHER_KEYS = ("description", "tags", "gates", "retention", "overrides", "prune")


def desired_history(revisions: list[FileRevision], model: str) -> list[DesiredChange]:
    """The commits (newest first) in which the model's desired state changed."""
    out: list[DesiredChange] = []
    before: dict[str, Any] | None = None
    ever: dict[str, set[int]] = {}  # target -> versions the manifest gave it before
    for rev in reversed(revisions):  # oldest first
        doc: dict[str, Any] | None = None
        readable = True
        if rev.content is not None:
            try:
                loaded = load_manifest(rev.content)
            except Exception:  # noqa: BLE001 - a broken manifest in history is data
                loaded, readable = None, False
            if isinstance(loaded, dict) and str(loaded.get("model")) == model:
                doc = loaded
            elif loaded is not None and not isinstance(loaded, dict):
                readable = False
        if doc is None and before is None and readable:
            continue  # the file named another model then
        old = _targets(before) if before else {}
        new = _targets(doc) if doc else {}
        moves = []
        for target in sorted(set(old) | set(new)):
            if old.get(target) != new.get(target):
                after = new.get(target)
                back = after is not None and after in ever.get(target, set())
                moves.append(Move(target, old.get(target), after, back))
        other = tuple(k for k in _OTHER_KEYS if (before or {}).get(k) != (doc or {}).get(k))
        out.append(
            DesiredChange(
                commit=rev.commit,
                author=rev.author,
                email=rev.email,
                date=parse_iso(rev.date) or EPOCH,
                message=rev.message,
                path=rev.path,
                targets=new,
                moves=tuple(moves),
                other=other,
                present=doc is not None,
                readable=readable,
            )
        )
        for target, version in new.items():
            ever.setdefault(target, set()).add(version)
        if readable:
            before = doc
    out.reverse()
    return out


def find_manifest(root: str | Path, model: str) -> tuple[Path, list[FileRevision]] | None:
    """The repository top and the history of the manifest naming ``model`` (at HEAD,
    else the last file that named it), newest first; None outside git or when no
    file ever named it."""
    from registry_ops import gitrepo as gitinfo

    located = gitinfo.repo_relative(root, MANIFESTS)
    if located is None:
        return None
    top, directory = located
    path = _path_naming(top, model, directory, "HEAD")
    if path is not None:
        return top, _follow(top, model, directory, path, "HEAD")
    for commit, candidate in gitinfo.last_paths_with(top, model, directory):
        for rev in (f"{commit}^", commit):
            text = gitinfo.show_file(top, rev, candidate)
            if text is not None and _model_of(text) == model:
                return top, _follow(top, model, directory, candidate, commit)
    return None


def _path_naming(top: Path, model: str, directory: str, rev: str) -> str | None:
    """The file under ``directory`` whose ``model:`` line names ``model`` at ``rev``."""
    from registry_ops import gitrepo as gitinfo

    for line in gitinfo.grep_head(top, "^model:", directory, rev):
        path, _, rest = line.partition(":model:")
        if path and _model_of("model:" + rest) == model:
            return path
    return None


def _follow(top: Path, model: str, directory: str, path: str, rev: str) -> list[FileRevision]:
    """The history of the model's manifest across renames and moves.

    ``git log --follow`` guesses renames by similarity, and manifests look
    alike: it can jump to another model's file. Its history is cut where the
    file stops naming the model, and picked up again from whichever file named
    it just before (one ``git grep`` per such boundary).
    """
    from registry_ops import gitrepo as gitinfo

    out: list[FileRevision] = []
    seen: set[str] = set()
    while True:
        kept = []
        for revision in gitinfo.file_history(top, path, rev):
            named = _model_of(revision.content) if revision.content is not None else model
            if named not in (model, None):
                break  # followed into another model's file
            kept.append(revision)
        out.extend(kept)
        if not kept or kept[-1].commit in seen:
            return out
        seen.add(kept[-1].commit)
        rev = kept[-1].commit + "^"
        found = _path_naming(top, model, directory, rev)
        if found is None:
            return out
        path = found


_MODEL_LINE = re.compile(r"^model:.*$", re.M)


def _model_of(text: str) -> str | None:
    """The model a manifest names (its top-level ``model:`` line), None if none."""
    match = _MODEL_LINE.search(text)
    if match is None:
        return None
    try:
        loaded = _load_block(match.group(0))
    except Exception:  # noqa: BLE001 - not YAML: no model
        return None
    value = loaded.get("model") if isinstance(loaded, dict) else None
    return None if value is None else str(value)


# ---- who held what, when --------------------------------------------------------------


@dataclass
class Interval:
    """One version holding one target for a while.

    ``source``: ``apply`` (a run of the apply log put it there), ``provenance``
    (its provenance record says an apply did; the log has no run for it),
    ``drift`` (no apply put it there) or ``unmanaged`` (a model registry-ops
    never applied). ``start_known`` / ``end_known`` are false when the change
    happened outside registry-ops, at a time nobody recorded: then ``start`` is
    the earliest it can have been and ``end`` the time it was found.
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
                if move.from_stage and f"stage:{move.from_stage}" not in NOT_TARGETS:
                    steps.append((f"stage:{move.from_stage}", "leave", move.new, None))
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


def iso_us(when: datetime) -> str:
    """UTC ISO 8601 with microseconds (the precision applies are stamped with)."""
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def _created(model: ObservedModel | None, version: int | None) -> datetime:
    if model is None or version is None or version not in model.versions:
        return EPOCH
    return datetime.fromtimestamp(model.versions[version].creation_timestamp / 1000, UTC)


def timeline(runs: list[LoggedRun], model: ObservedModel | None, now: datetime) -> list[Interval]:
    """Every holding of every target, from the log, the records and the registry now."""
    logged = {
        (m.target, m.new, iso_us(parse_iso(r.applied_at) or EPOCH))
        for r in runs
        for m in r.moves
        if m.target and m.new is not None and m.landed is True
    }
    events = _log_events(runs) + _provenance_events(model, logged)
    events.sort(key=lambda e: (e.when, e.order))
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

    current = _current(model)
    for target in sorted(set(open_) | set(current)):
        holders = open_.get(target, [])
        now_holding = current.get(target, [])
        for interval in list(holders):
            if interval.version not in now_holding:
                close(interval, now, known=False)  # changed outside registry-ops since
        for version in now_holding:
            if version in [i.version for i in holders]:
                continue
            start = max(last_event.get(target, EPOCH), _created(model, version))
            source = "drift" if managed else "unmanaged"
            interval = Interval(target, version, min(start, now), None, source,
                                start_known=False, reason=source)  # fmt: skip
            open_.setdefault(target, []).append(interval)
    done.extend(i for holders in open_.values() for i in holders)
    done.sort(key=lambda i: (i.target, i.start, i.version))
    return done


def _versions(holders: list[Interval]) -> list[int]:
    return [i.version for i in holders]


def _current(model: ObservedModel | None) -> dict[str, list[int]]:
    if model is None:
        return {}
    out: dict[str, list[int]] = {f"alias:{a}": [v] for a, v in sorted(model.aliases.items())}
    for number, version in sorted(model.versions.items()):
        target = f"stage:{version.stage}"
        if target not in NOT_TARGETS:
            out.setdefault(target, []).append(number)
    return out


# ---- the whole history ----------------------------------------------------------------


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
                entry["note"] = _uncertainty(interval)
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


def _uncertainty(interval: Interval) -> str | None:
    if interval.source == "drift":
        found = f"found and reverted by apply run {interval.reverted_by}" if interval.reverted_by \
            else "still in the registry"  # fmt: skip
        return (
            f"drift: set outside registry-ops at an unrecorded time after {iso(interval.start)}; "
            f"{found}"
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
    try:
        registry = connect()
        observed = registry.read_state([model]).get(model)
        runs = read_log(registry, model)
        now = now or datetime.now(UTC)  # the moment the registry was read
    finally:
        worker.join()
    if failed:
        raise failed[0]
    notes = []
    manifest = None
    desired: list[DesiredChange] = []
    if found[0] is not None:
        _, revisions = found[0]
        desired = desired_history(revisions, model)
        manifest = revisions[0].path if revisions else None
    else:
        notes.append(f"no manifest under {MANIFESTS}/ names {model} in git")
    if observed is None and not desired and not runs:
        raise RegistryOpsError(
            f"nothing known about {model}: no manifest in git names it, it is not "
            "registered in MLflow, and the apply log has no run for it"
        )
    if observed is None:
        notes.append(f"{model} is not registered in MLflow now")
    truncated = sum(r.truncated for r in runs)
    if truncated:
        notes.append(
            f"{truncated} archive change(s) are only in the runs' report.json (too many for a tag)"
        )
    return History(
        model=model,
        manifest=manifest,
        desired=desired,
        applies=runs,
        current=_current(observed),
        intervals=timeline(runs, observed, now),
        now=now,
        registered=observed is not None,
        notes=notes,
    )
