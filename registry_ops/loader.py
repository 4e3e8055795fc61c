"""Read ``manifests/`` and ``policies/`` into validated, typed objects.

Every file is parsed with a safe YAML loader, checked against its JSON Schema
and then cross-checked with the others. Problems are collected across all
files and raised together as one :class:`InvalidInput`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators

from registry_ops.errors import InvalidInput, Problem
from registry_ops.model import (
    STAGES,
    Desired,
    GateSpec,
    Location,
    ModelManifest,
    Policy,
    Prune,
    Retention,
)
from registry_ops.schema_messages import describe, json_path
from registry_ops.yamldoc import YamlDoc, YamlSyntaxError, normalize, parse

YAML_SUFFIXES = (".yaml", ".yml")
GATE_KINDS = ("metric", "tags", "max_age_days")


# JSON Schema counts 1.0 as an integer; a version number or a count written
# as 1.0 is a mistake here (and would crash slicing), so integers are ints.
_Validator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    ),
)


@cache
def validator(kind: str) -> Any:
    """The compiled validator for ``manifest`` or ``policy``, from package data."""
    text = resources.files("registry_ops.schemas").joinpath(f"{kind}.schema.json").read_text()
    return _Validator(json.loads(text))


def yaml_files(directory: Path) -> list[Path]:
    """YAML files below ``directory``, recursively, in a stable order."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())


class _Collector:
    """Gathers problems for one run; each file's problems name that file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []

    def display(self, path: Path) -> str:
        """How a file is named in messages: as reached from the root the user gave."""
        return os.path.normpath(path)

    def add(self, file: str, where: tuple[int, int] | None, path: str, message: str) -> None:
        line, col = where if where else (None, None)
        self.problems.append(Problem(file, line, col, path, message))

    def add_at(self, loc: Location, path: str, message: str) -> None:
        self.problems.append(Problem(loc.file, loc.line, loc.column, path, message))


def load(root: str | Path = ".") -> Desired:
    """Load and validate everything under ``root``; raise InvalidInput with every problem."""
    root_path = Path(root)
    out = _Collector(root_path)
    manifests_dir, policies_dir = root_path / "manifests", root_path / "policies"
    if not manifests_dir.is_dir():
        out.add(out.display(manifests_dir), None, "$", "no manifests/ directory here")
        raise InvalidInput(out.problems)

    policies: dict[str, Policy] = {}
    policy_where: dict[str, Location] = {}
    for path in yaml_files(policies_dir):
        file = out.display(path)
        doc = _read(path, file, "policy", out)
        if doc is None:
            continue
        policy = _policy(doc, file)
        loc = _loc(doc, file, ("name",))
        if policy.name in policies:
            first = policy_where[policy.name]
            out.add_at(loc, "$.name", f"policy '{policy.name}' is already defined in {_at(first)}")
            continue
        policies[policy.name] = policy
        policy_where[policy.name] = loc

    manifests: dict[str, ModelManifest] = {}
    warnings: list[str] = []
    for path in yaml_files(manifests_dir):
        file = out.display(path)
        doc = _read(path, file, "manifest", out)
        if doc is None:
            continue
        manifest = _manifest(doc, file, str(path.relative_to(root_path)))
        if manifest.model in manifests:
            first = manifests[manifest.model].where("model")
            out.add_at(
                manifest.where("model"),
                "$.model",
                f"model '{manifest.model}' is already managed by {_at(first)}",
            )
            continue
        manifests[manifest.model] = manifest
        _check_manifest(manifest, policies, out, warnings)

    if out.problems:
        raise InvalidInput(out.problems)
    return Desired(str(root_path), manifests, policies, tuple(warnings))


def _at(loc: Location) -> str:
    return f"{loc.file}:{loc.line}" if loc.line else loc.file


def _read(path: Path, file: str, kind: str, out: _Collector) -> YamlDoc | None:
    """Parse and schema-check one file; None (with problems recorded) when invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        out.add(file, None, "$", f"cannot read file: {exc}")
        return None
    try:
        doc = parse(text)
    except YamlSyntaxError as exc:
        where = (exc.line, exc.column) if exc.line is not None else None
        out.add(file, where, "$", str(exc))  # type: ignore[arg-type]
        return None
    if doc.data is None:
        out.add(file, None, "$", f"empty file: expected a {kind} document")
        return None
    before = len(out.problems)
    found: list[tuple[tuple[int, int] | None, str, str]] = [
        (where, json_path(key_path), f"key '{key_path[-1]}' is given twice")
        for key_path, where in doc.duplicate_keys
    ]
    for error in _errors(kind, doc.data):
        error_path, where = _locate(error, doc)
        found.append((where, json_path(error_path), describe(error)))
    for where, json_at, message in sorted(found, key=lambda f: f[0] or (0, 0)):
        out.add(file, where, json_at, message)
    return doc if len(out.problems) == before else None


