"""Provenance: who put a version where, from which commit, recorded in the registry.

Each version apply touches carries one tag, ``registry_ops.provenance``, a
JSON record: commit (and whether the manifests had uncommitted changes),
manifest path, actor, time, the plan's digest, the targets this apply gave
it, and ``held``: every target it ever took, with the time it last took it.
One tag per version keeps a change at one stamp write, and JSON values keep
long alias names out of tag keys (MLflow caps keys at 250 characters).

Crash safety comes from the planner, not from write order: a version that
holds a managed target but whose record does not show it taking that target
after every other version did is "unstamped", and the planner plans a
stamp for it. So a crash between a change and its stamp is repaired by the
next apply, with a record that says it was recovered.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from registry_ops.core.state import PROVENANCE_PREFIX, ObservedModel, ObservedVersion

PROVENANCE_TAG = PROVENANCE_PREFIX + "provenance"
MAX_HELD = 64  # targets remembered per version; the oldest are dropped beyond this


def now_iso() -> str:
    """UTC time with microseconds: records compare as strings in time order."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def actor() -> str:
    """Who applies: CI's actor when set, else the local user."""
    return os.environ.get("GITHUB_ACTOR") or _user()


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def host() -> str:
    """This machine's name (leases say where their holder runs)."""
    return socket.gethostname() or "unknown"


@dataclass(frozen=True)
class Provenance:
    """Who applies, from which commit, when, and which plan."""

    commit: str | None
    uncommitted: bool
    actor: str
    applied_at: str
    plan: str

    @classmethod
    def current(cls, commit: str | None, uncommitted: bool, plan_digest: str) -> Provenance:
        """Provenance for an apply starting now."""
        return cls(commit, uncommitted, actor(), now_iso(), plan_digest)

    @property
    def commit_label(self) -> str:
        """The commit as stamped: ``<sha>``, ``<sha>+uncommitted`` or ``unknown``."""
        if not self.commit:
            return "unknown"
        return self.commit + ("+uncommitted" if self.uncommitted else "")


def record(version: ObservedVersion) -> dict[str, Any]:
    """The version's provenance record ({} when it has none or it is unreadable)."""
    text = version.tags.get(PROVENANCE_TAG)
    if not text:
        return {}
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # a tag of ``[[[[...`` exhausts the parser
        return {}
    return data if isinstance(data, dict) else {}


def held_since(version: ObservedVersion, target: str) -> str | None:
    """When ``version`` last took ``target`` (``alias:x`` / ``stage:X``), per its record."""
    held = record(version).get("held")
    value = held.get(target) if isinstance(held, dict) else None
    return value if isinstance(value, str) else None


def last_taker(model: ObservedModel, target: str, besides: int) -> int | None:
    """The version other than ``besides`` whose record shows it taking ``target`` last:
    the holder a promotion of ``besides`` displaced, as far as the records tell."""
    taken = [
        (t, n) for n, v in model.versions.items() if n != besides and (t := held_since(v, target))
    ]
    return max(taken)[1] if taken else None


def stamp(
    version: ObservedVersion,
    targets: Iterable[str],
    manifest: str,
    prov: Provenance,
    **extra: Any,
) -> str:
    """The new value of the version's provenance tag after this apply touched it."""
    targets = list(dict.fromkeys(targets))
    previous = record(version).get("held")
    held: dict[str, str] = dict(previous) if isinstance(previous, dict) else {}
    for target in targets:
        if not target.startswith("stage:Archived"):
            held.pop(target, None)  # re-insert: dict order is "most recently taken last"
            held[target] = prov.applied_at
    if len(held) > MAX_HELD:
        held = dict(list(held.items())[-MAX_HELD:])
    data = {
        "commit": prov.commit_label,
        "manifest": manifest,
        "applied_at": prov.applied_at,
        "applied_by": prov.actor,
        "plan": prov.plan,
        "targets": targets,
        "held": held,
        **extra,
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def unstamped(model: ObservedModel, target: str, adopting: bool = False) -> list[int]:
    """Holders of ``target`` whose record does not show them taking it last.

    Only models registry-ops manages are checked, or that this plan adopts
    (``adopting``: it changes them anyway, or their manifest protects a target):
    a registry just adopted with ``export`` has no records yet, and its first
    plan stays empty unless it asks for protection.
    """
    if not (model.managed or adopting):
        return []
    holders = model.holders(target)
    others = [held_since(v, target) for n, v in model.versions.items() if n not in holders]
    latest_other = max((t for t in others if t), default="")
    out = []
    for number in holders:
        since = held_since(model.versions[number], target)
        if since is None or since < latest_other:
            out.append(number)
    return out


def with_stamp(model: ObservedModel, number: int, value: str) -> ObservedModel:
    """``model`` with one version's provenance tag set (plain data, for checks and tests)."""
    version = model.versions[number]
    tags = {**version.tags, PROVENANCE_TAG: value}
    return replace(model, versions={**model.versions, number: replace(version, tags=tags)})
