"""``--format github``: workflow commands (annotations) for plans and invalid input."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from registry_ops.core.changes import SetAlias, TransitionStage, UpdateDescription
from registry_ops.core.gate_result import GateResult
from registry_ops.core.plan import ModelPlan, Plan
from registry_ops.errors import Problem
from registry_ops.render import renderer
from registry_ops.render.github import (
    annotate_problems,
    command,
    escape_data,
    escape_property,
)
from tests.conftest import Result, Workspace

MANIFEST = """\
apiVersion: registry-ops/v1
kind: ModelManifest
model: clf
aliases:
  champion: 2
  canary: 3
stages:
  Production: 2
gates:
  champion: production
overrides:
  Production:
    reason: hotfix
    expires: "2030-01-01"
"""


def fail() -> GateResult:
    return GateResult("val_accuracy >= 0.9", False, "val_accuracy = 0.5, below 0.9", "production")


def gh(plan: Plan) -> list[str]:
    out = io.StringIO()
    renderer("github")(plan, out, False)
    return out.getvalue().splitlines()


def test_escaping_follows_githubs_rules() -> None:
    assert escape_data("50% a\r\nb: c, d") == "50%25 a%0D%0Ab: c, d"
    assert escape_property("50% a\r\nb: c, d") == "50%25 a%0D%0Ab%3A c%2C d"
    line = command("error", "x\n::warning::smuggled", file="a,b:c.yaml", line=3, col=5, title="t")
    # registry text is made printable first: its line break is shown, not a %0A
    assert line == "::error file=a%2Cb%3Ac.yaml,line=3,col=5,title=t::x\\n::warning::smuggled\n"
    assert line.count("\n") == 1  # one command, whatever the text
    assert "\u202e" not in command("error", "a\u202eb", title="t\u202e")


def test_annotations_point_at_the_targets_manifest_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("manifests").mkdir()
    Path("manifests/clf.yaml").write_text(MANIFEST)
    changes = [
        SetAlias("clf", version=2, alias="champion", gates=[fail()]),
        SetAlias("clf", version=3, alias="canary"),
        TransitionStage(
            "clf",
            version=2,
            stage="Production",
            from_stage="None",
            gates=[fail()],
            override={"reason": "hotfix", "expires": "2030-01-01", "active": True},
        ),
        UpdateDescription("clf", value="d", from_value=""),
    ]
    lines = gh(Plan(models=[ModelPlan("clf", "manifests/clf.yaml", changes, None, "f")]))
    error, ungated, overridden, notice = lines
    assert error.startswith(
        "::error file=manifests/clf.yaml,line=5,col=3,title=registry-ops%3A clf alias%3Achampion "
        "blocked::clf: alias champion -> v2: blocked by gates: val_accuracy >= 0.9"
    )
    assert ungated.startswith("::warning file=manifests/clf.yaml,line=6,col=3,")
    assert "no policy gates alias:canary" in ungated
    # an override points at its own entry, the line a reviewer must judge
    assert overridden.startswith("::warning file=manifests/clf.yaml,line=12,col=3,")
    assert "reason 'hotfix', expires 2030-01-01" in overridden
    assert notice.startswith("::notice title=registry-ops plan::Plan: 4 changes across 1 model")


def test_absolute_manifest_paths_are_made_workspace_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "manifests").mkdir()
    manifest = tmp_path / "manifests" / "clf.yaml"
    manifest.write_text(MANIFEST)
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    change = SetAlias("clf", version=2, alias="champion", gates=[fail()])
    (error, _) = gh(Plan(models=[ModelPlan("clf", str(manifest), [change], None, "f")]))
    assert error.startswith("::error file=manifests/clf.yaml,line=5,col=3,")


@pytest.mark.parametrize(
    "make", [lambda p: None, lambda p: p.write_text("{[ not yaml"), lambda p: os.mkfifo(p)]
)
def test_an_unreadable_manifest_loses_the_line_not_the_annotation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: Callable[[Path], object]
) -> None:
    monkeypatch.chdir(tmp_path)
    make(tmp_path / "m.yaml")  # missing, broken, or a FIFO that would block a reader
    change = SetAlias("m", version=1, alias="champion", gates=[fail()])
    (error, _) = gh(Plan(models=[ModelPlan("m", "m.yaml", [change], None, "f")]))
    assert error.startswith("::error file=m.yaml,title=")


def test_registry_text_cannot_smuggle_a_second_command() -> None:
    evil = "x\n::error file=a::owned\r%0A"
    change = SetAlias(evil, version=1, alias=evil, gates=[fail()])
    lines = gh(Plan(models=[ModelPlan(evil, "nowhere.yaml", [change], None, "f")]))
    assert len(lines) == 2
    assert all(line.startswith(("::error file=nowhere.yaml,", "::notice ")) for line in lines)
    assert "%250A" in lines[0]  # a literal %0A is escaped, not decoded by the runner


def test_problems_become_error_annotations() -> None:
    out = io.StringIO()
    annotate_problems(
        [
            Problem(
                "manifests/a.yaml", 9, 15, "$.aliases.champion", "expected an integer, got 'x'"
            ),
            Problem("policies", None, None, "$", "cannot list directory"),
        ],
        out,
    )
    assert out.getvalue().splitlines() == [
        "::error file=manifests/a.yaml,line=9,col=15,title=registry-ops validate::"
        "$.aliases.champion: expected an integer, got 'x'",
        "::error file=policies,title=registry-ops validate::$: cannot list directory",
    ]


BROKEN = "aliases:\n  champion: three\n"


def test_validate_annotates_in_actions_and_when_asked(
    cli: Callable[..., Result], workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace.manifest("clf", BROKEN)
    root = str(workspace.root)
    plain = cli("validate", "-C", root)
    assert plain.code == 1 and "::error" not in plain.out + plain.err
    asked = cli("validate", "-C", root, "--format", "github")
    assert asked.code == 1
    (annotation,) = asked.out.splitlines()
    assert annotation.startswith(f"::error file={root}/manifests/m.yaml,line=5,col=13,")
    assert annotation.endswith(
        "::$.aliases.champion: expected a version number, or null for an empty alias; "
        "got a string 'three'"
    )
    assert "5:13: $.aliases.champion" in asked.err  # the human message as before
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert cli("validate", "-C", root).out == asked.out
    assert cli("validate", "-C", root, "--format", "text").out == ""
    # plan fails on the same input before contacting MLflow, and annotates too
    planned = cli("plan", "-C", root, "--tracking-uri", "http://127.0.0.1:9")
    assert planned.code == 1 and planned.out == asked.out


def test_plan_format_github_against_mlflow(
    cli: Callable[..., Result],
    workspace: Workspace,
    seeder: object,
    tracking_uri: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeder.version("clf", val_accuracy=0.5)  # type: ignore[attr-defined]
    workspace.policy("production", "  - metric: val_accuracy\n    min: 0.9\n")
    workspace.manifest(
        "clf", "aliases:\n  champion: 1\n  canary: 1\ngates:\n  champion: production\n"
    )
    monkeypatch.chdir(workspace.root)
    result = cli(
        "--tracking-uri", tracking_uri, "plan", "--format", "github", "--detailed-exitcode"
    )
    assert result.code == 3, result.err
    *annotations, notice = result.out.splitlines()
    (error,) = [a for a in annotations if a.startswith("::error")]
    (warning,) = [a for a in annotations if a.startswith("::warning")]
    assert error.startswith("::error file=manifests/m.yaml,line=5,col=3,title=")
    assert "val_accuracy = 0.5" in error
    assert warning.startswith("::warning file=manifests/m.yaml,line=6,col=3,")
    assert notice.startswith("::notice title=registry-ops plan::Plan: 2 changes")
    # the JSON plan is unchanged by all this
    data = json.loads(cli("--tracking-uri", tracking_uri, "plan", "--format", "json").out)
    assert "line" not in json.dumps(data["models"][0]["changes"][0])
