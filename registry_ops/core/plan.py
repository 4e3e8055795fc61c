"""The plan as data: typed changes, per-model plans, a sealed JSON form.

A plan is what ``plan`` prints and ``apply`` executes. It carries the
evidence for every promotion (gate results and what they read) and, per
model, a snapshot and fingerprint of the live state it was computed from.

A saved plan is sealed: ``digest`` is a SHA-256 over everything apply reads
(changes, gate results with their evidence, snapshots, target registry,
manifests commit, format version), and ``signature`` an HMAC of the digest
under ``REGISTRY_OPS_PLAN_KEY`` when that is set. Derived fields
(``status``, ``summary``, ``blocked``) are recomputed on load, never read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import IO, Any

from registry_ops.errors import PlanFileError, PlanSealError

FORMAT_VERSION = 1
ACTIONS = (
    "update_description",
    "set_model_tag",
    "delete_model_tag",
    "set_alias",
    "transition_stage",
    "delete_alias",
)
PROMOTION_STAGES = ("Production", "Staging")
KEY_ENV = "REGISTRY_OPS_PLAN_KEY"
# A saved plan of 10,000 models is a few MB; anything far larger is not ours.
MAX_PLAN_BYTES = 256 * 1024 * 1024


@dataclass
class GateResult:
    """The outcome of one gate for one promotion, with what it read."""

    name: str
    passed: bool
    detail: str
    policy: str | None = None
    observed: float | None = None  # the candidate's value
    threshold: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    holder: float | None = None  # the current holder's value, for relative gates
    delta: float | None = None  # candidate minus holder

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (non-finite numbers become strings: JSON has none)."""
        return {
            "name": self.name,
            "passed": self.passed,
            "detail": self.detail,
            "policy": self.policy,
            "observed": _finite(self.observed),
            "threshold": _finite(self.threshold),
            "holder": _finite(self.holder),
            "delta": _finite(self.delta),
            "evidence": jsonable(self.evidence),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=data["name"],
            passed=data["passed"],
            detail=data.get("detail", ""),
            policy=data.get("policy"),
            observed=data.get("observed"),
            threshold=data.get("threshold"),
            evidence=data.get("evidence", {}),
            holder=data.get("holder"),
            delta=data.get("delta"),
        )


