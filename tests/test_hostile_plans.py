"""Hostile and broken saved plans: refused by ``apply``, with no traceback and no write.

Each case starts from a real plan saved against a seeded registry (it would
promote v2 to champion) and breaks it one way: bytes that are not a plan,
shapes that are not ours, and edits an attacker might try. Every case must
exit 1, name the file, show no traceback, and leave the registry exactly as
it was (a full snapshot before and after).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.snapshot import registry_snapshot

Mutation = Callable[[bytes], bytes]


def _json(edit: Callable[[dict[str, Any]], object]) -> Mutation:
    def mutate(raw: bytes) -> bytes:
        data = json.loads(raw)
        edit(data)
        return json.dumps(data).encode()

    return mutate


def _change(data: dict[str, Any]) -> dict[str, Any]:
    return data["models"][0]["changes"][-1]  # type: ignore[no-any-return]


def _weak(data: dict[str, Any]) -> dict[str, Any]:
    """The blocked promotion (model 'weak'): what an attacker wants through."""
    return data["models"][1]["changes"][0]  # type: ignore[no-any-return]


def _set(path: str, value: object) -> Mutation:
    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return _json(edit)


CASES: dict[str, tuple[Mutation, str]] = {
    # not a plan at all
    "empty": (lambda raw: b"", "not a JSON plan file"),
    "garbage": (lambda raw: b"hello, world", "not a JSON plan file"),
    "truncated": (lambda raw: raw[: len(raw) // 2], "not a JSON plan file"),
    "latin-1": (lambda raw: raw.replace(b'"clf"', b'"cl\xe9f"'), "not UTF-8"),
    "utf-16": (lambda raw: raw.decode().encode("utf-16"), "not UTF-8"),
    "nan": (lambda raw: raw.replace(b'"format_version": 1', b'"format_version": NaN'), "NaN"),
    "infinity": (lambda raw: raw.replace(b'"version": 2', b'"version": Infinity'), "Infinity"),
    "deep-nesting": (lambda raw: b"[" * 100_000 + b"]" * 100_000, "not"),
    "top-level-list": (lambda raw: b"[" + raw + b"]", "not a registry-ops plan"),
    "yaml-not-json": (lambda raw: b"format_version: 1\nmodels: []\n", "not a JSON plan file"),
    # the wrong shape
    "format-version-2": (_set("format_version", 2), "format_version 1"),
    "format-version-str": (_set("format_version", "1"), "format_version 1"),
    "no-digest": (_json(lambda d: d.pop("digest")), "'digest' is a required property"),
    "digest-not-sha256": (_set("digest", "md5:abc"), "$.digest"),
    "models-not-list": (_set("models", {"clf": []}), "$.models"),
    "changes-null": (_set("models.0.changes", None), "$.models[0].changes"),
    "unknown-action": (_json(lambda d: _change(d).update(action="drop_model")), "action"),
    "version-str": (_json(lambda d: _change(d).update(version="2")), "version"),
    "version-float": (_json(lambda d: _change(d).update(version=2.5)), "version"),
    "version-huge": (lambda raw: raw.replace(b'"version": 2', b'"version": 1e999'), "version"),
    "alias-int": (_json(lambda d: _change(d).update(alias=7)), "alias"),
    "passed-str": (_json(lambda d: _change(d)["gates"][0].update(passed="true")), "passed"),
    "model-name-int": (_set("models.0.model", 42), "$.models[0].model"),
    # well-formed, but edited after `plan` wrote it: the digest catches each
    "flip-passed": (_json(lambda d: _weak(d)["gates"][0].update(passed=True)), "digest"),
    "flip-blocked": (_json(lambda d: _weak(d)["gates"].clear()), "digest"),
    "drop-gates": (_json(lambda d: _change(d).update(gates=[])), "digest"),
    "other-version": (_json(lambda d: _change(d).update(version=1)), "digest"),
    "extra-change": (
        _json(lambda d: d["models"][0]["changes"].append({**_change(d), "alias": "vip"})),
        "digest",
    ),
    "other-target": (_set("tracking_uri", "http://elsewhere:5000"), "digest"),
    "other-commit": (_set("git", {"commit": "0" * 40, "dirty": False}), "digest"),
    "observed-edited": (_set("models.0.observed.aliases", {"champion": 2}), "digest"),
    "evidence-edited": (_set("models.0.evidence", {}), "digest"),
    "forged-signature": (_set("signature", "hmac-sha256:" + "0" * 64), "signature"),
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path):  # type: ignore[no-untyped-def]
    """A seeded registry, a repository, and a real plan: it promotes clf v2 to
    champion, and would promote weak v1 but a gate blocks it."""
    import shutil

    from registry_ops.cli import main
    from tests.conftest import Workspace
    from tests.support.seed import Seeder

    base = tmp_path_factory.mktemp("hostile-plans")
    db = base / "mlflow.db"
    shutil.copy(sqlite_template, db)
    uri = f"sqlite:///{db}"
    seeder = Seeder(uri, (base / "artifacts").as_uri())
    seeder.version("clf", val_accuracy=0.7)
    seeder.version("clf", val_accuracy=0.95)
    seeder.version("weak", val_accuracy=0.5)
    ws = Workspace(base / "repo")
    ws.policy("production", "    - metric: val_accuracy\n      min: 0.9\n")
    ws.manifest("clf", "aliases: {champion: 2}\ngates: {champion: production}\n")
    ws.manifest("weak", "aliases: {champion: 1}\ngates: {champion: production}\n", name="w")
    plan = base / "plan.json"
    with pytest.raises(SystemExit) as done:
        main(["--tracking-uri", uri, "-C", str(ws.root), "plan", "--out", str(plan)])
    assert done.value.code == 0
    return uri, ws.root, plan.read_bytes()


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_plan_is_refused_without_a_write(cli, saved, case: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    uri, root, raw = saved
    mutate, expected = CASES[case]
    broken = mutate(raw)
    assert broken != raw
    path = tmp_path / f"{case}.json"
    path.write_bytes(broken)
    before = registry_snapshot(uri)
    result = cli("--tracking-uri", uri, "-C", str(root), "apply", "--yes", str(path))
    text = result.out + result.err
    assert result.code == 1, text
    assert "Traceback" not in text
    assert str(path) in result.err
    assert expected in result.err, result.err
    assert registry_snapshot(uri) == before


def test_the_unbroken_plan_applies(cli, saved, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The control, run last: the same plan, unbroken, is applied as far as its gates
    allow (so the refusals above mean something)."""
    uri, root, raw = saved
    path = tmp_path / "plan.json"
    path.write_bytes(raw)
    before = registry_snapshot(uri)
    result = cli("--tracking-uri", uri, "-C", str(root), "apply", "--yes", str(path))
    assert result.code == 3, result.err  # weak stays blocked
    after = registry_snapshot(uri)
    assert after["clf"]["aliases"] == {"champion": 2} and after["weak"]["aliases"] == {}
    assert after != before
