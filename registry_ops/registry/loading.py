"""Python API for services: load a model by target, with fallbacks, and say which.

    from registry_ops import load_model

    loaded = load_model("spirals-classifier")  # champion, else challenger, else Staging
    loaded.model.predict(frame)
    print(loaded.target, loaded.version)       # e.g. "challenger", 4

Targets resolve as MLflow resolves model URIs: ``@name`` is the alias
(``models:/NAME@name``), a stage name in any case (``Production``,
``staging``; MLflow's four: None, Staging, Production, Archived) is the newest
version in that stage (``models:/NAME/Production``), and any other name is an
alias. A bare name that is a stage by spelling while the model also has an
alias spelled so is ambiguous, and an error naming both: ``@production`` or
``stage:Production`` says which. All targets are resolved from one batched
read of the model (aliases, stages and versions together), so a fallback chain
costs the same as a single target; then one version is downloaded and loaded
with ``mlflow.pyfunc``.

This module imports nothing heavy: mlflow is imported when
:func:`load_model` runs, so ``import registry_ops`` stays cheap.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from registry_ops.core.redact import redact
from registry_ops.core.state import ObservedModel
from registry_ops.errors import ModelLoadError, RegistryOpsError
from registry_ops.registry.connection import CONSOLE_DEFAULTS, HTTP_DEFAULTS

__all__ = [
    "STAGES",
    "AmbiguousTarget",
    "Loaded",
    "ModelLoadError",
    "TargetNotResolved",
    "load_model",
    "resolve",
]

log = logging.getLogger("registry_ops")

#: Stage names, as MLflow spells them (``mlflow.entities.model_registry.model_version_stages``);
#: MLflow reads ``models:/NAME/<stage>`` in any case, and so does a target.
STAGES = ("None", "Staging", "Production", "Archived")
# A target that says what it is: "@name" (MLflow's models:/NAME@name) and "alias:name" for
# an alias, "stage:Name" for a stage (history's notation). Alias names MLflow accepts have
# neither '@' nor ':', so these never shadow one.
_ALIAS_PREFIXES = ("@", "alias:")
_STAGE_PREFIX = "stage:"

# What constructing the adapter's Registry sets process-wide (fast-failing
# HTTP retries, MLflow's console output off, quiet mlflow loggers, retry notes
# instead of urllib3's warnings). Right for the CLI; a service's own MLflow calls
# and logging must not change because it loaded a model, so load_model puts them back.
_ENV_KEYS = (*HTTP_DEFAULTS, *CONSOLE_DEFAULTS)
_LOGGERS = ("mlflow", "alembic", "urllib3.connectionpool")


@dataclass(frozen=True)
class Loaded:
    """A loaded model version and how it was found."""

    #: the ``mlflow.pyfunc.PyFuncModel``: call ``.predict(...)`` on it
    model: Any
    #: registered model name
    name: str
    #: the target that resolved (an alias name, or ``Production`` / ``Staging``)
    target: str
    #: the version it resolved to
    version: int
    #: the ``models:/NAME/VERSION`` URI the model was loaded from
    uri: str


class TargetNotResolved(RegistryOpsError):
    """No target of the chain resolved to a version; ``tried`` says why for each."""

    def __init__(self, model: str, tried: Sequence[tuple[str, str]], where: str) -> None:
        self.model = model
        self.tried = list(tried)
        if tried:
            reasons = "; ".join(f"{target!r}: {why}" for target, why in tried)
            message = f"no target of model {model!r} resolved at {where} (tried {reasons})"
        else:
            message = f"model {model!r} is not registered at {where}"
        super().__init__(redact(message))


class AmbiguousTarget(TargetNotResolved):
    """A bare target is a stage by spelling and the model also has an alias spelled so.

    Picking either silently serves the wrong model to whoever meant the other
    (``production`` gave the Production stage's v64 while ``@production`` was v65), so
    it is an error naming both; ``@name`` or ``stage:Name`` says which.
    """

    def __init__(
        self,
        model: str,
        target: str,
        alias: str,
        alias_version: int,
        stage: str,
        holders: list[int],
    ) -> None:
        held = f"v{holders[-1]}" if holders else "no version in it"
        why = (
            f"ambiguous: the alias @{alias} (v{alias_version}) and, as MLflow reads stage names "
            f"in any case, the stage {stage} ({held})"
        )
        RegistryOpsError.__init__(
            self,
            redact(
                f"target {target!r} of model {model!r} is ambiguous: it names the alias @{alias} "
                f"(v{alias_version}) and, as MLflow reads stage names in any case, the stage "
                f"{stage} ({held}); write '@{alias}' for the alias or 'stage:{stage}' for the "
                "stage"
            ),
        )
        self.model = model
        self.tried = [(target, why)]
        self.alias, self.stage = alias, stage


def _parse(target: str) -> tuple[str, str]:
    """``(kind, name)`` a target names: ``("alias", name)``, ``("stage", canonical)``, or
    ``("either", canonical stage)`` for a bare stage name (an alias may be spelled so too).

    Raises ValueError for an empty target or a ``stage:`` one that names no stage.
    """
    text = target.strip() if isinstance(target, str) else ""
    for prefix in _ALIAS_PREFIXES:
        if text.startswith(prefix) and text[len(prefix) :].strip():
            return "alias", text[len(prefix) :].strip()
    if text.startswith(_STAGE_PREFIX):
        stage = _stage(text[len(_STAGE_PREFIX) :])
        if stage is None:
            raise ValueError(f"{target!r} names no stage (stages: {', '.join(STAGES)})")
        return "stage", stage
    if not text or text in _ALIAS_PREFIXES:
        raise ValueError(f"a target must be a non-empty alias or stage name, got {target!r}")
    stage = _stage(text)
    return ("either", stage) if stage is not None else ("alias", text)


def _chain(target: str, fallback: Sequence[str] | str | None) -> list[str]:
    """``target`` then the fallbacks, duplicates dropped (stage names compared in any case)."""
    # A bare string is one target, not a sequence of one-letter targets.
    rest = [fallback] if isinstance(fallback, str) else list(fallback or ())
    chain: list[str] = []
    seen: set[tuple[str, str]] = set()
    for item in [target, *rest]:
        if not isinstance(item, str):
            raise ValueError(f"a target must be a non-empty alias or stage name, got {item!r}")
        key = _parse(item)
        if key not in seen:
            seen.add(key)
            chain.append(item)
    return chain


def _stage(target: str) -> str | None:
    """The canonical stage name ``target`` spells (in any case, as MLflow reads it), or None."""
    return next((s for s in STAGES if s.lower() == target.strip().lower()), None)


def _alias_spelled(model: ObservedModel, name: str) -> str | None:
    """The model's alias spelled ``name`` (in any case: a store may compare so), if any."""
    if name in model.aliases:
        return name
    return next((a for a in sorted(model.aliases) if a.lower() == name.lower()), None)


def resolve(
    model: ObservedModel | None, chain: Sequence[str]
) -> tuple[tuple[str, int] | None, list[tuple[str, str]]]:
    """The first ``(target, version)`` of ``chain`` that resolves, and why earlier ones did not.

    Pure: works on the observed model. A target is skipped when it is an
    alias the model does not have, a stage no version is in, or when its
    version is not READY (a failed or pending registration has no files to
    load).

    Raises:
        AmbiguousTarget: a bare stage name the model also has as an alias.
    """
    skipped: list[tuple[str, str]] = []
    if model is None:
        return None, skipped
    for target in chain:
        kind, name = _parse(target)
        if kind == "either":
            alias = _alias_spelled(model, target.strip())
            if alias is not None:
                holders = model.stage_holders(name)
                raise AmbiguousTarget(
                    model.name, target, alias, model.aliases[alias], name, holders
                )
            kind = "stage"
        if kind == "stage":
            holders = model.stage_holders(name)
            if not holders:
                skipped.append((target, f"no version in stage {name}"))
                continue
            version = holders[-1]  # the newest, as MLflow's models:/NAME/Stage resolves it
        else:
            if name not in model.aliases:
                skipped.append((target, "no such alias"))
                continue
            version = model.aliases[name]
        observed = model.versions.get(version)
        if observed is None:
            skipped.append((target, f"points at v{version}, which does not exist"))
            continue
        if observed.status != "READY":
            skipped.append((target, f"v{version} is not ready ({observed.status})"))
            continue
        return (target, version), skipped
    return None, skipped


@contextmanager
def _process_state_kept() -> Iterator[None]:
    """Run the block, then restore the env variables and loggers the adapter tunes."""
    env = {k: os.environ.get(k) for k in _ENV_KEYS}
    loggers = {}
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        loggers[name] = (logger.level, logger.propagate, list(logger.handlers))
    try:
        yield
    finally:
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for name, (level, propagate, handlers) in loggers.items():
            logger = logging.getLogger(name)
            logger.setLevel(level)
            logger.propagate = propagate
            logger.handlers = handlers


def load_model(
    model: str,
    target: str = "champion",
    fallback: Sequence[str] | str | None = ("challenger", "Staging"),
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> Loaded:
    """Load the first of ``target`` and then ``fallback`` that resolves, via ``mlflow.pyfunc``.

    Each target is an alias name (``champion``, or ``@champion``), or a stage
    name in any case (``Production``, ``staging``, or ``stage:Production``) for
    the newest version in that stage. The URIs default to MLflow's own
    configuration (``mlflow.set_tracking_uri``, ``MLFLOW_TRACKING_URI``,
    ``MLFLOW_REGISTRY_URI``); the process-wide settings are never changed.
    Which target resolved, and why each earlier one was skipped, is logged
    at INFO on the ``registry_ops`` logger and returned in :class:`Loaded`.

    A target that resolves but whose files fail to load raises rather than
    falling back: serving an older version because the newest one is broken
    should be a decision, not a side effect.

    Raises:
        TargetNotResolved: the model is not registered, or no target resolved
            (the message lists each target tried and why it was skipped).
        AmbiguousTarget: (a TargetNotResolved) a bare stage name the model also
            has as an alias; the message names both and how to say which.
        RegistryError: MLflow could not be reached or refused the read.
        ModelLoadError: the resolved version could not be downloaded or loaded.
    """
    chain = _chain(target, fallback)
    with _process_state_kept():
        import mlflow

        from registry_ops.registry import Registry
        from registry_ops.registry.pyfunc import load_pyfunc

        tracking = tracking_uri or mlflow.get_tracking_uri()
        registry_at = registry_uri or (tracking if tracking_uri else mlflow.get_registry_uri())
        where = redact(registry_at)
        observed = Registry(tracking, registry_at).read_state([model]).get(model)
        found, skipped = resolve(observed, chain)
        if observed is None or found is None:
            raise TargetNotResolved(model, skipped if observed else [], where)
        chosen, version = found
        uri = f"models:/{model}/{version}"
        if skipped:
            why = "; ".join(f"{t!r} ({reason})" for t, reason in skipped)
            log.info("%s: using %r -> v%d; skipped %s", model, chosen, version, why)
        else:
            log.info("%s: using %r -> v%d", model, chosen, version)
        pyfunc = load_pyfunc(uri, tracking_uri=tracking, registry_uri=registry_at)
    return Loaded(model=pyfunc, name=model, target=chosen, version=version, uri=uri)
