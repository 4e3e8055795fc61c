"""One apply per model at a time: a lease kept in the registry itself.

MLflow has no compare-and-set, so the lease is a registered-model tag,
``registry_ops.lease``, taken in three steps (docs/trust.md, "One writer at a
time: the lease", says what it guarantees):

1. read the tag; a live lease of someone else refuses the apply, naming
   its holder and since when;
2. write our own lease (a random token, holder, expiry);
3. wait ``settle`` seconds, then read it back: only the writer whose token
   is there may write. Two racers that both saw the tag free both write,
   and after the wait both read the token of whichever wrote last.

That is safe as long as no racer takes longer than ``settle`` between its
step-1 read and its step-2 write (one request, tens of milliseconds); the
holder re-reads the tag right before writing each model and stops if it
lost it. A lease expires after ``ttl`` seconds, so a crashed apply blocks
nobody for long; ``registry-ops force-unlock MODEL`` breaks it at once, and
a lease whose holder process is gone from this same host counts as expired.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from registry_ops.core.authentic import dump, load
from registry_ops.core.provenance import actor, host
from registry_ops.core.records import RecordKey
from registry_ops.core.state import PROVENANCE_PREFIX

LEASE_TAG = PROVENANCE_PREFIX + "lease"
UNLOCK_TAG = PROVENANCE_PREFIX + "last_force_unlock"
TTL_ENV = "REGISTRY_OPS_LEASE_TTL"
SETTLE_ENV = "REGISTRY_OPS_LEASE_SETTLE"
DEFAULT_TTL = 900.0  # seconds; an apply of one model takes seconds, of 1,000 a few minutes
DEFAULT_SETTLE = 1.0  # seconds; far above one request's latency
LEASE_KIND = "lease"  # the kind a released lease's record is sealed as


def _seconds(env: str, default: float) -> float:
    try:
        value = float(os.environ.get(env, default))
    except ValueError:
        return default
    return value if value >= 0 else default


def ttl() -> float:
    """Lease lifetime in seconds (``REGISTRY_OPS_LEASE_TTL``)."""
    return _seconds(TTL_ENV, DEFAULT_TTL)


def settle() -> float:
    """Seconds between writing a lease and reading it back (``REGISTRY_OPS_LEASE_SETTLE``)."""
    return _seconds(SETTLE_ENV, DEFAULT_SETTLE)


@dataclass(frozen=True)
class Lease:
    """Who holds a model's lease, since when, until when."""

    token: str
    holder: str
    host: str
    pid: int
    since: str
    expires: str
    plan: str | None = None
    commit: str | None = None

    @classmethod
    def new(cls, plan: str | None, commit: str | None) -> Lease:
        """A fresh lease for this process, valid for :func:`ttl` seconds."""
        now = datetime.now(UTC)
        return cls(
            token=secrets.token_hex(16),
            holder=actor(),
            host=host(),
            pid=os.getpid(),
            since=now.isoformat(timespec="seconds"),
            expires=(now + timedelta(seconds=ttl())).isoformat(timespec="seconds"),
            plan=plan,
            commit=commit,
        )

    def to_tag(self) -> str:
        """The tag value (JSON)."""
        return json.dumps(self.__dict__, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_tag(cls, text: str | None) -> Lease | None:
        """Parse a tag value; an unreadable one is a lease of unknown origin that never expires.

        A released lease (the record of the last apply) is no lease: None.
        """
        if not text:
            return None
        try:
            data: Any = json.loads(text)
            if isinstance(data, dict) and data.get("released"):
                return None
            return cls(
                token=str(data["token"]),
                holder=str(data["holder"]),
                host=str(data.get("host", "")),
                pid=int(data.get("pid", 0)),
                since=str(data["since"]),
                expires=str(data["expires"]),
                plan=data.get("plan"),
                commit=data.get("commit"),
            )
        except (ValueError, KeyError, TypeError):
            never = "9999-12-31T00:00:00+00:00"
            return cls("?", "unknown (unreadable lease tag)", "", 0, "unknown", never)

    def expired(self, now: datetime | None = None) -> bool:
        """Past its expiry, or its holder process is gone from this host."""
        now = now or datetime.now(UTC)
        try:
            expires = datetime.fromisoformat(self.expires)
        except ValueError:
            return False  # unreadable: held until someone runs force-unlock
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        if expires <= now:
            return True
        return self.host == host() and self.pid > 0 and not _alive(self.pid)

    def describe(self) -> str:
        """``alice on ci-runner-3 (pid 42) since 2026-11-24T10:00:00+00:00``."""
        where = f" on {self.host}" if self.host else ""
        pid = f" (pid {self.pid})" if self.pid else ""
        return f"{self.holder}{where}{pid} since {self.since}, until {self.expires}"


def released(
    lease: Lease, commit: str, model: str, key: RecordKey, plan_created_at: str | None = None
) -> str:
    """The tag value that frees ``model`` after an apply: it records the last applied
    commit, and the digest and creation time of the plan applied (a saved plan is
    never applied twice, nor over a newer one: registry_ops.pipeline.replay), so
    releasing and recording cost one write together. Sealed with ``key`` (when one is
    set): the commit decides whether an edit counts as drift, the plan what may follow."""
    record = {
        "released": True,
        "last_applied_commit": commit,
        "released_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "by": lease.holder,
        "plan": lease.plan,
        "plan_created_at": plan_created_at,
    }
    return dump(key.seal(LEASE_KIND, model, None, record))


def released_record(text: str | None, model: str, key: RecordKey) -> dict[str, Any] | None:
    """The record of the last apply in ``model``'s lease tag: None while leased, if never
    released, unreadable, or (with a key set) without a valid MAC for this model."""
    data = load(text)
    if data is None or not data.get("released"):
        return None
    return data if key.check(LEASE_KIND, model, None, data).usable else None


def last_applied_commit(text: str | None, model: str, key: RecordKey) -> str | None:
    """The last applied commit recorded in ``model``'s lease tag (see :func:`released_record`)."""
    data = released_record(text, model, key)
    if data is None:
        return None
    commit = data.get("last_applied_commit")
    return commit if isinstance(commit, str) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
