"""Model checks: a signature was logged; the version loads and predicts on its input example."""

from __future__ import annotations

from registry_ops.core.gate_result import GateResult
from registry_ops.gates import Candidate, GateKind, register


@register
class SignatureGate(GateKind):
    """``{signature: required}``: the logged model carries an input signature."""

    key = "signature"
    order = 40
    schema = {
        "description": "The version's model was logged with a signature.",
        "type": "object",
        "required": ["signature"],
        "additionalProperties": False,
        "properties": {"signature": {"const": "required"}},
    }
    name = "signature required"

    def evaluate(self, candidate: Candidate) -> GateResult:
        """Read the model's metadata (once per version and plan)."""
        models = candidate.context.models
        if models is None:
            return GateResult(self.name, False, "model metadata is not available here")
        number = candidate.version.version
        signature = candidate.context.once(
            ("signature", candidate.model, number),
            lambda: models.signature(candidate.model, number),
        )
        if not signature or not signature.get("inputs"):
            return GateResult(self.name, False, f"v{number} was logged without a signature")
        inputs = signature["inputs"]
        shown = ", ".join(str(i.get("name") or i.get("type")) for i in inputs[:5])
        more = f" (+{len(inputs) - 5} more)" if len(inputs) > 5 else ""
        return GateResult(
            self.name, True, f"inputs: {shown}{more}", evidence={"signature": signature}
        )


@register
class LoadableGate(GateKind):
    """``{loadable: true}``: loads through mlflow.pyfunc and predicts on its input example."""

    key = "loadable"
    order = 50
    schema = {
        "description": (
            "The version loads through mlflow.pyfunc and predicts on its logged input example "
            "without error."
        ),
        "type": "object",
        "required": ["loadable"],
        "additionalProperties": False,
        "properties": {"loadable": {"const": True}},
    }
    name = "loads and predicts"

    def evaluate(self, candidate: Candidate) -> GateResult:
        """Load the version and predict on its logged input example (once per plan)."""
        models = candidate.context.models
        if models is None:
            return GateResult(self.name, False, "model loading is not available here")
        number = candidate.version.version
        if candidate.version.status != "READY":
            return GateResult(self.name, False, f"v{number} is {candidate.version.status}")
        ok, detail = candidate.context.once(
            ("load", candidate.model, number),
            lambda: models.load_check(candidate.model, number),
        )
        return GateResult(self.name, ok, detail)