@dataclass
class Change:
    """One change to one registered model.

    ``version`` is the version the change is about (the new holder of an alias
    or stage); ``from_version`` the version that holds the target now.
    ``reason`` says why: ``manifest``, ``prune``, ``displaced``, ``retention``,
    or ``provenance`` (the target is held but its holder was never stamped).
    """

    action: str
    model: str
    version: int | None = None
    from_version: int | None = None
    alias: str | None = None
    stage: str | None = None
    from_stage: str | None = None
    key: str | None = None
    value: str | None = None
    from_value: str | None = None
    reason: str = "manifest"
    gates: list[GateResult] = field(default_factory=list)
    # An emergency override of this target's gates, from the manifest:
    # {"reason", "expires", "author", "active"}; an expired one is inactive.
    override: dict[str, Any] | None = None
    # A return to a version that held the target before, exempt from the gates
    # by its policy: {"version", "held_from", "held_to"}.
    rollback: dict[str, Any] | None = None
    # For reason "drift": what the registry says of the out-of-band edit
    # ({"put_by_registry_ops_at", "commit", "protected"}).
    drift: dict[str, Any] | None = None
    # a policy applies to this promotion (even one with no result yet); display only
    gated: bool = field(default=False, compare=False)

    @property
    def failed(self) -> bool:
        """A gate of this change failed (whether or not an override lets it through)."""
        return any(not g.passed for g in self.gates)

    @property
    def overridden(self) -> bool:
        """A gate failed, and an active override lets the promotion through."""
        return self.failed and bool(self.override and self.override.get("active"))

    @property
    def blocked(self) -> bool:
        """Derived, never stored: a gate failed and no active override covers it."""
        return self.failed and not self.overridden

    @property
    def target(self) -> str | None:
        """``alias:NAME`` or ``stage:NAME`` for alias and stage changes."""
        if self.alias is not None:
            return f"alias:{self.alias}"
        if self.stage is not None:
            return f"stage:{self.stage}"
        return None

    @property
    def target_name(self) -> str | None:
        """The alias or stage name alone (what ``gates:`` in a manifest is keyed by)."""
        return self.alias if self.alias is not None else self.stage

    @property
    def is_promotion(self) -> bool:
        """Gives a version a target it does not hold now: only these run gates."""
        if self.reason == "provenance":
            return False
        if self.action == "set_alias":
            return True
        return self.action == "transition_stage" and self.stage in PROMOTION_STAGES

    @property
    def alert(self) -> bool:
        """Reverts an out-of-band move of a protected target."""
        return bool(self.drift and self.drift.get("protected"))

    @property
    def ungated(self) -> bool:
        """A promotion that no policy gates: reviewers should see it."""
        return self.is_promotion and not self.gated and not self.gates and not self.rollback

    def sealed(self) -> dict[str, Any]:
        """What the digest covers (no derived fields)."""
        out: dict[str, Any] = {"action": self.action}
        if self.alias is not None:
            out["alias"] = self.alias
        if self.stage is not None:
            out["stage"] = self.stage
            out["from_stage"] = self.from_stage
        if self.key is not None:
            out["key"] = self.key
        if self.action in ("set_model_tag", "delete_model_tag", "update_description"):
            out["value"] = self.value
            out["from_value"] = self.from_value
        out["version"] = self.version
        out["from_version"] = self.from_version
        out["reason"] = self.reason
        out["gates"] = [g.to_dict() for g in self.gates]
        if self.override is not None:
            out["override"] = jsonable(self.override)
        if self.rollback is not None:
            out["rollback"] = jsonable(self.rollback)
        if self.drift is not None:
            out["drift"] = jsonable(self.drift)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; keys that do not apply to the action are left out."""
        return {
            **self.sealed(),
            "blocked": self.blocked,
            "overridden": self.overridden,
            "ungated": self.ungated,
            "alert": self.alert,
        }

    @classmethod
    def from_dict(cls, model: str, data: dict[str, Any]) -> Change:
        """Inverse of :meth:`to_dict` (``blocked`` and ``ungated`` are recomputed)."""
        if data.get("action") not in ACTIONS:
            raise PlanFileError(f"unknown action in plan file: {data.get('action')!r}")
        gates = [GateResult.from_dict(g) for g in data.get("gates", [])]
        change = cls(
            action=data["action"],
            model=model,
            version=data.get("version"),
            from_version=data.get("from_version"),
            alias=data.get("alias"),
            stage=data.get("stage"),
            from_stage=data.get("from_stage"),
            key=data.get("key"),
            value=data.get("value"),
            from_value=data.get("from_value"),
            reason=data.get("reason", "manifest"),
            gates=gates,
            override=data.get("override"),
            rollback=data.get("rollback"),
            drift=data.get("drift"),
        )
        change.gated = bool(gates) or (change.is_promotion and data.get("ungated") is False)
        return change


@dataclass
class ModelPlan:
    """The ordered changes for one model, the live state they were computed from,
    and the evidence its gates read (version facts and run metrics)."""

    model: str
    manifest: str
    changes: list[Change]
    snapshot: dict[str, Any] | None
    fingerprint: str
    evidence: dict[str, Any] = field(default_factory=dict)
    # Aliases and model tags nobody manages (not in the manifest, no prune): shown, not sealed.
    unmanaged: dict[str, Any] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        """A model with any blocked promotion applies none of its changes."""
        return any(c.blocked for c in self.changes)

    def sealed(self) -> dict[str, Any]:
        """What the digest covers (no derived fields)."""
        return {
            "model": self.model,
            "manifest": self.manifest,
            "changes": [c.sealed() for c in self.changes],
            "fingerprint": self.fingerprint,
            "observed": self.snapshot,
            "evidence": jsonable(self.evidence),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "model": self.model,
            "manifest": self.manifest,
            "blocked": self.blocked,
            "changes": [c.to_dict() for c in self.changes],
            "fingerprint": self.fingerprint,
            "observed": self.snapshot,
            "evidence": jsonable(self.evidence),
            "unmanaged": self.unmanaged,
        }


@dataclass
class Plan:
    """Everything one ``plan`` run found, across models."""

    models: list[ModelPlan]
    created_at: str = ""
    tracking_uri: str = ""
    registry_uri: str = ""
    git: dict[str, Any] | None = None

    @property
    def changes(self) -> list[Change]:
        """Every change of every model, in apply order."""
        return [c for m in self.models for c in m.changes]

    @property
    def alerts(self) -> list[Change]:
        """Changes that revert an out-of-band move of a protected target."""
        return [c for c in self.changes if c.alert]

    @property
    def status(self) -> str:
        """``blocked`` if any promotion is blocked, else ``changes`` or ``no_changes``."""
        if any(m.blocked for m in self.models):
            return "blocked"
        return "changes" if self.changes else "no_changes"

    @property
    def commit(self) -> str | None:
        """The manifests commit the plan was made from (None outside git)."""
        return self.git.get("commit") if self.git else None

    def sealed(self) -> dict[str, Any]:
        """Everything apply acts on, and nothing derived: the digest's input."""
        return {
            "format_version": FORMAT_VERSION,
            "created_at": self.created_at,
            "tracking_uri": self.tracking_uri,
            "registry_uri": self.registry_uri,
            "git": self.git,
            "models": [m.sealed() for m in self.models],
        }

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`sealed`."""
        text = json.dumps(
            self.sealed(), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
        )
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """The JSON plan (``plan --format json`` and saved plan files)."""
        changes = self.changes
        digest = self.digest
        return {
            "format_version": FORMAT_VERSION,
            "status": self.status,
            "created_at": self.created_at,
            "tracking_uri": self.tracking_uri,
            "registry_uri": self.registry_uri,
            "git": self.git,
            "summary": {
                "models": len(self.models),
                "models_changed": sum(1 for m in self.models if m.changes),
                "changes": len(changes),
                "blocked": sum(1 for c in changes if c.blocked),
                "overridden": sum(1 for c in changes if c.overridden),
                "drift": sum(1 for c in changes if c.reason == "drift"),
                "alerts": len(self.alerts),
                "ungated": sum(1 for c in changes if c.ungated),
            },
            "models": [m.to_dict() for m in self.models],
            "digest": digest,
            "signature": sign(digest),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Plan:
        """Rebuild a plan from its JSON form; raise PlanFileError on anything unexpected."""
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            got = data.get("format_version") if isinstance(data, dict) else type(data).__name__
            raise PlanFileError(
                f"not a registry-ops plan of format_version {FORMAT_VERSION} (got {got!r})"
            )
        problems = sorted(_schema().iter_errors(data), key=lambda e: list(map(str, e.path)))
        if problems:
            lines = [f"{_json_path(e.absolute_path)}: {e.message[:200]}" for e in problems[:10]]
            raise PlanFileError("malformed plan file:\n  " + "\n  ".join(lines))
        models = [
            ModelPlan(
                model=m["model"],
                manifest=m.get("manifest", ""),
                changes=[Change.from_dict(m["model"], c) for c in m["changes"]],
                snapshot=m.get("observed"),
                fingerprint=m["fingerprint"],
                evidence=m.get("evidence", {}),
                unmanaged=m.get("unmanaged") or {},
            )
            for m in data["models"]
        ]
        return cls(
            models=models,
            created_at=data.get("created_at", ""),
            tracking_uri=data.get("tracking_uri", ""),
            registry_uri=data.get("registry_uri", ""),
            git=data.get("git"),
        )


def _finite(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def jsonable(value: Any) -> Any:
    """``value`` with NaN and infinities spelled as strings, so it survives strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


