"""Times in ``history``: reading ``--at TIME`` and git's and MLflow's stamps, writing ISO."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

# Where nothing says when: the start of every timeline, the date of an undated commit.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

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


def iso_us(when: datetime) -> str:
    """UTC ISO 8601 with microseconds (the precision applies are stamped with)."""
    return when.astimezone(UTC).isoformat(timespec="microseconds")
