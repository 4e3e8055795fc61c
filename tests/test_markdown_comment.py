"""The pull-request comment (``plan --format markdown``) on hand-built plans.

What a reviewer relies on: the marker a workflow finds its comment by, a gate
table per promotion, blocked/overridden/ungated/rollback called out, the full
text plan folded away, registry text that cannot inject anything, and a
comment that always fits GitHub's limit and says where the rest is.
"""

from __future__ import annotations

import io
import re

from registry_ops.core.changes import (
    Change,
    SetAlias,
    SetModelTag,
    TransitionStage,
    UpdateDescription,
)
from registry_ops.core.gate_result import GateResult
from registry_ops.core.plan import ModelPlan, Plan
from registry_ops.render import renderer
from registry_ops.render.markdown import (
    COMMENT_LIMIT,
    MARKER,
    escape,
    render_markdown,
    render_summary,
)


def model_plan(name: str, changes: list[Change]) -> ModelPlan:
    return ModelPlan(name, f"manifests/{name}.yaml", changes, None, "sha256:" + "0" * 64)


def relative_gate(passed: bool) -> GateResult:
    return GateResult(
        "val_accuracy vs holder",
        passed,
        "0.91 vs holder 0.93",
        policy="production",
        observed=0.91,
        holder=0.93,
        delta=-0.02,
        threshold=0.0,
    )


def floor_gate(passed: bool) -> GateResult:
    value = 0.95 if passed else 0.5
    return GateResult(
        "val_accuracy >= 0.9",
        passed,
        f"val_accuracy = {value}",
        policy="production",
        observed=value,
        threshold=0.9,
    )


def tag_gate(passed: bool) -> GateResult:
    return GateResult("tags validation=approved", passed, "validation is 'pending'", "production")


def md(plan: Plan) -> str:
    out = io.StringIO()
    renderer("markdown")(plan, out, False)
    return out.getvalue()


def plan_of(*changes: Change, model: str = "clf") -> Plan:
    return Plan(models=[model_plan(model, list(changes))])


def test_marker_is_the_first_line() -> None:
    for plan in (plan_of(), plan_of(SetAlias("clf", version=2, alias="champion"))):
        assert md(plan).splitlines()[0] == MARKER == "<!-- registry-ops:plan -->"


def test_gate_table_has_candidate_holder_delta_threshold_result() -> None:
    change = SetAlias(
        "clf",
        version=3,
        from_version=2,
        alias="champion",
        gates=[floor_gate(True), relative_gate(False), tag_gate(True)],
    )
    text = md(plan_of(change))
    assert "| gate | candidate | holder | delta | threshold | result |" in text
    assert "| production: val\\_accuracy &gt;= 0.9 | 0.95 | - | - | 0.9 | pass |" in text
    assert "| production: val\\_accuracy vs holder | 0.91 | 0.93 | -0.02 | 0 | **FAIL** |" in text
    # a gate without a number shows what it found
    assert "| production: tags validation=approved | validation is 'pending' | -" in text
    assert "**FAIL** (2/3 passed)" in text


def test_blocked_overridden_and_ungated_are_called_out_first() -> None:
    blocked = SetAlias("a", version=2, alias="champion", gates=[floor_gate(False)])
    overridden = TransitionStage(
        "b",
        version=4,
        stage="Production",
        from_stage="None",
        gates=[floor_gate(False)],
        override={
            "reason": "INC-7 hotfix",
            "expires": "2030-01-31",
            "author": "ada",
            "active": True,
        },
    )
    ungated = SetAlias("c", version=1, alias="canary")
    plan = Plan(
        models=[
            model_plan("a", [blocked]),
            model_plan("b", [overridden]),
            model_plan("c", [ungated]),
        ]
    )
    text = md(plan)
    head = text[: text.index("#### ")]
    assert "> [!CAUTION]" in head and "> - **a**: alias champion -&gt; v2: failed" in head
    assert "> **Overridden**" in head
    assert "> - **b**: stage Production: v4" in head
    assert "override: “INC-7 hotfix”, expires 2030-01-31, by ada" in head
    assert "> **Ungated**" in head and "> - **c**: alias canary -&gt; v1" in head
    # the overridden gate reads OVERRIDDEN, not FAIL, in its table
    section = text[text.index("#### b") : text.index("#### c")]
    assert "| OVERRIDDEN |" in section and "**FAIL** |" not in section
    assert "#### a :no_entry: **blocked**" in text and "#### b :no_entry:" not in text


def test_an_expired_override_blocks_and_says_so() -> None:
    change = SetAlias(
        "clf",
        version=2,
        alias="champion",
        gates=[floor_gate(False)],
        override={"reason": "old", "expires": "2020-01-01", "active": False},
    )
    text = md(plan_of(change))
    assert change.blocked
    assert "(override expired 2020-01-01)" in text


