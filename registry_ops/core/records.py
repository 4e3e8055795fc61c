"""Authenticated records: what registry-ops writes into the registry and later trusts.

registry-ops keeps records in the registry itself: the evaluation cache and the
provenance on versions, the last applied commit in the lease tag, the runs of the
apply log. Anyone with write access to the registry can write a tag or a run, so
a record decides nothing unless it carries a MAC under ``REGISTRY_OPS_PLAN_KEY``
bound to its kind, the model, the version and the record's whole content: a
forged record, or a genuine one copied onto another version, fails the check.

Without a key nothing can be authenticated: records are then used as they are
(the behaviour of a repository that never set a key), and every reader that
shows them says they are unauthenticated. docs/trust.md says what that costs.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KEY_ENV = "REGISTRY_OPS_PLAN_KEY"
MAC_FIELD = "mac"
_SCHEME = "hmac-sha256:"
# Records and plans share the one secret; a derived key per use keeps a MAC made
# for one from ever verifying as the other.
_DOMAIN = b"registry-ops records v1"


class Trust(enum.Enum):
    """What a record's MAC says."""

    VERIFIED = "verified"  # a key is set and the MAC matches
    UNVERIFIED = "unverified"  # a key is set and the MAC is missing or wrong: never used
    UNKEYED = "unkeyed"  # no key is set: nothing can be checked

    @property
    def usable(self) -> bool:
        """Whether the record may inform a decision."""
        return self is not Trust.UNVERIFIED


@dataclass(frozen=True)
class RecordKey:
    """The secret records are authenticated with (``None``: no key configured)."""

    secret: bytes | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RecordKey:
        """The key from ``REGISTRY_OPS_PLAN_KEY`` (empty or unset: none)."""
        value = (os.environ if environ is None else environ).get(KEY_ENV, "")
        if not value:
            return cls(None)
        return cls(hmac.new(value.encode(), _DOMAIN, hashlib.sha256).digest())

    @property
    def enabled(self) -> bool:
        """A key is configured."""
        return self.secret is not None

    def mac(self, kind: str, model: str, version: int | None, content: Mapping[str, Any]) -> str:
        """The MAC of one record; ``content`` must not hold the MAC itself."""
        if self.secret is None:
            raise ValueError("no record key configured")
        payload = json.dumps(
            {"kind": kind, "model": model, "version": version, "content": content},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=True,
            allow_nan=False,
            default=str,
        )
        digest = hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()
        return _SCHEME + digest

    def seal(
        self, kind: str, model: str, version: int | None, content: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``content`` with its MAC added under ``"mac"`` (unchanged without a key)."""
        body = {k: v for k, v in content.items() if k != MAC_FIELD}
        if self.secret is None:
            return body
        return {**body, MAC_FIELD: self.mac(kind, model, version, body)}

    def check(self, kind: str, model: str, version: int | None, record: Mapping[str, Any]) -> Trust:
        """Whether ``record`` (as read back, MAC included) is authentic."""
        if self.secret is None:
            return Trust.UNKEYED
        given = record.get(MAC_FIELD)
        if not isinstance(given, str) or not given.isascii():
            return Trust.UNVERIFIED
        body = {k: v for k, v in record.items() if k != MAC_FIELD}
        try:
            wanted = self.mac(kind, model, version, body)
        except ValueError:  # a NaN or the like: nothing registry-ops wrote
            return Trust.UNVERIFIED
        return Trust.VERIFIED if hmac.compare_digest(given, wanted) else Trust.UNVERIFIED
