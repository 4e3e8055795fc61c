"""``history MODEL``: the desired state from git joined with what was applied.

Three sources, joined per target (``alias:NAME`` or ``stage:NAME``):

- **git** (:mod:`.follow`, :mod:`.desired`, :mod:`.wanted`): every commit that
  changed the manifest naming the model (found by its ``model:`` line under
  ``manifests/``, renames followed), with who, when, the message, and what
  moved between consecutive versions of the manifest (``champion: v2 -> v3``).
  One ``git log --follow -p`` reads them all.
- **the apply log** (:mod:`registry_ops.pipeline.audit`): the runs of the experiment
  ``registry-ops/applies`` that changed the model, each with the alias and
  stage changes that landed, when, by whom, from which commit.
- **the registry now**: who holds each target, and every version's
  provenance record (``held``: when it last took each target), which fills
  what the log lacks (applies from before the log existed, or whose log write
  failed).

:mod:`.timeline` joins the last two into who held what, when (drift
included; holders the adopting commit found in place are adopted, and
holdings nobody recorded are bounded by MLflow's own timestamps, see
:mod:`.adoption`); :mod:`.result` reads everything and answers ``--at TIME``: which
version held each target at that time, with the apply and the commit that put
it there, and what the manifests wanted then.
"""

from registry_ops.gitops.history.desired import DesiredChange, Move, desired_history
from registry_ops.gitops.history.follow import MANIFESTS, find_manifest
from registry_ops.gitops.history.result import History, collect
from registry_ops.gitops.history.timeline import Interval, timeline
from registry_ops.gitops.history.times import iso, parse_iso, parse_time
from registry_ops.gitops.history.wanted import clear_cache

__all__ = [
    "MANIFESTS",
    "DesiredChange",
    "History",
    "Interval",
    "Move",
    "clear_cache",
    "collect",
    "desired_history",
    "find_manifest",
    "iso",
    "parse_iso",
    "parse_time",
    "timeline",
]