def test_rollback_says_which_version_and_when_it_held_the_target() -> None:
    change = SetAlias(
        "clf",
        version=2,
        from_version=3,
        alias="champion",
        rollback={"version": 2, "held_from": "2024-01-02", "held_to": "2024-03-04"},
    )
    text = md(plan_of(change))
    assert "Rollback to v2 (held it from 2024-01-02 to 2024-03-04)" in text
    assert "rollback (gates exempt)" in text
    assert "Ungated" not in text


def test_full_text_plan_is_collapsed() -> None:
    change = SetAlias("clf", version=2, alias="champion", gates=[floor_gate(True)])
    text = md(plan_of(change))
    details = text[text.index("<details>") :]
    assert details.startswith("<details><summary>Full plan (text)</summary>")
    assert "<pre>" in details and "clf  (manifests/clf.yaml)" in details
    assert "+ alias champion -&gt; v2" in details
    assert details.rstrip().endswith("</details>")


HOSTILE = (
    "</pre></details><script>alert(1)</script> | @octo-org/admins *x* "
    "`code` [link](javascript:alert(1)) <!-- \r\n| injected | row |"
)


def test_hostile_registry_text_cannot_inject() -> None:
    changes = [
        UpdateDescription("m", value=HOSTILE, from_value=""),
        SetModelTag("m", key=HOSTILE, value=HOSTILE, from_value=None),
        SetAlias(
            "m",
            version=2,
            alias="champion",
            gates=[GateResult(HOSTILE, False, HOSTILE, policy=HOSTILE)],
        ),
    ]
    plan = Plan(models=[ModelPlan("m", f"manifests/{HOSTILE}.yaml", changes, None, "f")])
    text = md(plan)
    # no tag, comment or closing tag from the registry survives anywhere
    for raw in ("<script", "</pre></details>", "<!-- \r", "<!-- \n", "@octo-org"):
        assert raw not in text
    assert text.count("</pre>") == 1 and text.count("</details>") == 1
    assert text.count("<!--") == 1  # the marker only
    # no row was injected: every table line has its table's number of pipes
    markdown = text.split("<details>")[0]
    assert "\r" not in markdown
    lines = markdown.splitlines()
    assert not any(line.startswith("| injected") for line in lines)
    for line in lines:
        if line.startswith("|"):
            pipes = line.replace("\\|", "").count("|")
            assert pipes in (4, 7), line


def test_escape_neutralises_mentions_line_breaks_and_controls() -> None:
    assert escape("@team") == "&#64;team"
    # line breaks, controls and bidi characters are shown as escapes (whose backslash
    # Markdown then needs escaped itself), never obeyed
    assert escape("a\r\nb\u2028c") == r"a\\r\\nb\\u2028c"
    assert escape("a\x00b\x1b[31m\u202e") == r"a\\x00b\\x1b\[31m\\u202e"


def big_plan(models: int, changes_each: int) -> Plan:
    plans = []
    for m in range(models):
        name = f"model-{m:04d}-" + "x" * 40
        changes = [
            SetAlias(
                name,
                version=v + 1,
                alias=f"alias-{v}",
                gates=[floor_gate(v % 7 != 0), relative_gate(True)],
            )
            for v in range(changes_each)
        ]
        plans.append(model_plan(name, changes))
    return Plan(models=plans)


def test_truncated_under_the_comment_limit_with_a_pointer() -> None:
    plan = big_plan(models=120, changes_each=12)
    text = md(plan)
    assert len(text) < COMMENT_LIMIT - 4000  # a margin for what a workflow adds
    assert text.startswith(MARKER)
    assert "Truncated to fit GitHub's comment limit" in text
    assert "job summary" in text.splitlines()[-1]
    assert "<details>" not in text  # the full text plan goes first
    # whole sections only: every kept model section has its closing gate table
    headers = re.findall(r"^#### (model-\d+)", text, flags=re.M)
    assert 0 < len(headers) < 120
    omitted = 120 - len(headers)
    assert f"{omitted} model sections" in text
    # the callouts still list what is blocked, capped
    assert "> - ... and " in text


def test_the_summary_is_not_truncated() -> None:
    plan = big_plan(models=120, changes_each=12)
    out = io.StringIO()
    render_summary(plan, out)
    summary = out.getvalue()
    assert len(summary) > COMMENT_LIMIT
    assert "Truncated" not in summary and "<details>" in summary
    assert len(re.findall(r"^#### model-", summary, flags=re.M)) == 120


def test_a_small_budget_still_yields_marker_summary_and_pointer() -> None:
    text = render_markdown(big_plan(models=3, changes_each=3), budget=1200)
    assert len(text) <= 1200
    assert text.startswith(MARKER) and "job summary" in text
