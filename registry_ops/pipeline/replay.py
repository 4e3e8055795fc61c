"""A saved plan applies once, in order, and while it is young.

A sealed plan stays valid to its seal forever, so on its own a plan file
could be applied again (once the registry is back in the state it saw: A ->
B -> A), or applied after a newer plan and undo it. Two rules close that:

- **Order** (:func:`check_order`): each model's released lease records the
  digest and creation time of the last plan applied to it
  (:func:`registry_ops.pipeline.lease.released`). A saved plan is refused for a
  model whose last applied plan is this one, or was made at the same time or
  later. A fresh plan (``apply`` without a file) is never refused by this rule:
  it is made from the manifests just now.
- **Age** (:func:`check_age`): a saved plan expires :data:`DEFAULT_MAX_AGE` after
  it was made (``REGISTRY_OPS_PLAN_MAX_AGE`` or ``apply --max-age``). Long enough
  for a reviewer to approve it; short enough that the evidence it pinned, and
  the reviewer's memory of it, are still current.

Plans are ordered by the clock of the machine that made them; the machines
that plan must agree to within the time between two plans (CI runners do).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from registry_ops.core.plan import ModelPlan, Plan
from registry_ops.core.records import RecordKey
from registry_ops.core.state import Observed
from registry_ops.errors import StalePlan
from registry_ops.pipeline.lease import LEASE_TAG, released_record

MAX_AGE_ENV = "REGISTRY_OPS_PLAN_MAX_AGE"
# A day: a merge's plan waits for a reviewer's approval, typically minutes to hours.
DEFAULT_MAX_AGE = 24 * 3600.0
# A plan "made" further in the future than this says the planning machine's clock is off.
CLOCK_SKEW = 300.0
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*")


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``15m``, ``24h`` or ``7d``; ValueError otherwise or
    when not positive."""
    match = _DURATION.fullmatch(text.lower())
    if not match:
        raise ValueError(f"{text!r} is not a duration (e.g. 3600, 90m, 24h, 7d)")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"{text!r}: a maximum age must be more than 0")
    return seconds


def shown(seconds: float) -> str:
    """A duration for people: ``4d 3h``, ``26h 12m``, ``4m 10s``, ``7s`` (hours up to
    three days: an age against a limit of 24h reads best in hours)."""
    total = int(abs(seconds))
    days, rest = divmod(total, 86400) if total >= 3 * 86400 else (0, total)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    used = [f"{n}{unit}" for n, unit in parts if n][:2]
    return " ".join(used) or "0s"


def _when(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _shown(value: object) -> str:
    """A value read from a registry tag, fit for one line of a message."""
    text = "?" if value is None else str(value)
    return "".join(c if c.isprintable() else "?" for c in text[:80])


def check_age(plan: Plan, max_age: float, now: datetime | None = None) -> None:
    """Refuse (StalePlan) a saved plan older than ``max_age`` seconds, with its age; or
    one without a readable creation time, or made in the future."""
    made = _when(plan.created_at)
    if made is None:
        raise StalePlan(
            f"the saved plan has no creation time ({plan.created_at!r}), so its age is "
            "unknown: run `registry-ops plan` again."
        )
    age = ((now or datetime.now(UTC)) - made).total_seconds()
    if age > max_age:
        raise StalePlan(
            f"the saved plan expired: it was made {shown(age)} ago ({plan.created_at}), and "
            f"saved plans apply for {shown(max_age)} ({MAX_AGE_ENV} or --max-age): run "
            "`registry-ops plan` again."
        )
    if age < -CLOCK_SKEW:
        raise StalePlan(
            f"the saved plan was made {shown(age)} in the future ({plan.created_at}): the "
            "clock of the machine that made it is off. Fix it and plan again."
        )


def check_order(plan: Plan, models: Sequence[ModelPlan], observed: Observed) -> None:
    """Refuse (StalePlan) a saved plan that was applied already, or is not newer than
    the last plan applied to any of ``models`` (as ``observed`` right before the lease)."""
    made = _when(plan.created_at)
    refused = []
    for model_plan in models:
        model = observed.get(model_plan.model)
        # Only a record this key sealed says what was applied (a forged one could
        # refuse every plan, or let an old one through).
        tag = model.tags.get(LEASE_TAG) if model else None
        record = released_record(tag, model_plan.model, RecordKey.from_env())
        if record is None:
            continue
        applied = f"applied {_shown(record.get('released_at'))} by {_shown(record.get('by'))}"
        if record.get("plan") == plan.digest:
            refused.append(f"  {model_plan.model}: this plan was applied already ({applied})")
            continue
        last = _when(record.get("plan_created_at"))
        if made is not None and last is not None and last >= made:
            relation = "at the same time as" if last == made else "before"
            refused.append(
                f"  {model_plan.model}: this plan was made {relation} the last plan applied "
                f"to it (made {_shown(record['plan_created_at'])}, {applied}); applying it would "
                "undo what that plan applied"
            )
    if refused:
        raise StalePlan(
            "the saved plan was applied already, or a newer plan has been since:\n"
            + "\n".join(refused)
            + "\nA saved plan applies once, and never over a newer one: run "
            "`registry-ops plan` again."
        )
