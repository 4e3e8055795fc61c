"""Renderers (text, JSON, Markdown) and plan files, on a hand-built Plan."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from registry_ops.core.changes import (
    Change,
    DeleteAlias,
    DeleteModelTag,
    SetAlias,
    SetModelTag,
    TransitionStage,
    UpdateDescription,
)
from registry_ops.core.gate_result import GateResult
from registry_ops.core.plan import ModelPlan, Plan
from registry_ops.errors import PlanFileError
from registry_ops.pipeline.seal import load_plan
from registry_ops.render import renderer

ESC = "\033["

# --- builders ----------------------------------------------------------------


def gate(passed: bool, name: str = "val_accuracy >= 0.9", detail: str = "") -> GateResult:
    detail = detail or ("val_accuracy = 0.95" if passed else "val_accuracy = 0.5, below 0.9")
    return GateResult(name, passed, detail, policy="production", observed=0.5, threshold=0.9)


def model_plan(name: str, changes: list[Change], manifest: str = "") -> ModelPlan:
    return ModelPlan(
        model=name,
        manifest=manifest or f"manifests/{name}.yaml",
        changes=changes,
        snapshot={"description": "", "tags": {}, "aliases": {}, "stages": {"1": "None"}},
        fingerprint="sha256:" + "0" * 64,
    )


def good_changes(model: str = "good") -> list[Change]:
    return [
        UpdateDescription(model, value="new", from_value="old"),
        SetModelTag(model, key="team", value="ml", from_value=None),
        SetModelTag(model, key="tier", value="2", from_value="1"),
        DeleteModelTag(model, key="stray", from_value="x", reason="prune"),
        SetAlias(model, version=2, alias="champion", gates=[gate(True)]),
        SetAlias(model, version=3, from_version=2, alias="challenger"),
        TransitionStage(
            model,
            version=2,
            from_version=1,
            stage="Production",
            from_stage="None",
            gates=[gate(True)],
        ),
        TransitionStage(
            model,
            version=1,
            stage="Archived",
            from_stage="Production",
            reason="displaced",
        ),
        DeleteAlias(model, from_version=1, alias="old", reason="prune"),
    ]


def blocked_change(model: str = "weak") -> Change:
    return SetAlias(
        model,
        version=1,
        alias="champion",
        gates=[gate(True), gate(False)],
    )


def full_plan() -> Plan:
    return Plan(
        models=[
            model_plan("good", good_changes()),
            model_plan("weak", [blocked_change()]),
            model_plan("quiet", []),
        ],
        created_at="2024-01-01T00:00:00+00:00",
        tracking_uri="http://user:***@host",
        registry_uri="http://user:***@host",
        git={"commit": "abc123", "dirty": False},
    )


def render(plan: Plan, fmt: str, color: bool = False) -> str:
    out = io.StringIO()
    renderer(fmt)(plan, out, color)
    return out.getvalue()


# --- text ----------------------------------------------------------------------------


def test_text_shows_diff_symbols_per_change() -> None:
    lines = render(full_plan(), "text").splitlines()
    assert "good  (manifests/good.yaml)" in lines
    for line in [
        "  ~ description: 'old' -> 'new'",
        "  + tag team = 'ml'",
        "  ~ tag tier: '1' -> '2'",
        "  - tag stray (was 'x')",
        "  + alias champion -> v2",
        "  ~ alias challenger: v2 -> v3",
        "  ~ stage Production: v2 (None -> Production), replacing v1",
        "  - stage Archived: v1 (Production -> Archived) [displaced]",
        "  - alias old (was v1)",
    ]:
        assert line in lines


def test_text_gate_lines_blocked_note_and_summary() -> None:
    text = render(full_plan(), "text")
    assert "      PASS production: val_accuracy >= 0.9  (val_accuracy = 0.95)" in text
    assert "      FAIL production: val_accuracy >= 0.9  (val_accuracy = 0.5, below 0.9)" in text
    weak = text[text.index("weak  (") :]
    assert "BLOCKED: a gate failed; apply changes nothing for this model." in weak
    good = text[: text.index("weak  (")]
    assert "BLOCKED" not in good
    assert "quiet" not in text.split("\n\n")[0]  # models without changes get no section
    assert text.rstrip().splitlines()[-1] == (
        "Plan: 10 changes across 2 models; blocked by gates: weak; 1 ungated promotion."
    )
    assert "      UNGATED: no policy gates alias:challenger" in text


def test_provenance_stamps_are_counted_apart_from_changes() -> None:
    stamp = SetAlias("a", version=1, from_version=1, alias="champion", reason="provenance")
    only_stamps = Plan(models=[model_plan("a", [stamp]), model_plan("b", [])])
    assert render(only_stamps, "text").rstrip().splitlines()[-1] == (
        "Plan: 0 changes (+1 provenance stamp) across 1 model."
    )
    mixed = Plan(models=[model_plan("good", [*good_changes(), stamp])])
    last = render(mixed, "text").rstrip().splitlines()[-1]
    assert last.startswith("Plan: 9 changes (+1 provenance stamp) across 1 model")


def test_text_no_changes_summary() -> None:
    text = render(Plan(models=[model_plan("a", []), model_plan("b", [])]), "text")
    assert text == "No changes. The registry matches the manifests (2 models).\n"


def test_text_colour_only_when_asked() -> None:
    plain = render(full_plan(), "text", color=False)
    assert ESC not in plain
    coloured = render(full_plan(), "text", color=True)
    assert f"{ESC}32m+{ESC}0m alias champion -> v2" in coloured
    assert f"{ESC}31m-{ESC}0m alias old" in coloured
    assert f"{ESC}33m~{ESC}0m" in coloured
    assert f"{ESC}31mFAIL{ESC}0m" in coloured and f"{ESC}32mPASS{ESC}0m" in coloured
    assert f"{ESC}1;31mBLOCKED{ESC}0m" in coloured


def test_json_and_markdown_never_colour() -> None:
    for fmt in ("json", "markdown"):
        assert ESC not in render(full_plan(), fmt, color=True)


# --- JSON ------------------------------------------------------------------------------


def test_json_has_contract_fields() -> None:
    data = json.loads(render(full_plan(), "json"))
    assert data["format_version"] == 1
    assert data["status"] == "blocked"
    assert [m["model"] for m in data["models"]] == ["good", "weak", "quiet"]
    assert data["summary"] == {
        "models": 3,
        "models_changed": 2,
        "changes": 10,
        "blocked": 1,
        "overridden": 0,
        "drift": 0,
        "alerts": 0,
        "ungated": 1,
    }
    good, weak, quiet = data["models"]
    assert (good["blocked"], weak["blocked"], quiet["blocked"]) == (False, True, False)
    for change in good["changes"] + weak["changes"]:
        assert {"action", "version", "from_version", "gates", "blocked"} <= set(change)
    production = next(c for c in good["changes"] if c.get("stage") == "Production")
    assert production["action"] == "transition_stage"
    assert (production["version"], production["from_version"]) == (2, 1)
    champion = next(c for c in good["changes"] if c.get("alias") == "champion")
    assert champion["from_version"] is None and champion["blocked"] is False
    assert champion["gates"][0] == {
        "name": "val_accuracy >= 0.9",
        "passed": True,
        "detail": "val_accuracy = 0.95",
        "policy": "production",
        "observed": 0.5,
        "threshold": 0.9,
        "holder": None,
        "delta": None,
        "evidence": {},
    }
    (blocked,) = weak["changes"]
    assert blocked["blocked"] is True
    assert [g["passed"] for g in blocked["gates"]] == [True, False]
    assert "value" not in champion  # fields that do not apply are left out


@pytest.mark.parametrize(
    ("plan", "status"),
    [
        (Plan(models=[model_plan("a", [])]), "no_changes"),
        (Plan(models=[model_plan("a", good_changes("a"))]), "changes"),
        (Plan(models=[model_plan("a", [blocked_change("a")])]), "blocked"),
    ],
)
def test_json_status(plan: Plan, status: str) -> None:
    assert json.loads(render(plan, "json"))["status"] == status


def test_json_round_trips_through_from_dict() -> None:
    original = full_plan()
    data = json.loads(render(original, "json"))
    again = Plan.from_dict(data)
    assert again.to_dict() == data
    assert again.status == "blocked"
    weak = again.models[1].changes[0]
    assert weak.blocked and [g.passed for g in weak.gates] == [True, False]
    assert weak.gates[1] == original.models[1].changes[0].gates[1]
    assert again.models[0].changes == original.models[0].changes
    assert (again.git, again.created_at, again.tracking_uri) == (
        original.git,
        original.created_at,
        original.tracking_uri,
    )


def test_load_plan_reads_a_saved_plan() -> None:
    plan = load_plan(io.BytesIO(render(full_plan(), "json").encode()), "plan.json")
    assert [m.model for m in plan.models] == ["good", "weak", "quiet"]
    assert plan.models[0].fingerprint == "sha256:" + "0" * 64


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"format_version": 2, "models": []}),
        json.dumps({"format_version": "1", "models": []}),
        json.dumps({"models": []}),
        json.dumps([1, 2]),
        json.dumps({"format_version": 1}),
        json.dumps({"format_version": 1, "models": [{"model": "m", "changes": []}]}),
        json.dumps(
            {
                "format_version": 1,
                "models": [{"model": "m", "fingerprint": "f", "changes": [{"action": "drop"}]}],
            }
        ),
    ],
)
def test_load_plan_rejects_wrong_format_or_shape(text: str) -> None:
    with pytest.raises(PlanFileError, match=r"^plan\.json: "):
        load_plan(io.BytesIO(text.encode()), "plan.json")


@pytest.mark.parametrize("text", ["", "not json", '{"format_version": 1,'])
def test_load_plan_rejects_non_json(text: str) -> None:
    with pytest.raises(PlanFileError, match=r"plan\.json(:\d+:\d+)?: not a JSON plan file"):
        load_plan(io.BytesIO(text.encode()), "plan.json")


def test_load_plan_rejects_a_change_that_is_not_an_object() -> None:
    text = json.dumps(
        {"format_version": 1, "models": [{"model": "m", "fingerprint": "f", "changes": ["x"]}]}
    )
    with pytest.raises(PlanFileError):
        load_plan(io.BytesIO(text.encode()), "plan.json")


# --- Markdown ------------------------------------------------------------------------------


def hostile_plan() -> Plan:
    evil = "<script>x</script> | *bold* `code` _u_ [l](u)"
    changes = [
        UpdateDescription("m", value=evil, from_value=""),
        SetModelTag("m", key="k|*", value="`v`", from_value=None),
        SetAlias(
            "m",
            version=2,
            alias="champion",
            gates=[gate(False, name="tags a=<b>", detail="a is '|*x*|', not '<b>'")],
        ),
    ]
    return Plan(
        models=[
            model_plan("m<i>*x*", changes, manifest="manifests/m.yaml"),
            model_plan("ok", good_changes("ok")),
        ]
    )


def test_markdown_escapes_html_and_markdown_in_values() -> None:
    whole = render(hostile_plan(), "markdown")
    assert "<script>" not in whole and "<b>" not in whole and "<i>" not in whole
    # Markdown outside the collapsed text plan (inside its <pre>, Markdown is off)
    md = whole.split("<details>")[0]
    assert "&lt;script&gt;" in md
    assert "&lt;b&gt;" in md
    assert "&lt;i&gt;" in md
    assert "\\*bold\\*" in md and "*bold*" not in md.replace("\\*bold\\*", "")
    assert "\\`code\\`" in md
    assert "\\|" in md
    # every table row has exactly the unescaped pipes of its table's header row
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert rows
    pipes = 0
    for row in rows:
        unescaped = row.replace("\\|", "")
        if "---" in row:
            continue
        if not row.startswith("| | change") and not row.startswith("| gate |"):
            assert unescaped.count("|") == pipes, row
        else:
            pipes = unescaped.count("|")


def test_markdown_marks_blocked_models_only() -> None:
    md = render(hostile_plan(), "markdown")
    headers = [line for line in md.splitlines() if line.startswith("#### ")]
    assert len(headers) == 2
    assert headers[0].endswith(":no_entry: **blocked**")
    assert headers[0].startswith("#### m&lt;i&gt;\\*x\\*")
    assert headers[1] == "#### ok"
    assert "**FAIL**" in md
    assert "manifests/ok.yaml" in md


def test_markdown_manifest_path_cannot_break_out_of_its_code_span() -> None:
    path = "manifests/a`<img src=x>`.yaml"
    md = render(Plan(models=[model_plan("m", good_changes("m"), manifest=path)]), "markdown")
    assert "<img" not in md


def test_markdown_summary_and_gate_cells() -> None:
    md = render(full_plan(), "markdown")
    assert md.startswith(
        "<!-- registry-ops:plan -->\n### registry-ops plan\n\n**Plan: 10 changes across 2 models; "
    )
    assert "blocked by gates: weak; 1 ungated promotion.**" in md
    assert "**ungated**: no policy gates this target" in md
    assert "| production: val\\_accuracy &gt;= 0.9 | 0.5 | - | - | 0.9 | pass |" in md
    assert "quiet" not in md  # no section for a model without changes
    no_gates = [line for line in md.splitlines() if "alias old" in line]
    assert no_gates and no_gates[0].endswith("| - |")


def test_markdown_no_changes() -> None:
    md = render(Plan(models=[model_plan("a", [])]), "markdown")
    assert "No changes" in md and "####" not in md


def test_unknown_renderer_is_refused() -> None:
    with pytest.raises(KeyError):
        renderer("yaml")


def test_a_plan_saved_before_the_typed_changes_still_verifies_and_renders_byte_for_byte() -> None:
    """The JSON plan is a public contract: tests/data/plan-v1.json was saved by the
    release whose changes were one class keyed by an action string (every action,
    drift, an override, a rollback, stamp-only changes). It loads, its digest
    verifies, and it renders back to the same bytes."""
    raw = (Path(__file__).parent / "data" / "plan-v1.json").read_bytes()
    plan = load_plan(io.BytesIO(raw), "plan-v1.json")
    assert {c.action for c in plan.changes} == {
        "update_description",
        "set_model_tag",
        "delete_model_tag",
        "set_alias",
        "transition_stage",
        "delete_alias",
    }
    assert render(plan, "json").encode() == raw
