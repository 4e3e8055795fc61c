"""Adoption, and what the registry itself says about holders no apply log explains.

A registry adopted with ``export`` already had its holders in place when the
manifest naming the model was first committed: those holders are *adopted*,
not drift, though no apply ever put them there. The adopting commit is the
one that first added the model's manifest; a holder matches it when that
commit gave the target to that version and the registry already had it there
(the version existed by then, and the first apply to touch the target found
it holding it, or none has touched it yet).

Where no apply log or provenance record covers a time, the only clocks are
MLflow's own: every version's creation time and last-updated time (a stage
change updates it; an alias change updates nothing, MLflow records no time
for those). :func:`registry_record` turns them into the bounds of a holding
and a sentence saying where they came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from registry_ops.core.state import ObservedModel
from registry_ops.gitops.history.desired import DesiredChange
from registry_ops.gitops.history.times import EPOCH, iso

# Git keeps commit times to the second, MLflow to the millisecond: a version exported and
# committed within the same second can look created after the commit.
_SLACK = timedelta(seconds=1)


@dataclass(frozen=True)
class Adoption:
    """The commit that first added the model's manifest, and what it gave each target."""

    commit: str
    date: datetime
    targets: dict[str, int]

    def claims(self, target: str, version: int, model: ObservedModel | None) -> bool:
        """Whether ``version`` holding ``target`` can be what this commit adopted: the
        commit gave it that target and the version existed by then."""
        if self.targets.get(target) != version or model is None or version not in model.versions:
            return False
        created = _ms(model.versions[version].creation_timestamp)
        return created is not None and created <= self.date + _SLACK


def adoption_of(desired: Sequence[DesiredChange]) -> Adoption | None:
    """The adopting commit: the oldest one after which the manifest named the model."""
    first = next((d for d in reversed(desired) if d.present), None)
    if first is None:
        return None
    return Adoption(first.commit, first.date, dict(first.targets))


def registry_record(
    model: ObservedModel | None, target: str, version: int, holds_now: bool
) -> tuple[datetime, datetime | None, str]:
    """What MLflow's own timestamps say of ``version`` holding ``target``.

    Returns the earliest it can have taken it (its creation), the time by which it
    surely held it (its last update, for a stage it holds now: taking the stage was
    an update; else None), and a sentence saying so.
    """
    if model is None or version not in model.versions:
        return EPOCH, None, f"v{version} is no longer in the registry"
    observed = model.versions[version]
    created = _ms(observed.creation_timestamp) or EPOCH
    text = f"v{version} was created {iso(created)}"
    kind, _, name = target.partition(":")
    if kind == "alias":
        return created, None, f"{text}; MLflow records no time for alias changes"
    updated = _ms(observed.last_updated_timestamp)
    if holds_now and updated is not None and updated >= created:
        return (
            created,
            updated,
            f"{text} and last updated {iso(updated)} (entering {name} is no later)",
        )
    return created, None, f"{text}; MLflow keeps no time for its past stage changes"


def _ms(stamp: int) -> datetime | None:
    return datetime.fromtimestamp(stamp / 1000, UTC) if stamp else None
