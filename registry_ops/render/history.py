"""Render a model's history (``history MODEL``): text, JSON and Markdown.

The Markdown form carries a Mermaid Gantt chart of which version held each
target over time (GitHub renders Mermaid in comments and files). Everything
from git or the registry is escaped: made printable in every format (commit
messages and names stay on their line, see :mod:`registry_ops.core.text`), then
Markdown and HTML in tables, Mermaid entity codes (``#35;``) inside the chart.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import IO, Any

from registry_ops.core.text import json_text, printable
from registry_ops.gitops.history import History, Interval, iso, parse_iso
from registry_ops.render.markdown import escape

MAX_GANTT_BARS = 200  # GitHub's Mermaid refuses very large charts; the newest are shown
_SOURCE = {
    "apply": "applied",
    "provenance": "applied (provenance record; no apply-log run)",
    "adopted": "adopted",
    "drift": "DRIFT (not put there by any apply)",
    "unmanaged": "in the registry (registry-ops never applied this model)",
}


def _v(version: int | None) -> str:
    return "-" if version is None else f"v{version}"


def _short(sha: str | None) -> str:
    if not sha:
        return "unknown"
    head, plus, rest = sha.partition("+")
    return head[:12] + plus + rest


def _name(target: str) -> str:
    kind, _, name = target.partition(":")
    return f"{kind} {name}"


def _when(value: str | None) -> str:
    return (value or "now").replace("T", " ")


def _holder_line(entry: dict[str, Any]) -> str:
    """One holder of a target at the asked time, in words."""
    parts = [f"{_v(entry['version'])}", _SOURCE.get(entry["source"], entry["source"])]
    since = entry["start"] if entry["start_known"] else f"some time after {entry['start']}"
    parts.append(f"since {_when(since)}")
    run = entry.get("apply")
    if run:
        parts.append(
            f"by apply run {run['run_id']} ({run['actor']}, {run['outcome']}) at "
            f"{_when(iso(_parse(run['applied_at'])))}"
        )
    elif entry.get("actor"):
        parts.append(f"by {entry['actor']}")
    info = entry.get("commit_info")
    if info:
        parts.append(
            f'from commit {info["commit"][:12]} "{info["message"]}" by {info["author"]} '
            f"<{info['email']}> on {_when(info['date'])}"
        )
    elif entry.get("commit"):
        parts.append(f"from commit {_short(entry['commit'])}")
    return "; ".join(parts)


def _parse(value: str) -> datetime | None:
    return parse_iso(value)


def unverified_line(entry: dict[str, Any]) -> str:
    """One record that claims an apply without a valid MAC, and what it claims."""
    claims = entry.get("claims", {})
    words = {"actor": "by", "commit": "commit", "outcome": "outcome", "applied_at": "at"}
    said = [f"{words.get(k, k)} {v}" for k, v in claims.items()]
    claimed = f": claims {', '.join(said)}" if said else ""
    why = entry.get("why", "no valid MAC")
    if entry.get("kind") == "provenance":
        return f"unverified provenance record on v{entry['version']} ({why}){claimed}"
    return f"unverified apply-log run {entry.get('run_id')} ({why}){claimed}"


_UNVERIFIED_HEAD = "Unverified records (no valid MAC, so not counted as applies):"


# ---- text -----------------------------------------------------------------------------


def _put(stream: IO[str], text: str) -> None:
    """Write ``text``, made printable, keeping only its own leading and trailing line
    breaks: a commit message or a name cannot add a line."""
    body = text.strip("\n")
    head = text[: len(text) - len(text.lstrip("\n"))]
    tail = text[len(text.rstrip("\n")) :] if body else ""
    stream.write(head + printable(body) + tail)


def render_text(
    history: History, stream: IO[str], color: bool = False, at: datetime | None = None
) -> None:
    """Plain text for a terminal or a CI log."""
    where = f" ({history.manifest})" if history.manifest else ""
    if at is not None:
        _text_at(history, stream, at, where)
        return
    _put(stream, f"History of {history.model}{where}\n")
    for note in history.notes:
        _put(stream, f"note: {note}\n")
    _put(stream, "\nDesired state (git), newest first:\n")
    if not history.desired:
        _put(stream, "  (no commits)\n")
    for change in history.desired:
        _put(
            stream,
            f"  {_when(iso(change.date))}  {change.commit[:12]}  {change.author} <{change.email}>"
            f"  {change.message}\n",
        )
        moved = [m.text for m in change.moves]
        if not change.present:
            moved.append("manifest no longer names the model")
        if not change.readable:
            moved.append("manifest unreadable at this commit")
        if change.other:
            moved.append("changed: " + ", ".join(change.other))
        _put(stream, f"      {'; '.join(moved) or 'no alias or stage moved'}\n")
    _put(stream, "\nApplies (MLflow experiment registry-ops/applies), newest first:\n")
    if not history.applies:
        _put(stream, "  (none recorded)\n")
    for run in reversed(history.applies):
        _put(
            stream,
            f"  {_when(iso(_parse(run.applied_at)))}  run {run.run_id}  {run.actor}  from "
            f"{_short(run.commit)}  {run.outcome} ({run.model_status})\n",
        )
        for move in run.moves:
            landed = {True: "", False: "  NOT LANDED", None: "  (unknown)"}[move.landed]
            _put(
                stream,
                f"      {move.target}: {_v(move.previous)} -> {_v(move.new)} "
                f"[{move.reason}]{landed}\n",
            )
    _text_unverified(history, stream)
    _put(stream, "\nWho held each target:\n")
    for target in history.targets:
        _put(stream, f"  {_name(target)}\n")
        for interval in [i for i in history.intervals if i.target == target]:
            _put(stream, f"    {_interval_text(interval)}\n")
    now = ", ".join(
        f"{_name(t)}: {', '.join(_v(v) for v in vs)}" for t, vs in history.current.items()
    )
    _put(stream, f"\nNow in the registry: {now or 'nothing held'}\n")
    drift = history.drift
    _put(stream, f"Drift: {len(drift) or 'none'}\n")
    for interval in drift:
        _put(stream, f"  {_name(interval.target)} {_interval_text(interval)}\n")


def _text_unverified(history: History, stream: IO[str]) -> None:
    if history.unverified:
        _put(stream, f"\n{_UNVERIFIED_HEAD}\n")
        for entry in history.unverified:
            _put(stream, f"  {unverified_line(entry)}\n")


def _interval_text(interval: Interval) -> str:
    start = iso(interval.start) if interval.start_known else f"after {iso(interval.start)}"
    end = iso(interval.end) or "now"
    if not interval.end_known:
        end = f"before {end}"
    how = _SOURCE.get(interval.source, interval.source)
    by = []
    if interval.run_id:
        by.append(f"run {interval.run_id}")
    if interval.actor:
        by.append(interval.actor)
    if interval.commit:
        by.append(f"commit {_short(interval.commit)}")
    if interval.reverted_by:
        by.append(f"reverted by run {interval.reverted_by}")
    if interval.held_by is not None and not interval.start_known:
        by.append(f"in place by {_when(iso(interval.held_by))}")
    extra = f" ({', '.join(by)})" if by else ""
    return f"{_v(interval.version)}  {_when(start)} .. {_when(end)}  {how}{extra}"


def _text_at(history: History, stream: IO[str], at: datetime, where: str) -> None:
    answer = history.at(at)
    _put(stream, f"{history.model}{where} at {_when(answer['time'])}:\n")
    for note in history.notes:
        _put(stream, f"note: {note}\n")
    if not answer["targets"]:
        _put(stream, "  nothing held any target then\n")
    for target, data in answer["targets"].items():
        holders = data["holders"]
        _put(stream, f"  {_name(target)}: ")
        if not holders:
            _put(stream, "held by no version\n")
        for index, entry in enumerate(holders):
            pad = "" if index == 0 else " " * (len(_name(target)) + 4)
            _put(stream, f"{pad}{_holder_line(entry)}\n")
            if entry.get("note"):
                _put(stream, f"{' ' * (len(_name(target)) + 6)}note: {entry['note']}\n")
        info = data["desired_commit"]
        if info is not None:
            shown = [e["version"] for e in holders]
            wanted = data["desired"]
            agree = "" if wanted in shown else "  (differs from what held it)"
            _put(
                stream,
                f"{' ' * (len(_name(target)) + 6)}desired then: {_v(wanted)} per commit "
                f"{info['commit'][:12]} ({info['author']}, {_when(info['date'])}){agree}\n",
            )
    _text_unverified(history, stream)


# ---- JSON -----------------------------------------------------------------------------


def render_json(
    history: History, stream: IO[str], color: bool = False, at: datetime | None = None
) -> None:
    """One JSON object: the whole history, or with ``--at`` the answer for that time."""
    if at is not None:
        data: dict[str, Any] = {
            "model": history.model,
            "manifest": history.manifest,
            "at": history.at(at),
            "notes": history.notes,
            "records_authenticated": history.authenticated,
            "unverified": history.unverified,
        }
    else:
        data = history.to_dict()
    stream.write(json_text(json.dumps(data, indent=2)) + "\n")


# ---- Markdown -------------------------------------------------------------------------


def mermaid_text(text: str) -> str:
    """Text safe inside a Mermaid Gantt line: anything but letters, digits and a few
    plain marks becomes an entity code (``#58;`` for ``:``), which Mermaid decodes;
    so no name can end a task, open a comment (``%%``) or close the code fence."""
    safe = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.-()/+@")
    # printable first: Mermaid decodes entities, so a bidi control spelled as one
    # would still reach the rendered chart.
    return "".join(ch if ch in safe else f"#{ord(ch)};" for ch in printable(text))


def _gantt_time(when: datetime | None, fallback: datetime) -> str:
    value = iso(when or fallback) or ""
    return value.replace("T", " ").removesuffix("Z")


def gantt(history: History) -> str:
    """A Mermaid Gantt chart: one section per target, one bar per holding (drift in red)."""
    bars = sorted(history.intervals, key=lambda i: i.start)[-MAX_GANTT_BARS:]
    lines = [
        "```mermaid",
        "gantt",
        f"    title {mermaid_text('Which version held each target of ' + history.model)}",
        "    dateFormat YYYY-MM-DD HH:mm:ss",
        "    axisFormat %Y-%m-%d",
    ]
    for target in history.targets:
        mine = [i for i in bars if i.target == target]
        if not mine:
            continue
        lines.append(f"    section {mermaid_text(_name(target))}")
        for interval in mine:
            label = f"v{interval.version}"
            if interval.source in ("drift", "adopted"):
                label += f" {interval.source}"
            elif interval.commit:
                label += f" {_short(interval.commit)[:7]}"
            tags = {"drift": "crit, ", "apply": "", "provenance": "", "adopted": "",
                    "unmanaged": "active, "}  # fmt: skip
            status = tags.get(interval.source, "")
            if interval.end is None and interval.source != "drift":
                status = "active, "
            start = _gantt_time(interval.start, history.now)
            end = _gantt_time(interval.end, history.now)
            lines.append(f"    {mermaid_text(label)} :{status}{start}, {end}")
    lines.append("```")
    return "\n".join(lines) + "\n"


def render_markdown(
    history: History, stream: IO[str], color: bool = False, at: datetime | None = None
) -> None:
    """A Markdown report (for a pull request or an issue), with the Gantt chart."""
    model = escape(history.model)
    where = f" (`{escape(history.manifest)}`)" if history.manifest else ""
    stream.write(f"### History of {model}{where}\n\n")
    for note in history.notes:
        stream.write(f"> {escape(note)}\n\n")
    if at is not None:
        answer = history.at(at)
        stream.write(f"#### At {escape(_when(answer['time']))}\n\n")
        stream.write(
            "| target | held by | put there by | desired then |\n| --- | --- | --- | --- |\n"
        )
        for target, data in answer["targets"].items():
            holders = "<br>".join(escape(_holder_line(e)) for e in data["holders"]) or "none"
            notes = "<br>".join(escape(e["note"]) for e in data["holders"] if e.get("note"))
            info = data["desired_commit"]
            desired = f"{_v(data['desired'])} (`{escape(info['commit'][:12])}`)" if info else "-"
            stream.write(f"| {escape(_name(target))} | {holders} | {notes or '-'} | {desired} |\n")
        stream.write("\n")
    stream.write(gantt(history) + "\n")
    stream.write("#### Desired state (git)\n\n| when | commit | who | message | moved |\n")
    stream.write("| --- | --- | --- | --- | --- |\n")
    for change in history.desired:
        moved = "<br>".join(escape(m.text) for m in change.moves) or "-"
        stream.write(
            f"| {escape(_when(iso(change.date)))} | `{change.commit[:12]}` | "
            f"{escape(change.author)} | {escape(change.message)} | {moved} |\n"
        )
    stream.write("\n#### Applies (MLflow experiment `registry-ops/applies`)\n\n")
    stream.write("| when | run | who | commit | outcome | changes |\n")
    stream.write("| --- | --- | --- | --- | --- | --- |\n")
    for run in reversed(history.applies):
        moves = "<br>".join(
            escape(
                f"{m.target}: {_v(m.previous)} -> {_v(m.new)} [{m.reason}]"
                + ("" if m.landed else " (not landed)")
            )
            for m in run.moves
        )
        stream.write(
            f"| {escape(_when(iso(_parse(run.applied_at))))} | `{escape(run.run_id)}` | "
            f"{escape(run.actor)} | `{escape(_short(run.commit))}` | {escape(run.outcome)} | "
            f"{moves or '-'} |\n"
        )
    if history.unverified:
        stream.write(f"\n#### {escape(_UNVERIFIED_HEAD.rstrip(':'))}\n\n")
        for entry in history.unverified:
            stream.write(f"- {escape(unverified_line(entry))}\n")
    drift = history.drift
    if drift:
        stream.write("\n#### Drift\n\n")
        for interval in drift:
            stream.write(
                f"- {escape(_name(interval.target))}: {escape(_interval_text(interval))}\n"
            )
    stream.write("\n")
