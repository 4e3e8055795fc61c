"""Read ``manifests/`` and ``policies/`` into validated, typed objects.

Every file is parsed with a safe YAML loader, checked against its JSON Schema
and then cross-checked with the others. Problems are collected across all
files and raised together as one :class:`InvalidInput`.

Manifests arrive through pull requests, so the input is treated as possibly
hostile as well as possibly mistaken:

- Which files are read: every entry below ``manifests/`` and ``policies/``
  whose name ends in ``.yaml`` or ``.yml``, in any letter case. Such an
  entry must be a readable regular file (or a link to one); a broken link, a
  FIFO, a socket, a device or a directory with a YAML name is an error, so a
  manifest can never silently drop out of the run. Entries with other names
  (``README.md``, ``.gitkeep``, notes) are ignored without a word: they are
  normal in these folders, and warning about each would teach people to
  ignore warnings.
- Links are followed only when they resolve inside the root given with
  ``-C``; a YAML-named link to a file outside it, or any link to a
  directory outside it (or ``manifests``/``policies`` themselves linking
  out), is an error naming the entry, so a pull request cannot make the
  tool read (and apply) files from elsewhere on the runner. A directory
  reached twice (a link loop) is an error too.
- Special files are never read: the scan refuses them from ``stat``, and
  the read itself opens without blocking and checks ``fstat`` again (a FIFO
  swapped in between would otherwise block forever). Files larger than
  :data:`registry_ops.desired.files.MAX_FILE_BYTES` are refused before they are read.
- Text must be UTF-8. A UTF-8 byte order mark is accepted and dropped (YAML
  allows it and Windows editors write it); a UTF-16 or UTF-32 one is refused.
- YAML limits (nesting depth, alias expansion, cycles, one document per
  file) are enforced by :mod:`registry_ops.desired.yamldoc` before any Python object
  is built.
- Tag keys and values, descriptions and names must be YAML strings: YAML 1.1
  reads ``NO`` as false, ``0755`` as 493, ``1:30`` as 90 and ``1.10`` as 1.1,
  so a bare boolean, number, null or date where a string belongs is an error
  that shows the text as written and how to quote it. Every mapping key must
  be a string for the same reason (``yes:``, ``~:`` and ``2024:`` are not).
- Gate thresholds must be finite (NaN compares false with everything, so a
  NaN bound would pass every candidate), ``min`` may not exceed ``max``, a
  policy needs at least one gate, and every target in a manifest's
  ``gates`` must be one of its aliases or stages (else the promotion it
  meant to gate would run ungated).
"""

from __future__ import annotations

import json
import math
import os
import re
import unicodedata
from collections.abc import Iterator
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeGuard

from jsonschema import Draft202012Validator, ValidationError, validators

from registry_ops.core.model import (
    STAGES,
    Desired,
    GateSpec,
    Location,
    ModelManifest,
    Override,
    Policy,
    Prune,
    Retention,
)
from registry_ops.desired.files import (
    ReadError,
    link_text,
    read_text,
    scan,
)
from registry_ops.desired.messages import describe, json_path, show, suggest
from registry_ops.desired.yamldoc import (
    PathKey,
    Scalar,
    YamlDoc,
    YamlSyntaxError,
    normalize,
    parse,
)
from registry_ops.errors import InvalidInput, Problem

# One problem before it is recorded: position, JSON path, message.
Found = tuple[tuple[int, int] | None, str, str]
GATE_KINDS = (
    "metric",
    "tags",
    "max_age_days",
    "signature",
    "loadable",
    "evaluate",
    "requires_previous",
)
# An override reason is read in an incident review: a placeholder is no reason.
_PLACEHOLDERS = re.compile(
    r"^\W*(todo|tbd|fixme|xxx+|n/?a|none|override|overridden|emergency|urgent|hotfix|fix|"
    r"temp|temporary|test|testing|asap|later|reason|lorem ipsum.*|\.+|-+|\?+)\W*$",
    re.IGNORECASE,
)
EXPIRY_WARNING_DAYS = 7

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


