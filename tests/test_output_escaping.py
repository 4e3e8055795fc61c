"""Registry, git and file text never becomes a terminal or CI command, in any output.

A real sqlite registry and a real git repository carry hostile text wherever a
writer can put it: model names (MLflow refuses ``:`` and ``/`` there, nothing
else), descriptions, tag values, signature input names, a lease holder and
host (a tag written with MlflowClient), the applying actor, commit messages and
authors, and the content and name of an invalid manifest. Every format of every
command runs against it, and every line of stdout and stderr is checked:

- no line starts with ``::`` (after blanks, as the GitHub runner reads it) but
  registry-ops' own annotations, and no ``##[`` (the runner's legacy prefix,
  honoured anywhere in a line);
- no raw control, format or separator character (ANSI escapes, ``\\r``, NUL,
  U+202E, U+2028...) in text, Markdown or GitHub output, nor in messages;
- JSON parses, carries the hostile values unchanged, and round-trips.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import git
import pytest

from registry_ops.pipeline.lease import LEASE_TAG, Lease
from tests.conftest import Result, Workspace
from tests.support import models

# In free text (descriptions, tags, signatures, holders, commit messages).
HOSTILE = (
    "x\n::error::owned\r\n  ::warning title=forged::y \u202eevil\u2066 \x1b[31mred\x1b[0m "
    "\x00 ##[error]legacy\u2028\nPASS prod: val_accuracy >= 0.99\x85::notice::z"
)
# In model names: MLflow refuses ':' and '/' there, and nothing else.
NAME = "clf\n  PASS forged\r\u202e\x1b[31m\x00##[error]legacy"
BLOCKED = "blk\u2066\n##[warning]x\x1b[2J"
LEASED = "leased\u202e\r\n##[error]y"
HIDDEN = ("Cc", "Cf", "Zl", "Zp", "Cs")
# registry-ops' own annotations: every one carries a title of ours.
OURS = re.compile(r"::(error|warning|notice) [^\n]*title=registry-ops")

PROD = """\
    - signature: required
    - metric: val_accuracy
      min: 0.9
"""
STRICT = """\
    - metric: val_accuracy
      min: 0.999
"""


def check(label: str, text: str, *, annotations: bool = False) -> None:
    """No command, no hidden character, in ``text`` (one output stream)."""
    for line in text.split("\n"):
        if line.lstrip().startswith("::"):
            assert annotations and OURS.match(line.lstrip()), (label, line)
        assert "##[" not in line, (label, line)
    hidden = sorted({f"U+{ord(ch):04X}" for ch in text if ch != "\n" and _hidden(ch)})
    assert not hidden, (label, hidden, text[:2000])


def _hidden(ch: str) -> bool:
    return unicodedata.category(ch) in HIDDEN


def check_result(label: str, result: Result, *, annotations: bool = False) -> None:
    assert "Traceback" not in result.err, (label, result.err)
    check(f"{label} (stdout)", result.out, annotations=annotations)
    check(f"{label} (stderr)", result.err)


def check_json(label: str, result: Result, *expected: str) -> Any:
    """JSON output: checked as text too, parsed, round-tripped, hostile values intact."""
    check_result(label, result)
    data = json.loads(result.out)
    assert json.loads(json.dumps(data)) == data
    dumped = json.dumps(data, ensure_ascii=False)
    for value in expected:
        assert json.dumps(value, ensure_ascii=False)[1:-1] in dumped, (label, value)
    return data


def signed_version(client: Any, experiment: str, model: str, **metrics: float) -> int:
    """A version whose logged model's signature names an input with hostile text."""
    import mlflow.pyfunc
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    run = client.create_run(experiment)
    for key, value in metrics.items():
        client.log_metric(run.info.run_id, key, value)
    signature = ModelSignature(inputs=Schema([ColSpec("double", HOSTILE), ColSpec("double", "x2")]))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model"
        mlflow.pyfunc.save_model(
            str(path), python_model=models._model("good"), signature=signature,
            pip_requirements=["pandas"],
        )  # fmt: skip
        client.log_artifacts(run.info.run_id, str(path), "model")
    client.set_terminated(run.info.run_id)
    if model not in {m.name for m in client.search_registered_models()}:
        client.create_registered_model(model)
    version = client.create_model_version(model, f"runs:/{run.info.run_id}/model", run.info.run_id)
    return int(version.version)


def y(text: str) -> str:
    """``text`` as a YAML scalar (JSON is YAML; its escapes spell any character)."""
    return json.dumps(text)


