"""Model checks: a signature was logged; the version loads and predicts on an example."""

from __future__ import annotations

from typing import Any

from registry_ops.core.gate_result import GateResult
from registry_ops.core.model import GateSpec, Policy
from registry_ops.gates import Candidate, GateKind, register
from registry_ops.gates.live import MEMORY_MB, SANDBOX_PROPERTIES


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


#: The loadable child's wall-clock limit when the gate sets none: loading, not scoring.
LOADABLE_TIMEOUT_SECONDS = 300.0


@register
class LoadableGate(GateKind):
    """``{loadable: true}`` or ``{loadable: {timeout_seconds, memory_mb, env_manager}}``:
    loads through mlflow.pyfunc and predicts on an example, in a sandboxed process.

    The example is the logged input example, else a few rows built from the signature,
    else rows of the holdout an ``evaluate`` gate of the same policy names (autologged
    models carry a signature and no example); with none of them the gate fails, saying so.
    """

    key = "loadable"
    order = 50
    schema = {
        "description": (
            "The version loads through mlflow.pyfunc and predicts on an example (its logged "
            "input example, else rows built from its signature, else rows of the policy's "
            "evaluate holdout) without error, in a sandboxed process."
        ),
        "type": "object",
        "required": ["loadable"],
        "additionalProperties": False,
        "properties": {
            "loadable": {
                "oneOf": [
                    {"const": True},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": SANDBOX_PROPERTIES,
                    },
                ]
            }
        },
    }
    name = "loads and predicts"

    def __init__(self, spec: GateSpec) -> None:
        given = spec.params.get("loadable")
        self.settings: dict[str, Any] = dict(given) if isinstance(given, dict) else {}
        self.settings.setdefault("timeout_seconds", LOADABLE_TIMEOUT_SECONDS)
        self.settings.setdefault("memory_mb", MEMORY_MB)
        # No env_manager: REGISTRY_OPS_ENV_MANAGER of where the plan runs, else local.
        self.settings["holdout"] = None

    def bind_policy(self, policy: Policy) -> None:
        """Borrow the holdout of the policy's first ``evaluate`` gate, for models with no
        example to predict on (features only: the labels are not needed to load)."""
        for spec in policy.gates:
            wanted = spec.params.get("evaluate")
            if spec.kind == "evaluate" and isinstance(wanted, dict):
                self.settings["holdout"] = {
                    k: wanted[k] for k in ("dataset", "targets", "features") if k in wanted
                }
                return

    def evaluate(self, candidate: Candidate) -> GateResult:
        """Load the version and predict on an example (once per plan)."""
        models = candidate.context.models
        if models is None:
            return GateResult(self.name, False, "model loading is not available here")
        number = candidate.version.version
        if candidate.version.status != "READY":
            return GateResult(self.name, False, f"v{number} is {candidate.version.status}")
        key = ("load", candidate.model, number, repr(sorted(self.settings.items())))
        ok, detail = candidate.context.once(
            key,
            lambda: models.load_check(
                candidate.model, number, self.settings, candidate.context.root
            ),
        )
        return GateResult(self.name, ok, detail)