@cache
def _schema() -> Any:
    from jsonschema import Draft202012Validator

    text = resources.files("registry_ops.schemas").joinpath("plan.schema.json").read_text()
    return Draft202012Validator(json.loads(text))


def _json_path(path: Any) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def sign(digest: str, key: str | None = None) -> str | None:
    """HMAC-SHA256 of ``digest`` under the plan key (None when no key is configured)."""
    key = key if key is not None else os.environ.get(KEY_ENV)
    if not key:
        return None
    mac = hmac.new(key.encode(), digest.encode(), hashlib.sha256).hexdigest()
    return "hmac-sha256:" + mac


def verify_seal(plan: Plan, data: dict[str, Any], name: str) -> None:
    """Refuse a saved plan whose digest or signature does not check out."""
    digest = plan.digest
    if not hmac.compare_digest(str(data.get("digest", "")), digest):
        raise PlanSealError(
            f"{name}: the plan's digest does not match its content: the file was edited "
            "after `registry-ops plan` wrote it. Make a new plan."
        )
    key = os.environ.get(KEY_ENV)
    signature = data.get("signature")
    if key:
        expected = sign(digest, key) or ""
        if not signature:
            raise PlanSealError(
                f"{name}: the plan is not signed, and {KEY_ENV} is set: only plans signed "
                "with that key are applied"
            )
        if not hmac.compare_digest(str(signature), expected):
            raise PlanSealError(
                f"{name}: the plan's signature does not match {KEY_ENV}: it was signed with "
                "another key, or edited"
            )
    elif signature:
        raise PlanSealError(
            f"{name}: the plan is signed, but {KEY_ENV} is not set here, so the signature "
            "cannot be checked; set it to the key the plan was made with"
        )


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number a plan may carry")


def load_plan(stream: IO[bytes], name: str) -> Plan:
    """Read, check and unseal a saved plan file; every defect is a PlanFileError."""
    raw = stream.read(MAX_PLAN_BYTES + 1)
    if len(raw) > MAX_PLAN_BYTES:
        raise PlanFileError(f"{name}: larger than {MAX_PLAN_BYTES // 2**20} MiB: not a plan file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanFileError(f"{name}: not UTF-8 text (byte {exc.start}): not a plan file") from None
    try:
        data = json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise PlanFileError(
            f"{name}:{exc.lineno}:{exc.colno}: not a JSON plan file: {exc.msg}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise PlanFileError(f"{name}: not a JSON plan file: {exc}") from None
    try:
        plan = Plan.from_dict(data)
    except PlanFileError as exc:
        raise PlanFileError(f"{name}: {exc}") from None
    except RecursionError:
        raise PlanFileError(f"{name}: nested too deeply: not a plan file") from None
    verify_seal(plan, data, name)
    return plan
