"""Model checks: a signature was logged; the version loads and predicts on its input example."""

from __future__ import annotations

from registry_ops.core.gate_result import GateResult
from registry_ops.core.model import GateSpec
from registry_ops.gates import Candidate, register


@register("signature")
class SignatureGate:
    """``{signature: required}``: the logged model carries an input signature."""

    needs_metrics = False
    name = "signature required"

    def __init__(self, spec: GateSpec) -> None:
        self.spec = spec

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


@register("loadable")
class LoadableGate:
    """``{loadable: true}``: loads through mlflow.pyfunc and predicts on its input example."""

    needs_metrics = False
    name = "loads and predicts"

    def __init__(self, spec: GateSpec) -> None:
        self.spec = spec

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
