"""Manifests: a validated document into a :class:`ModelManifest`, and the checks that need
more than one file or more than the schema can say (stages, gates, overrides, protect).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from registry_ops.core.model import (
    STAGES,
    Location,
    ModelManifest,
    Override,
    Policy,
    Prune,
    Retention,
)
from registry_ops.core.state import RESERVED_TAG_PREFIXES, reserved_tag
from registry_ops.desired.messages import json_path, suggest
from registry_ops.desired.problems import Collector, shown_at
from registry_ops.desired.yamldoc import YamlDoc

# An override reason is read in an incident review: a placeholder is no reason.
_PLACEHOLDERS = re.compile(
    r"^\W*(todo|tbd|fixme|xxx+|n/?a|none|override|overridden|emergency|urgent|hotfix|fix|"
    r"temp|temporary|test|testing|asap|later|reason|lorem ipsum.*|\.+|-+|\?+)\W*$",
    re.IGNORECASE,
)
EXPIRY_WARNING_DAYS = 7


def _versions(value: int | list[int]) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def _str_map(value: dict[str, Any] | None) -> dict[str, str] | None:
    """Tag maps as MLflow stores them; the schema has already made sure they are strings."""
    if value is None:
        return None
    return {str(k): str(v) for k, v in value.items()}


def manifest_from(doc: YamlDoc, file: str, rel: str) -> ModelManifest:
    """The manifest of a document that passed its schema; ``rel`` is its path under the root."""
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


def check_overrides(manifest: ModelManifest, out: Collector, today: date) -> list[str]:
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
        where = shown_at(override.location)
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


def check_reserved_tags(manifest: ModelManifest) -> list[str]:
    """A tag another tool owns (``mlflow.*``, ``databricks.*``) is never planned: say so,
    so nobody expects the manifest to set it. Not an error: manifests exported before
    these tags were left out name them, and still mean everything else they say."""
    prefixes = ", ".join(f"{p}*" for p in RESERVED_TAG_PREFIXES)
    return [
        f"{shown_at(manifest.where('tags', key))}: {json_path(('tags', key))}: tags {prefixes} "
        "belong to MLflow and Databricks; registry-ops leaves them alone (remove the key)"
        for key in sorted(manifest.tags or {})
        if reserved_tag(key)
    ]


def _did_you_mean(word: str, choices: list[str]) -> str:
    hint = suggest(word, choices)
    return f"; did you mean '{hint}'?" if hint else ""


def check_manifest(
    manifest: ModelManifest,
    policies: dict[str, Policy],
    broken: dict[str, str],
    out: Collector,
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
                f"{named}), so this gate would never run"
                + (_did_you_mean(target, targets) or _declare_empty(target)),
            )


def _declare_empty(target: str) -> str:
    """How to keep a gate for a target nobody holds (yet): declare the target empty."""
    if target == "Archived":
        return ""  # archiving is never gated
    if target in STAGES:
        return f"; to gate a stage nobody holds, declare it empty: stages: {{{target}: []}}"
    return f"; to gate an alias nobody holds, declare it empty: aliases: {{{target}: null}}"
