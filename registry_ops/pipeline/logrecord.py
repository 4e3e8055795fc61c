"""What a run of the apply log is made of: its tag names, and the MAC that makes it count.

:mod:`registry_ops.pipeline.audit` writes runs and :mod:`registry_ops.pipeline.logged`
reads them back; both take the names from here, and the MAC is computed the
same way on both sides.

Any MLflow user can add a run to the experiment ``registry-ops/applies``, with
any tags. With ``REGISTRY_OPS_PLAN_KEY`` set, a run written by an apply carries
``registry_ops.mac``: an HMAC (under a key derived from the plan key, see
:mod:`registry_ops.core.records`) of everything ``history`` reads of it (the
commit, actor, plan digest, outcome, models, time of the apply, every model's
summary tag, the params) and of the SHA-256 of its ``report.json``; bound to
the run's id, so a genuine run's tags copied onto another run do not verify.
A run without a valid MAC is shown as unverified and never counted as an apply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from registry_ops.core.records import MAC_FIELD, RecordKey, Trust

EXPERIMENT = "registry-ops/applies"
PREFIX = "registry_ops."
TAG_COMMIT = PREFIX + "commit"
TAG_ACTOR = PREFIX + "actor"
TAG_PLAN = PREFIX + "plan_digest"
TAG_OUTCOME = PREFIX + "outcome"
TAG_MODELS = PREFIX + "models"
TAG_APPLIED_AT = PREFIX + "applied_at"
TAG_REPORT = PREFIX + "report_sha256"  # of report.json's bytes, as the artifact holds them
TAG_MAC = PREFIX + "mac"
MODEL_TAG_PREFIX = PREFIX + "model."
RUN_KIND = "apply-log"

# What the MAC covers: every tag history reads, and the params (an apply writes all five).
SEALED_TAGS = (TAG_COMMIT, TAG_ACTOR, TAG_PLAN, TAG_OUTCOME, TAG_MODELS, TAG_APPLIED_AT, TAG_REPORT)
SEALED_PARAMS = ("commit", "plan_digest", "models", "changes", "landed")


def model_tag(model: str) -> str:
    """The run tag key carrying ``model``'s summary (keys cannot hold every name)."""
    return MODEL_TAG_PREFIX + hashlib.sha256(model.encode()).hexdigest()[:20]


def model_filter(model: str) -> str:
    """The ``search_runs`` filter for runs that changed ``model``."""
    return f"tags.`{model_tag(model)}` LIKE '%'"


def report_digest(text: str) -> str:
    """``sha256:<hex>`` of ``report.json`` as written (``sha256sum`` checks it)."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def sealed_content(tags: Mapping[str, str], params: Mapping[str, str]) -> dict[str, Any]:
    """What a run's MAC covers, from its tags and params (absent ones as null).

    Every model summary tag is covered, whichever models: a summary added to a
    genuine run afterwards makes it claim a model it did not change, and it
    stops verifying.
    """
    summaries = {k: v for k, v in tags.items() if k.startswith(MODEL_TAG_PREFIX)}
    return {
        "tags": {**{k: tags.get(k) for k in SEALED_TAGS}, **summaries},
        "params": {k: params.get(k) for k in SEALED_PARAMS},
    }


def run_mac(
    key: RecordKey, run_id: str, tags: Mapping[str, str], params: Mapping[str, str]
) -> str | None:
    """The MAC tag value of a run with these tags and params (None without a key)."""
    if not key.enabled:
        return None
    return key.mac(RUN_KIND, run_id, None, sealed_content(tags, params))


def run_trust(
    key: RecordKey, run_id: str, tags: Mapping[str, str], params: Mapping[str, str]
) -> Trust:
    """Whether a run read back from the apply log is one an apply wrote."""
    record = {**sealed_content(tags, params), MAC_FIELD: tags.get(TAG_MAC)}
    return key.check(RUN_KIND, run_id, None, record)
