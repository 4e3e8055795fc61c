"""Promotion gates: one small interface, one module per kind, evidence gathered in batches.

A gate sees a :class:`Candidate` (the version being promoted, the version it
displaces, their metric evidence, and a :class:`GateContext` of evidence
providers) and returns one or more :class:`GateResult`, each carrying what it
read. Gates run only for promotions, i.e. changes that give a version a
target it does not hold now, and for stamp-only changes (a holder no
authenticated record vouches for); re-running a converged plan evaluates nothing.

A kind of gate is one :class:`GateKind` subclass, registered with
:func:`register`: it names its policy key, carries the JSON Schema of its
mapping, checks what the schema cannot say and builds the gate. Modules of
this package are found without an import list (:mod:`registry_ops.gates.kinds`)
and the policy schema is composed from the kinds (:mod:`registry_ops.gates.schema`).

Evidence is gathered once per plan: the metrics of every candidate and
displaced holder (their logged models', else their source runs',
:mod:`registry_ops.core.metrics`) in one batched read, only if some gate
needs metrics;
model facts (signature, a load-and-predict check) and live evaluations
through the context, cached per plan (evaluations also in the registry). Model
code never runs in the planning process: the evidence provider runs it in a
sandboxed child (docs/trust.md).
Running the gates of a plan, with the rollback exemption and overrides
around them, is :mod:`registry_ops.gates.runner`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol

from registry_ops.core.gate_result import GateResult
from registry_ops.core.metrics import VersionMetrics
from registry_ops.core.model import GateSpec
from registry_ops.core.state import ObservedModel, ObservedVersion

__all__ = [
    "Candidate",
    "Gate",
    "GateContext",
    "GateKind",
    "MetricsFetcher",
    "ModelEvidence",
    "ParamPath",
    "ParamProblem",
    "Written",
    "build",
    "evaluate",
    "fmt",
    "kind_of",
    "kinds",
    "register",
    "unregister",
]


class ModelEvidence(Protocol):
    """What gates may ask of a model version beyond its run (the MLflow adapter answers)."""

    def signature(self, model: str, version: int) -> dict[str, Any] | None: ...

    def load_check(
        self, model: str, version: int, settings: dict[str, Any], root: Path
    ) -> tuple[bool, str]: ...

    def evaluate(
        self, model: str, version: ObservedVersion, spec: dict[str, Any], root: Path
    ) -> dict[str, Any]: ...


@dataclass
class GateContext:
    """Per-plan providers of evidence, with per-plan caches."""

    root: Path = Path(".")
    models: ModelEvidence | None = None
    cache: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    def once(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """``compute()`` once per plan for ``key``."""
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]


@dataclass(frozen=True)
class Candidate:
    """What a gate may look at for one promotion."""

    model: str
    target: str  # the alias or stage name, as `gates:` keys it
    version: ObservedVersion
    holder: ObservedVersion | None
    # Metric evidence (logged model, else source run); None when no gate reads metrics.
    metrics: VersionMetrics | None = None
    holder_metrics: VersionMetrics | None = None
    now: datetime = field(default_factory=datetime.now)
    observed: ObservedModel | None = None
    context: GateContext = field(default_factory=GateContext)
    target_key: str = ""  # ``alias:NAME`` or ``stage:NAME``


class Gate(Protocol):
    """One check of a policy."""

    name: str
    needs_metrics: bool

    def evaluate(self, candidate: Candidate) -> GateResult | list[GateResult]:
        """Decide for one candidate; never raise for missing evidence, fail instead."""
        ...


# A position inside one gate's mapping, e.g. ("evaluate", "metrics", "f1", "min").
ParamPath = tuple[str | int, ...]
# The text of the scalar at a ParamPath as the policy file has it (None when unknown):
# messages quote ".nan" as written, not Python's "nan".
Written = Callable[[ParamPath], str | None]


@dataclass(frozen=True)
class ParamProblem:
    """What is wrong with a gate's parameters, at a path inside the gate's mapping.

    The loader turns it into ``file:line:col: $.gates[i].<path>: message``.
    """

    path: ParamPath
    message: str


class GateKind:
    """Base of a gate kind: how a policy names it, what its mapping may hold, the gate itself.

    Subclass it, set ``key`` and ``schema``, implement ``__init__`` and
    ``evaluate``, and decorate the class with :func:`register`. Override
    ``check`` for rules the schema cannot state, ``params`` to normalise what was
    written, ``create`` to pick among gate classes. A module of this package is
    found and imported by itself; a kind defined elsewhere counts from the
    moment it is registered.
    """

    #: The policy key that names the kind: ``- metric: ...``.
    key: ClassVar[str]
    #: JSON Schema (Draft 2020-12) of one gate mapping of this kind; it lands in
    #: the policy schema as ``$defs/<camelCaseKey>Gate``.
    schema: ClassVar[dict[str, Any]]
    #: Definitions the schema refers to as ``#/$defs/<name>``.
    defs: ClassVar[dict[str, dict[str, Any]]] = {}
    #: Position among the kinds: in the schema, in messages that list the keys, and
    #: (for a gate naming two kinds) which one's schema applies. Ties go by key.
    order: ClassVar[int] = 1000

    name: str
    needs_metrics: bool = False

    def __init__(self, spec: GateSpec) -> None:
        """Read the gate's parameters from ``spec.params`` (validated and checked)."""

    @classmethod
    def check(cls, params: Mapping[Any, Any], written: Written) -> list[ParamProblem]:
        """What the schema cannot say about ``params`` (a mapping not yet validated).

        Runs next to schema validation, so all problems of a file are reported
        together: guard every access. Every gate's own numbers are already
        checked to be finite, with ``min`` at most ``max``.
        """
        return []

    @classmethod
    def params(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """The parameters a gate is built from, out of its validated mapping (default: as is)."""
        return dict(raw)

    @classmethod
    def create(cls, spec: GateSpec) -> Gate:
        """The gate for one spec of this kind."""
        return cls(spec)

    def evaluate(self, candidate: Candidate) -> GateResult | list[GateResult]:
        """Decide for one candidate; never raise for missing evidence, fail instead."""
        raise NotImplementedError


def fmt(value: float) -> str:
    """Numbers in gate details: short, without float noise."""
    return f"{value:.6g}"


# Below the interface on purpose: these modules import the names above from this
# package, and importing ``registry_ops.gates`` should bring the whole API.
from registry_ops.gates.kinds import build, kind_of, kinds, register, unregister  # noqa: E402
from registry_ops.gates.runner import MetricsFetcher, evaluate  # noqa: E402