def _errors(kind: str, data: Any) -> Iterator[ValidationError]:
    errors = validator(kind).iter_errors(data)
    yield from sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), str(e.message)))


def _locate(error: ValidationError, doc: YamlDoc) -> tuple[tuple[Any, ...], tuple[int, int] | None]:
    """The JSON path and source position an error is about."""
    path = tuple(error.absolute_path)
    if "propertyNames" in error.absolute_schema_path:
        # jsonschema reports a bad key at its parent object; point at the key itself.
        key_path = normalize((*path, error.instance))
        return key_path, doc.key_marks.get(key_path) or doc.mark(path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema: Any = error.schema
        allowed = set(schema.get("properties", {}))
        extras = [k for k in error.instance if k not in allowed]
        if extras:
            key_path = normalize((*path, extras[0]))
            return key_path, doc.key_marks.get(key_path) or doc.mark(path)
    return path, doc.mark(path)


def _loc(doc: YamlDoc, file: str, path: tuple[str | int, ...]) -> Location:
    mark = doc.mark(path)
    return Location(file, *mark) if mark else Location(file)


def _versions(value: int | list[int]) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def _str_map(value: dict[str, Any] | None) -> dict[str, str] | None:
    """Tag values as MLflow stores them: strings (YAML may give numbers or booleans)."""
    if value is None:
        return None
    return {str(k): (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in value.items()}


def _manifest(doc: YamlDoc, file: str, rel: str) -> ModelManifest:
    data = doc.data
    locations = {
        tuple(str(p) for p in path): Location(file, *mark)
        for path, mark in doc.marks.items()
        if path
    }
    retention = data.get("retention", {})
    prune = data.get("prune", {})
    return ModelManifest(
        model=data["model"],
        file=rel,
        description=data.get("description"),
        tags=_str_map(data.get("tags")),
        aliases=dict(data.get("aliases") or {}),
        stages={stage: _versions(v) for stage, v in (data.get("stages") or {}).items()},
        gates={str(k): v for k, v in (data.get("gates") or {}).items()},
        retention=Retention(
            archive_unlisted=retention.get("archive_unlisted", False),
            keep_latest=retention.get("keep_latest", 0),
        ),
        prune=Prune(aliases=prune.get("aliases", False), tags=prune.get("tags", False)),
        locations=locations,
    )


def _policy(doc: YamlDoc, file: str) -> Policy:
    data = doc.data
    gates = []
    for index, raw in enumerate(data["gates"]):
        kind = next(k for k in GATE_KINDS if k in raw)
        params = dict(raw)
        if kind == "tags":
            params["tags"] = _str_map(raw["tags"])
        gates.append(GateSpec(kind=kind, params=params, index=index))
    return Policy(data["name"], file, tuple(gates), data.get("description"))


def _check_manifest(
    manifest: ModelManifest,
    policies: dict[str, Policy],
    out: _Collector,
    warnings: list[str],
) -> None:
    """Checks that need more than one file, or more than the schema can say."""
    holder: dict[int, str] = {}
    for stage in STAGES:
        for index, version in enumerate(manifest.stages.get(stage, ())):
            if version in holder:
                loc = manifest.where("stages", stage, str(index))
                if loc.line is None:
                    loc = manifest.where("stages", stage)
                out.add_at(
                    loc,
                    f"$.stages.{stage}",
                    f"version {version} is already given stage {holder[version]}: "
                    "a version holds one stage at a time",
                )
            holder[version] = stage
    targets = set(manifest.aliases) | set(manifest.stages)
    for target, policy_name in manifest.gates.items():
        if policy_name not in policies:
            known = ", ".join(sorted(policies)) or "none defined"
            out.add_at(
                manifest.where("gates", target),
                f"$.gates.{target}",
                f"unknown policy '{policy_name}' (policies: {known})",
            )
        if target not in targets:
            loc = manifest.where("gates", target)
            warnings.append(
                f"{_at(loc)}: $.gates.{target}: '{target}' is not an alias or stage of this "
                "manifest; the gate applies once it is"
            )