@pytest.fixture
def scene(seeder, tracking_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The registry and the repository, every writable place carrying hostile text."""
    client = seeder.client
    for _ in range(3):  # v1, v2, v3 (v3 is what propose finds)
        signed_version(client, seeder.experiment, NAME, val_accuracy=0.95)
    client.set_registered_model_tag(NAME, "owner", HOSTILE)  # unmanaged: listed, left alone
    seeder.version(BLOCKED, val_accuracy=0.5)
    seeder.version(LEASED, val_accuracy=0.95)
    now = datetime.now(UTC)
    lease = Lease(
        token="t" * 32, holder=HOSTILE, host="ci\n::error::host\u202e", pid=4242,
        since=now.isoformat(timespec="seconds"),
        expires=(now + timedelta(minutes=30)).isoformat(timespec="seconds"),
    )  # fmt: skip
    client.set_registered_model_tag(LEASED, LEASE_TAG, lease.to_tag())

    ws = Workspace(tmp_path / "repo")
    ws.policy("prod", PROD)
    ws.policy("strict", STRICT)
    ws.manifest(
        y(NAME),
        f"description: {y(HOSTILE)}\ntags: {{team: {y(HOSTILE)}}}\n"
        "aliases: {champion: 1}\ngates: {champion: prod}\n",
    )
    ws.manifest(
        y(BLOCKED), f"description: {y(HOSTILE)}\naliases: {{champion: 1}}\n"
        "gates: {champion: strict}\n", name="blocked",
    )  # fmt: skip
    ws.manifest(y(LEASED), "aliases: {champion: 1}\n", name="leased")
    repo = git.Repo.init(ws.root)
    repo.index.add(["manifests", "policies"])
    author = git.Actor("ev\u202eil \x1b[31mmallory", "m@example.com")
    repo.index.commit(HOSTILE, author=author, committer=author)
    monkeypatch.setenv("GITHUB_ACTOR", HOSTILE.replace("\x00", ""))  # no NUL in environ
    return ws, tracking_uri


def test_hostile_text_is_shown_never_obeyed_in_every_output(cli, scene, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws, uri = scene

    def run(*args: str) -> Result:
        return cli("--tracking-uri", uri, "-C", str(ws.root), *args)

    check_result("validate", run("validate"))
    check_result("validate github", run("validate", "--format", "github"), annotations=True)

    text = run("plan")
    assert text.code == 0, text.err
    check_result("plan text", text)
    # shown, not dropped: the escapes are there to read
    assert r"\u202e" in text.out and r"\n::error::owned" in text.out and r"\x1b[31m" in text.out
    assert r"PASS prod: val_accuracy >= 0.99" in text.out  # on the line of the text it is in
    assert not any(line.startswith("PASS") for line in text.out.splitlines())
    check_json("plan json", run("plan", "--format", "json"), NAME, HOSTILE, BLOCKED)
    check_result("plan markdown", run("plan", "--format", "markdown"))
    check_result("plan github", run("plan", "--format", "github"), annotations=True)

    saved = tmp_path / "saved.json"
    assert run("plan", "--out", str(saved)).code == 0
    json.loads(saved.read_text(encoding="utf-8"))
    check("saved plan", saved.read_text(encoding="utf-8"))
    for fmt in ("text", "markdown", "github"):
        check_result(f"show {fmt}", cli("show", str(saved), "--format", fmt), annotations=True)
    check_result("show summary", cli("show", str(saved), "--format", "markdown", "--summary"))
    check_json("show json", cli("show", str(saved), "--format", "json"), NAME, HOSTILE)

    check_result("status text", run("status"))
    check_json("status json", run("status", "--format", "json"), NAME, LEASED)
    for fmt in ("text", "markdown"):
        check_result(f"compare {fmt}", run("compare", NAME, "--format", fmt))
    check_json("compare json", run("compare", NAME, "--format", "json"), NAME)

    for fmt in ("text", "json"):
        proposed = run("propose", "--dry-run", "--format", fmt)
        assert proposed.code == 0, proposed.err
        if fmt == "json":
            check_json("propose json", proposed, NAME)
        else:
            check_result("propose text", proposed)
            assert "v3" in proposed.out

    applied = run("apply", "--yes")
    assert applied.code == 1, applied.out + applied.err  # the leased model is refused
    check_result("apply", applied)
    assert "another apply holds the lease" in applied.err
    assert r"x\n::error::owned" in applied.err  # the holder, on its line
    assert "applied clf" in applied.out

    stale = run("apply", "--yes", str(saved))
    assert stale.code == 4, stale.out + stale.err
    check_result("apply stale plan", stale)

    for fmt in ("text", "json", "markdown"):
        found = run("history", NAME, "--format", fmt)
        assert found.code == 0, found.err
        if fmt == "json":
            check_json("history json", found, NAME)
        else:
            check_result(f"history {fmt}", found)
        at = run("history", NAME, "--at", "now", "--format", fmt)
        if fmt == "json":
            check_json("history --at json", at, NAME)
        else:
            check_result(f"history --at {fmt}", at)

    refused = run("force-unlock", LEASED)
    assert refused.code == 1, refused.out + refused.err
    check_result("force-unlock refused", refused)
    unlocked = run("force-unlock", LEASED, "--yes")
    assert unlocked.code == 0, unlocked.err
    check_result("force-unlock", unlocked)
    assert r"x\n::error::owned" in unlocked.out

    clash = run("export", NAME, BLOCKED)  # both are managed here already
    assert clash.code == 1 and "--force" in clash.err
    check_result("export refused", clash)
    adopt = ("--tracking-uri", uri, "-C", str(tmp_path / "adopt"))
    exported = cli(*adopt, "export", NAME, BLOCKED, LEASED)
    assert exported.code == 0, exported.err
    check_result("export", exported)
    missing = run("export", NAME + "\n::error::nope")
    assert missing.code == 1
    check_result("export of a missing model", missing)


def test_hostile_file_content_and_names_in_validate_errors(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws = Workspace(tmp_path / "repo")
    ws.manifest("m", f"{y(HOSTILE)}: 1\ntags: {{team: 7}}\n")
    (ws.root / "manifests" / "bad\n::error::x\u202e\x1b[2J.yaml").write_text(
        f"apiVersion: registry-ops/v1\nkind: ModelManifest\nmodel: {y(NAME)}\n"
        f"aliases: {{{y(HOSTILE)}: 1}}\n"
    )
    ws.policy("p", f"    - metric: {y(HOSTILE)}\n      min: .nan\n")
    for fmt in ("text", "github"):
        result = cli("-C", str(ws.root), "validate", "--format", fmt)
        assert result.code == 1, result.out + result.err
        check_result(f"validate {fmt}", result, annotations=True)
        assert r"\u202e" in result.err and "bad\\n" in result.err
    planned = cli("--tracking-uri", "sqlite:///nowhere.db", "-C", str(ws.root), "plan")
    assert planned.code == 1
    check_result("plan of invalid files", planned)
    assert not os.path.exists("nowhere.db")
