"""The saved plan's seal: signing it, and reading one back only if it checks out.

A saved plan is sealed: ``digest`` (computed by :class:`~registry_ops.core.plan.Plan`)
covers everything apply reads, and ``signature`` is an HMAC-SHA256 of the
digest under ``REGISTRY_OPS_PLAN_KEY`` when that is set. Reading one back
checks its size, encoding, JSON, format version and shape (the plan schema,
whose list of actions is the table of change classes), then its digest and
signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from functools import cache
from importlib import resources
from typing import IO, Any

from registry_ops.core.changes import ACTIONS
from registry_ops.core.plan import FORMAT_VERSION, Plan
from registry_ops.errors import PlanFileError, PlanSealError

KEY_ENV = "REGISTRY_OPS_PLAN_KEY"
# A saved plan of 10,000 models is a few MB; anything far larger is not ours.
MAX_PLAN_BYTES = 256 * 1024 * 1024


def sign(digest: str, key: str | None = None) -> str | None:
    """HMAC-SHA256 of ``digest`` under the plan key (None when no key is configured)."""
    key = key if key is not None else os.environ.get(KEY_ENV)
    if not key:
        return None
    mac = hmac.new(key.encode(), digest.encode(), hashlib.sha256).hexdigest()
    return "hmac-sha256:" + mac


def signed(plan: Plan) -> dict[str, Any]:
    """The JSON plan as ``plan --out`` saves it: signed when the plan key is set."""
    data = plan.to_dict()
    data["signature"] = sign(data["digest"])
    return data


def _same(given: Any, expected: str) -> bool:
    """Constant-time equality of a value read from the file and the one expected.

    Compared as UTF-8 bytes: ``hmac.compare_digest`` raises TypeError for a str with
    a non-ASCII character, and a forged file may carry one.
    """
    return hmac.compare_digest(str(given).encode("utf-8", "surrogatepass"), expected.encode())


def verify_seal(plan: Plan, data: dict[str, Any], name: str) -> None:
    """Refuse a saved plan whose digest or signature does not check out."""
    digest = plan.digest
    if not _same(data.get("digest", ""), digest):
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
        if not _same(signature, expected):
            raise PlanSealError(
                f"{name}: the plan's signature does not match {KEY_ENV}: it was signed with "
                "another key, or edited"
            )
    elif signature:
        raise PlanSealError(
            f"{name}: the plan is signed, but {KEY_ENV} is not set here, so the signature "
            "cannot be checked; set it to the key the plan was made with"
        )


@cache
def _schema() -> Any:
    from jsonschema import Draft202012Validator

    text = resources.files("registry_ops.schemas").joinpath("plan.schema.json").read_text()
    schema = json.loads(text)
    # The actions a plan may name are the change classes there are (the file says string).
    schema["$defs"]["change"]["properties"]["action"] = {"enum": list(ACTIONS)}
    return Draft202012Validator(schema)


def _json_path(path: Any) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def check_shape(data: Any) -> None:
    """PlanFileError unless ``data`` is a plan of our format version, shaped as the
    plan schema says (the first ten problems, by path)."""
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        got = data.get("format_version") if isinstance(data, dict) else type(data).__name__
        raise PlanFileError(
            f"not a registry-ops plan of format_version {FORMAT_VERSION} (got {got!r})"
        )
    problems = sorted(_schema().iter_errors(data), key=lambda e: list(map(str, e.path)))
    if problems:
        lines = [f"{_json_path(e.absolute_path)}: {e.message[:200]}" for e in problems[:10]]
        raise PlanFileError("malformed plan file:\n  " + "\n  ".join(lines))


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
        check_shape(data)
        plan = Plan.from_dict(data)
    except PlanFileError as exc:
        raise PlanFileError(f"{name}: {exc}") from None
    except RecursionError:
        raise PlanFileError(f"{name}: nested too deeply: not a plan file") from None
    verify_seal(plan, data, name)
    return plan
