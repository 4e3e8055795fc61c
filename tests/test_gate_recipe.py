"""The gate recipe: a kind defined in one module works end to end; the shipped schema is current.

The kind here lives in this test module only: registering it makes policies
that use it validate (against a schema composed at load time), its own checks
report like the schema's, plans run it against a real registry and its failure
blocks the promotion. It is registered per test and forgotten afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from registry_ops.core.gate_result import GateResult
from registry_ops.core.model import GateSpec
from registry_ops.desired.loader import load
from registry_ops.errors import InvalidInput
from registry_ops.gates import (
    Candidate,
    GateKind,
    ParamProblem,
    Written,
    fmt,
    kinds,
    register,
    unregister,
)
from registry_ops.gates.schema import main as schema_command
from registry_ops.gates.schema import policy_schema, shipped_kinds, shipped_text
from tests.support.backends import SQLITE, only

REPO = Path(__file__).resolve().parent.parent


class OverfitGate(GateKind):
    """``{overfit: {metric, of, min_ratio}}``: the held-out metric keeps at least
    ``min_ratio`` of the training one (both from the version's run)."""

    key = "overfit"
    schema = {
        "description": "A held-out metric must keep this fraction of a training metric.",
        "type": "object",
        "required": ["overfit"],
        "additionalProperties": False,
        "properties": {
            "overfit": {
                "type": "object",
                "required": ["metric", "of", "min_ratio"],
                "additionalProperties": False,
                "properties": {
                    "metric": {"type": "string", "minLength": 1},
                    "of": {"type": "string", "minLength": 1},
                    "min_ratio": {"type": "number", "exclusiveMinimum": 0},
                },
            }
        },
    }
    needs_metrics = True

    def __init__(self, spec: GateSpec) -> None:
        params = spec.params["overfit"]
        self.metric: str = params["metric"]
        self.of: str = params["of"]
        self.min_ratio: float = params["min_ratio"]
        self.name = f"{self.metric} / {self.of} >= {fmt(self.min_ratio)}"

    @classmethod
    def check(cls, params: Mapping[Any, Any], written: Written) -> list[ParamProblem]:
        """A metric compared with itself always passes: refuse it."""
        spec = params.get("overfit")
        if isinstance(spec, dict) and spec.get("metric") and spec.get("metric") == spec.get("of"):
            message = f"compares {spec['of']} with itself; name the training metric"
            return [ParamProblem(("overfit", "of"), message)]
        return []

    def evaluate(self, candidate: Candidate) -> GateResult:
        """The ratio of the two metrics of the candidate's run."""
        metrics = candidate.metrics or {}
        held_out, training = metrics.get(self.metric), metrics.get(self.of)
        if held_out is None or not training:
            return GateResult(self.name, False, f"the run lacks {self.metric} or {self.of}")
        ratio = held_out / training
        detail = f"{self.metric} / {self.of} = {fmt(ratio)}"
        return GateResult(
            self.name, ratio >= self.min_ratio, detail, observed=ratio, threshold=self.min_ratio
        )


@pytest.fixture
def overfit_kind() -> Iterator[type[OverfitGate]]:
    """The kind, registered for one test only."""
    register(OverfitGate)
    try:
        yield OverfitGate
    finally:
        unregister(OverfitGate.key)


POLICY = """\
    - metric: val_accuracy
      min: 0.5
    - overfit:
        metric: val_accuracy
        of: train_accuracy
        min_ratio: 0.95
"""


def champion(data: dict[str, Any]) -> dict[str, Any]:
    (change,) = [c for m in data["models"] for c in m["changes"] if c.get("alias") == "champion"]
    return change  # type: ignore[no-any-return]


@only(SQLITE)
def test_a_kind_defined_in_a_test_module_works_end_to_end(  # type: ignore[no-untyped-def]
    cli, backend, workspace, overfit_kind
):
    clf = backend.name("clf")
    backend.seeder.version(clf, val_accuracy=0.90, train_accuracy=0.92)  # generalises
    backend.seeder.version(clf, val_accuracy=0.80, train_accuracy=0.99)  # overfits
    workspace.policy("generalises", POLICY)
    workspace.manifest(clf, "aliases: {champion: 1}\ngates: {champion: generalises}\n")
    checked = cli(*backend.args(workspace.root, "validate"))
    assert checked.code == 0, checked.err

    planned = cli(*backend.args(workspace.root, "plan", "--format", "json"))
    assert planned.code == 0, planned.err
    first = champion(json.loads(planned.out))
    gate = first["gates"][1]
    assert gate["name"] == "val_accuracy / train_accuracy >= 0.95" and gate["passed"] is True
    assert gate["policy"] == "generalises" and gate["observed"] == pytest.approx(0.90 / 0.92)
    assert first["blocked"] is False
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 0
    assert backend.aliases(clf) == {"champion": 1}

    workspace.manifest(clf, "aliases: {champion: 2}\ngates: {champion: generalises}\n")
    planned = cli(*backend.args(workspace.root, "plan", "--format", "json"))
    second = champion(json.loads(planned.out))
    assert [g["passed"] for g in second["gates"]] == [True, False]
    assert second["gates"][1]["detail"] == "val_accuracy / train_accuracy = 0.808081"
    assert second["blocked"] is True
    assert cli(*backend.args(workspace.root, "plan", "--detailed-exitcode")).code == 3
    assert cli(*backend.args(workspace.root, "apply", "--yes")).code == 3
    assert backend.aliases(clf) == {"champion": 1}


def test_a_kinds_own_checks_are_reported_with_the_schema_problems(  # type: ignore[no-untyped-def]
    workspace, overfit_kind
):
    workspace.policy(
        "p", "    - overfit:\n        metric: acc\n        of: acc\n        min_ratio: high\n"
    )
    workspace.manifest("m", "aliases: {champion: 1}\ngates: {champion: p}\n")
    with pytest.raises(InvalidInput) as info:
        load(workspace.root)
    in_policy = [str(p).split("policies/")[1] for p in info.value.problems if "policies" in p.file]
    assert in_policy == [
        "p.yaml:7:9: $.gates[0].overfit.of: compares acc with itself; name the training metric",
        "p.yaml:8:16: $.gates[0].overfit.min_ratio: expected a number, got a string 'high'",
    ]


def test_an_unregistered_kind_is_unknown(workspace) -> None:  # type: ignore[no-untyped-def]
    """The registration of the tests above does not outlive them."""
    assert "overfit" not in [k.key for k in kinds()]
    workspace.policy("p", POLICY)
    workspace.manifest("m", "aliases: {champion: 1}\ngates: {champion: p}\n")
    with pytest.raises(InvalidInput) as info:
        load(workspace.root)
    (problem,) = [p for p in info.value.problems if "policies" in p.file]
    assert problem.path == "$.gates[1]"
    assert problem.message.startswith("expected a mapping with one of the keys: metric, tags")
    assert "overfit" not in problem.message


def test_the_policy_schema_is_composed_from_the_registered_kinds(overfit_kind) -> None:  # type: ignore[no-untyped-def]
    composed = policy_schema()
    assert composed["$defs"]["overfitGate"] == OverfitGate.schema
    assert composed["$defs"]["gate"]["anyOf"][-1] == {"required": ["overfit"]}
    assert OverfitGate not in shipped_kinds()
    assert "overfitGate" not in json.loads(shipped_text())["$defs"]


def test_a_key_cannot_be_taken_twice() -> None:
    class Impostor(GateKind):
        key = "metric"
        schema: dict[str, Any] = {"type": "object"}

    with pytest.raises(TypeError, match="already registered"):
        register(Impostor)
    assert Impostor not in kinds()


def test_the_shipped_policy_schema_is_up_to_date() -> None:
    shipped = (REPO / "registry_ops" / "schemas" / "policy.schema.json").read_text("utf-8")
    assert shipped == shipped_text(), (
        "registry_ops/schemas/policy.schema.json differs from the gate kinds' schemas: "
        "regenerate it with python -m registry_ops.gates.schema"
    )


def test_the_schema_command_checks_the_shipped_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert schema_command(["--check"]) == 0
    assert "policy.schema.json is up to date" in capsys.readouterr().out


def test_the_evaluate_gate_names_the_metrics_the_evaluation_computes() -> None:
    from registry_ops.gates.evaluation import CLASSIFIER_METRICS, REGRESSOR_METRICS
    from registry_ops.gates.live import METRICS

    assert (*CLASSIFIER_METRICS, *REGRESSOR_METRICS) == METRICS


def test_validating_every_kind_imports_no_heavy_library() -> None:
    """Discovery imports every kind module; none may bring mlflow, torch, pandas or sklearn."""
    code = (
        "import sys\n"
        "from registry_ops.cli import main\n"
        "from registry_ops.gates import kinds\n"
        "try:\n    main(['validate'])\n"
        "except SystemExit as e:\n    assert e.code == 0, e.code\n"
        "assert len(kinds()) >= 7, kinds()\n"
        "heavy = ('mlflow', 'torch', 'pandas', 'sklearn', 'numpy')\n"
        "loaded = [m for m in heavy if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
