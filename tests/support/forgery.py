"""What anyone with write access to the registry can do to registry-ops' records.

Every write goes through a plain ``MlflowClient``, as a user of the MLflow UI or
a script would make it: no registry-ops code, no key. Used by
tests/test_forged_records.py and tests/test_forged_apply_log.py, which check
that with ``REGISTRY_OPS_PLAN_KEY`` set none of it changes a decision.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import git

from registry_ops.core.provenance import PROVENANCE_TAG
from registry_ops.pipeline.audit import EXPERIMENT
from registry_ops.pipeline.lease import LEASE_TAG

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

KEY = "a-ci-secret-for-records"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def forge_provenance(client: MlflowClient, model: str, version: int, *targets: str) -> str:
    """A provenance record on ``version`` saying an apply just gave it ``targets``,
    with a MAC-looking field that is no MAC under any key registry-ops knows."""
    when = now()
    record = {
        "commit": "f" * 40,
        "manifest": "manifests/m.yaml",
        "applied_at": when,
        "applied_by": "ci-bot",
        "plan": "sha256:" + "0" * 64,
        "targets": list(targets),
        "held": {t: when for t in targets},
        "mac": "hmac-sha256:" + "ab" * 32,
    }
    value = json.dumps(record, sort_keys=True)
    client.set_model_version_tag(model, str(version), PROVENANCE_TAG, value)
    return value


def forge_lease_record(client: MlflowClient, model: str, commit: str) -> None:
    """The model's lease tag rewritten as the record of an apply of ``commit``."""
    record = {"released": True, "last_applied_commit": commit, "released_at": now(), "by": "ci-bot"}
    client.set_registered_model_tag(model, LEASE_TAG, json.dumps(record))


def add_run(
    client: MlflowClient, tags: dict[str, str], params: dict[str, str] | None = None
) -> str:
    """A run added to the apply log's experiment; returns its id."""
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None, "no apply has been logged yet"
    run = client.create_run(experiment.experiment_id, tags=tags)
    for key, value in (params or {}).items():
        client.log_param(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id)
    return str(run.info.run_id)


@dataclass
class TeamRepo:
    """A team repository in git: manifests and policies, committed by Ada."""

    root: Path

    def __post_init__(self) -> None:
        (self.root / "manifests").mkdir(parents=True, exist_ok=True)
        (self.root / "policies").mkdir(exist_ok=True)
        self.repo = git.Repo.init(self.root)
        with self.repo.config_writer() as config:
            config.set_value("user", "name", "Ada").set_value("user", "email", "ada@example.com")

    def manifest(self, model: str, body: str, name: str = "m") -> None:
        head = f"apiVersion: registry-ops/v1\nkind: ModelManifest\nmodel: {model}\n"
        (self.root / "manifests" / f"{name}.yaml").write_text(head + body)

    def policy(self, name: str, gates: str) -> None:
        head = f"apiVersion: registry-ops/v1\nkind: GatePolicy\nname: {name}\ngates:\n"
        (self.root / "policies" / f"{name}.yaml").write_text(head + gates)

    def commit(self, message: str) -> str:
        self.repo.git.add(A=True)
        return self.repo.index.commit(message).hexsha


def decisions(cli: Any, args: list[str]) -> tuple[int, list[Any], Any]:
    """What ``plan`` decides: its ``--detailed-exitcode`` and the JSON plan's models and
    status (the parts that do not depend on when it ran)."""
    code = cli(*args, "plan", "--detailed-exitcode").code
    result = cli(*args, "plan", "--format", "json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    return code, data["models"], (data["status"], data["summary"])