# --- problems ------------------------------------------------------------------------------


def _printable(text: str) -> str:
    """``text`` with control and format characters escaped.

    Keys, values and file names come from the input; an escape sequence or a
    bidirectional override in them must not reach a terminal or a CI log raw.
    """
    if text.isprintable():
        return text
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")
        else ch
        for ch in text
    )


class _Collector:
    """Gathers problems for one run; each file's problems name that file."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def display(self, path: Path) -> str:
        """How a file is named in messages: as reached from the root the user gave."""
        return os.path.normpath(path)

    def add(self, file: str, where: tuple[int, int] | None, path: str, message: str) -> None:
        line, col = where if where else (None, None)
        self.problems.append(
            Problem(_printable(file), line, col, _printable(path), _printable(message))
        )

    def add_at(self, loc: Location, path: str, message: str) -> None:
        self.add(loc.file, (loc.line, loc.column) if loc.line else None, path, message)  # type: ignore[arg-type]


def load(root: str | Path = ".", today: date | None = None) -> Desired:
    """Load and validate everything under ``root``; raise InvalidInput with every problem."""
    root_path = Path(root)
    out = _Collector()
    manifests_dir, policies_dir = root_path / "manifests", root_path / "policies"
    manifest_files = _files(manifests_dir, root_path, out, required=True)
    policy_files = _files(policies_dir, root_path, out, required=False)
    if manifest_files is None:
        raise InvalidInput(out.problems)

    policies: dict[str, Policy] = {}
    policy_where: dict[str, Location] = {}
    # Policies whose file has errors, by name: a manifest naming one is told
    # why it is missing instead of "unknown policy".
    broken: dict[str, str] = {}
    for path in policy_files or ():
        file = out.display(path)
        doc, valid = _read(path, file, "policy", out)
        if doc is None or not valid:
            data = doc.data if doc else None
            name = data.get("name") if isinstance(data, dict) else None
            broken[name if isinstance(name, str) else path.stem] = file
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
    for path in manifest_files:
        file = out.display(path)
        doc, valid = _read(path, file, "manifest", out)
        if doc is None or not valid:
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
        _check_manifest(manifest, policies, broken, out)
        warnings += _check_overrides(manifest, out, today or datetime.now(UTC).date())

    if out.problems:
        raise InvalidInput(out.problems)
    return Desired(str(root_path), manifests, policies, tuple(warnings))


def _files(directory: Path, root: Path, out: _Collector, required: bool) -> list[Path] | None:
    """The YAML files of ``manifests/`` or ``policies/``; None when the directory is unusable."""
    name, file = directory.name, out.display(directory)
    if not os.path.lexists(directory):
        if required:
            out.add(file, None, "$", f"no {name}/ directory here")
            return None
        return []
    if os.path.islink(directory):
        try:
            target = directory.resolve(strict=True)
        except (OSError, RuntimeError):
            out.add(file, None, "$", f"broken symbolic link (points to {link_text(directory)})")
            return None
        if not target.is_relative_to(root.resolve()):
            out.add(
                file,
                None,
                "$",
                f"symbolic link to {link_text(directory)}, outside the repository root "
                f"{root.resolve()}: refusing to follow it",
            )
            return None
    if not directory.is_dir():
        out.add(file, None, "$", f"{name}/ must be a directory")
        return None
    found = scan(directory, root)
    for path, reason in found.problems:
        out.add(out.display(path), None, "$", reason)
    return found.files


def _at(loc: Location) -> str:
    return f"{loc.file}:{loc.line}" if loc.line else loc.file


def _read(path: Path, file: str, kind: str, out: _Collector) -> tuple[YamlDoc | None, bool]:
    """Parse and schema-check one file: the document (None when it could not be
    parsed) and whether it is valid; problems are recorded in ``out``."""
    try:
        text = read_text(path)
    except ReadError as exc:
        where = (exc.line, exc.column) if exc.line is not None else None
        out.add(file, where, "$", str(exc))  # type: ignore[arg-type]
        return None, False
    except OSError as exc:
        out.add(file, None, "$", f"cannot read file: {exc.strerror or exc}")
        return None, False
    try:
        doc = parse(text)
    except YamlSyntaxError as exc:
        where = (exc.line, exc.column) if exc.line is not None else None
        out.add(file, where, "$", str(exc))  # type: ignore[arg-type]
        return None, False
    if doc.data is None:
        written = doc.scalars.get(())
        if written and written.source:  # a document that is just ``~`` or ``null``
            out.add(file, doc.marks[()], "$", f"expected a {kind} (a mapping), got null")
        else:
            out.add(file, None, "$", f"empty file: expected a {kind} document")
        return doc, False
    before = len(out.problems)
    found: list[Found] = [
        (where, json_path((*key_path[:-1], scalar.source)), _odd_key_message(scalar))
        for key_path, scalar, where in doc.odd_keys
    ]
    found += [
        (where, json_path(key_path), f"key '{key_path[-1]}' is given twice")
        for key_path, where in doc.duplicate_keys
    ]
    if kind == "manifest":
        _dates_as_text(doc.data)
    for error in _errors(kind, doc.data):
        error_path, where = _locate(error, doc)
        if _under_odd_key(normalize(error_path), doc):
            continue  # already reported as a key that is not a string
        found.append((where, json_path(error_path), _message(error, error_path, doc)))
    if kind == "policy":
        found += _check_policy(doc)
    for where, json_at, message in sorted(found, key=lambda f: f[0] or (0, 0)):
        out.add(file, where, json_at, message)
    return doc, len(out.problems) == before


def _dates_as_text(data: Any) -> None:
    """``expires: 2026-12-31`` is a YAML date; the schema checks it as YYYY-MM-DD text."""
    overrides = data.get("overrides") if isinstance(data, dict) else None
    for value in overrides.values() if isinstance(overrides, dict) else ():
        if isinstance(value, dict) and isinstance(value.get("expires"), date):
            value["expires"] = value["expires"].isoformat()[:10]


def _under_odd_key(path: PathKey, doc: YamlDoc) -> bool:
    # Compared as text: the data may hold the key 2024 where the walk recorded '2024'.
    odd = {tuple(map(str, key_path)) for key_path, _, _ in doc.odd_keys}
    text = tuple(map(str, path))
    return any(text[:n] in odd for n in range(1, len(text) + 1))


def _quoted(text: str) -> str:
    # JSON's double-quoted strings are valid YAML double-quoted scalars.
    return json.dumps(text, ensure_ascii=False)


def _odd_key_message(scalar: Scalar) -> str:
    written = scalar.source or "an empty key"
    return (
        f"key {written} is not a string: YAML 1.1 reads it as {scalar.kind}. "
        f"Keys must be strings; quote it: {_quoted(scalar.source)}: ..."
    )


def _message(error: ValidationError, path: tuple[Any, ...], doc: YamlDoc) -> str:
    """describe(), plus the source text and a quoting hint where a string was expected."""
    types = error.validator_value if error.validator == "type" else None
    wants_string = types == "string" or (isinstance(types, list) and "string" in types)
    scalar = doc.scalars.get(normalize(path)) if wants_string else None
    if scalar is None:
        return describe(error)
    key = path[-1] if path and isinstance(path[-1], str) else None
    hint = f"{key}: " if key is not None else "- "
    quoted = _quoted(scalar.source)
    if scalar.tag.endswith(":null") and not scalar.source:
        return f'expected a string, got no value (null); write {hint}"" for an empty string'
    became = show(error.instance)
    reading = (
        (scalar.kind if became == "null" else f"{scalar.kind} {became}")
        if became == scalar.source
        else f"{scalar.kind} (YAML 1.1 reads {scalar.source} as {became})"
    )
    return f"expected a string, got {reading}; quote it to keep the text: {hint}{quoted}"


def _errors(kind: str, data: Any) -> Iterator[ValidationError]:
    errors = validator(kind).iter_errors(data)
    yield from sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), str(e.message)))


def _locate(error: ValidationError, doc: YamlDoc) -> tuple[tuple[Any, ...], tuple[int, int] | None]:
    """The JSON path and source position an error is about."""
    path = tuple(error.absolute_path)
    if "propertyNames" in error.absolute_schema_path:
        # jsonschema reports a bad key at its parent object; point at the key itself.
        # (str: a key 2024 is a key, not a sequence index.)
        key_path = (*normalize(path), str(error.instance))
        return key_path, doc.key_marks.get(key_path) or doc.mark(path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema: Any = error.schema
        allowed = set(schema.get("properties", {}))
        extras = [k for k in error.instance if k not in allowed]
        if extras:
            key_path = (*normalize(path), str(extras[0]))
            return key_path, doc.key_marks.get(key_path) or doc.mark(path)
    return path, doc.mark(path)


def _loc(doc: YamlDoc, file: str, path: tuple[str | int, ...]) -> Location:
    mark = doc.mark(path)
    return Location(file, *mark) if mark else Location(file)


def _versions(value: int | list[int]) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def _str_map(value: dict[str, Any] | None) -> dict[str, str] | None:
    """Tag maps as MLflow stores them; the schema has already made sure they are strings."""
    if value is None:
        return None
    return {str(k): str(v) for k, v in value.items()}


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
        overrides={
            str(target): Override(
                reason=value["reason"],
                expires=date.fromisoformat(value["expires"]),
                location=locations.get(("overrides", str(target), "reason"), Location(file)),
            )
            for target, value in (data.get("overrides") or {}).items()
        },
        protect=tuple(data.get("protect") or ()),
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
    return Policy(
        data["name"],
        file,
        tuple(gates),
        data.get("description"),
        allow_rollback=bool(data.get("allow_rollback", False)),
    )


def _check_policy(doc: YamlDoc) -> list[Found]:
    """What the schema cannot say about a policy's gates.

    A NaN bound compares false with every value and an infinite one is met by
    every value, so either would let any candidate through; min above max
    would block every candidate forever. Runs on unvalidated data too, so a
    file's schema errors and these are reported together.
    """
    found: list[Found] = []
    gates = doc.data.get("gates") if isinstance(doc.data, dict) else None
    for index, gate in enumerate(gates if isinstance(gates, list) else ()):
        if not isinstance(gate, dict):
            continue
        found += _check_bounds(doc, ("gates", index), gate)
        spec = gate.get("evaluate")
        if isinstance(spec, dict):
            base = ("gates", index, "evaluate")
            found += _check_bounds(doc, base, {"latency_p95_ms": spec.get("latency_p95_ms")})
            metrics = spec.get("metrics")
            for name, bounds in metrics.items() if isinstance(metrics, dict) else ():
                if isinstance(bounds, dict):
                    found += _check_bounds(doc, (*base, "metrics", name), bounds)
            found += _check_dataset(doc, base, spec.get("dataset"))
    return found


def _check_bounds(doc: YamlDoc, base: tuple[Any, ...], bounds: dict[str, Any]) -> list[Found]:
    """Finite numbers, and min <= max, in one mapping of thresholds."""
    found: list[Found] = []
    for key, value in bounds.items():
        if isinstance(value, float) and not math.isfinite(value):
            path = normalize((*base, key))
            scalar = doc.scalars.get(path)
            written = scalar.source if scalar else show(value)
            message = (
                f"expected a finite number, got {written}: a NaN or infinite threshold "
                "would let every candidate through"
            )
            found.append((doc.mark(path), json_path(path), message))
    low, high = bounds.get("min"), bounds.get("max")
    if _number(low) and _number(high) and low > high:
        path = normalize((*base, "min"))
        message = f"min {low} is greater than max {high}: no value can pass this gate"
        found.append((doc.mark(path), json_path(path), message))
    return found


def _check_dataset(doc: YamlDoc, base: tuple[Any, ...], dataset: Any) -> list[Found]:
    """A holdout path must stay inside the repository (URIs are the downloader's)."""
    if not isinstance(dataset, str) or re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:", dataset):
        return []
    if not (Path(dataset).is_absolute() or ".." in Path(dataset).parts):
        return []
    path = normalize((*base, "dataset"))
    message = (
        f"dataset {dataset!r} escapes the repository: give a path inside it "
        "(relative to the root) or an MLflow artifact URI"
    )
    return [(doc.mark(path), json_path(path), message)]


def _check_overrides(manifest: ModelManifest, out: _Collector, today: date) -> list[str]:
    """An override names a target of the manifest and gives a real reason; one that
    expires within a week is worth a warning (an expired one no longer counts)."""
    warnings = []
    targets = [*manifest.aliases, *manifest.stages]
    for index, target in enumerate(manifest.protect):
        if target not in targets:
            named = ", ".join(targets) if targets else "none"
            out.add_at(
                manifest.where("protect", str(index)),
                f"$.protect[{index}]",
                f"'{target}' is not an alias or stage of this manifest (targets here: {named})"
                + _did_you_mean(target, targets),
            )
    for target, override in sorted(manifest.overrides.items()):
        at = json_path(("overrides", target))
        if target not in targets:
            named = ", ".join(targets) if targets else "none"
            out.add_at(
                manifest.where("overrides", target),
                at,
                f"'{target}' is not an alias or stage of this manifest (targets here: {named})"
                + _did_you_mean(target, targets),
            )
        reason = override.reason.strip()
        words = re.findall(r"[A-Za-z0-9]{2,}", reason)
        if _PLACEHOLDERS.match(reason) or len(words) < 3 or len(reason) < 15:
            out.add_at(
                override.location,
                at + ".reason",
                f"override reason {reason!r} is not a reason: write a sentence a reviewer "
                'can check, e.g. "INC-4711: v7 restores the fallback path; full eval to follow"',
            )
        left = (override.expires - today).days
        where = _at(override.location)
        if left < 0:
            warnings.append(
                f"{where}: {at}: the override expired on {override.expires}; its gates block again"
            )
        elif left <= EXPIRY_WARNING_DAYS:
            warnings.append(
                f"{where}: {at}: the override expires on {override.expires} "
                f"(in {left} day{'s' * (left != 1)})"
            )
    return warnings


def _number(value: Any) -> TypeGuard[int | float]:
    """A finite int or float (not a bool, which YAML gives for ``yes``)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _did_you_mean(word: str, choices: list[str]) -> str:
    hint = suggest(word, choices)
    return f"; did you mean '{hint}'?" if hint else ""


def _check_manifest(
    manifest: ModelManifest,
    policies: dict[str, Policy],
    broken: dict[str, str],
    out: _Collector,
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
    targets = [*manifest.aliases, *manifest.stages]
    for target, policy_name in manifest.gates.items():
        at = json_path(("gates", target))
        if policy_name in broken:
            out.add_at(
                manifest.where("gates", target),
                at,
                f"policy '{policy_name}' cannot be used: {broken[policy_name]} has errors",
            )
        elif policy_name not in policies:
            known = ", ".join(sorted(policies)) or "none defined"
            out.add_at(
                manifest.where("gates", target),
                at,
                f"unknown policy '{policy_name}' (policies: {known})"
                + _did_you_mean(policy_name, sorted(policies)),
            )
        if target not in targets:
            # Once a warning: the promotion it was meant to gate then ran ungated.
            named = ", ".join(targets) if targets else "none"
            out.add_at(
                manifest.where("gates", target),
                at,
                f"'{target}' is not an alias or stage of this manifest (targets here: "
                f"{named}), so this gate would never run" + _did_you_mean(target, targets),
            )
