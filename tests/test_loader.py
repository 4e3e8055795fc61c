"""Loader on temp trees: valid input, every kind of mistake with its location, no MLflow."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from registry_ops.core.model import Desired, GateSpec, Location, Prune, Retention
from registry_ops.desired.files import MAX_FILE_BYTES, ReadError, decode, read_text, scan
from registry_ops.desired.loader import load
from registry_ops.desired.yamldoc import (
    MAX_DEPTH,
    MAX_NODES,
    YamlLimitError,
    YamlSyntaxError,
    parse,
)
from registry_ops.errors import InvalidInput, Problem
from tests.conftest import Workspace

REPO = Path(__file__).resolve().parent.parent
MANIFEST_HEAD = "apiVersion: registry-ops/v1\nkind: ModelManifest\nmodel: {model}\n"  # lines 1-3
POLICY_HEAD = "apiVersion: registry-ops/v1\nkind: GatePolicy\nname: {name}\ngates:\n"  # lines 1-4

# --- builders ----------------------------------------------------------------


class Tree(Workspace):
    """A root with manifests/ and policies/, with builders keyed for these tests."""

    def manifest(  # type: ignore[override]
        self, body: str = "", model: str = "clf", file: str = "m"
    ) -> Path:
        text = MANIFEST_HEAD.format(model=model) + textwrap.dedent(body)
        return self.write(f"manifests/{file}.yaml", text)

    def policy(  # type: ignore[override]
        self, gates: str = "  - metric: acc\n    min: 0.9\n", name: str = "p"
    ) -> Path:
        return self.write(f"policies/{name}.yaml", POLICY_HEAD.format(name=name) + gates)


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path / "repo")


def problems(root: Path) -> list[Problem]:
    with pytest.raises(InvalidInput) as info:
        load(root)
    assert info.value.problems, "InvalidInput without problems"
    return info.value.problems


def only_problem(root: Path) -> Problem:
    found = problems(root)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def where(problem: Problem) -> tuple[str, int | None, int | None, str]:
    return (Path(problem.file).name, problem.line, problem.column, problem.path)


# --- valid input ----------------------------------------------------------------


FULL_MANIFEST = """\
description: the classifier
tags: {team: research, tier: "1"}
aliases:
  champion: 3
  challenger: 4
  v1a: 2
  blue-green_2: 2
stages:
  Production: 3
  Staging: [4, 5]
  Archived: 1
gates:
  champion: production
  Production: production
retention:
  archive_unlisted: true
  keep_latest: 5
prune: {aliases: true}
"""


def test_valid_tree_loads_into_typed_objects(tree: Tree) -> None:
    tree.manifest(FULL_MANIFEST)
    tree.manifest("aliases: {champion: 1}\n", model="other", file="team/other")
    tree.write(
        "policies/production.yml",
        POLICY_HEAD.format(name="production")
        + "  - metric: val_accuracy\n    min: 0.9\n    max: 1\n"
        + '  - tags: {approved: "true", level: "2"}\n'
        + "  - max_age_days: 90\n",
    )
    desired = load(tree.root)
    assert isinstance(desired, Desired)
    assert desired.warnings == ()
    assert sorted(desired.manifests) == ["clf", "other"]
    m = desired.manifests["clf"]
    assert m.file == "manifests/m.yaml"
    assert desired.manifests["other"].file == "manifests/team/other.yaml"
    assert m.description == "the classifier"
    assert m.tags == {"team": "research", "tier": "1"}
    assert m.aliases == {"champion": 3, "challenger": 4, "v1a": 2, "blue-green_2": 2}
    assert m.stages == {"Production": (3,), "Staging": (4, 5), "Archived": (1,)}
    assert m.gates == {"champion": "production", "Production": "production"}
    assert m.retention == Retention(archive_unlisted=True, keep_latest=5)
    assert m.prune == Prune(aliases=True, tags=False)
    assert m.where("aliases", "champion") == Location(str(tree.root / "manifests/m.yaml"), 7, 13)
    assert m.where("stages", "Staging", "1").line == 13
    policy = desired.policies["production"]
    assert [g.kind for g in policy.gates] == ["metric", "tags", "max_age_days"]
    assert [g.index for g in policy.gates] == [0, 1, 2]
    assert policy.gates[1] == GateSpec("tags", {"tags": {"approved": "true", "level": "2"}}, 1)
    assert policy.gates[0].params == {"metric": "val_accuracy", "min": 0.9, "max": 1}
    assert sorted(desired.manifests) == ["clf", "other"]


def test_minimal_manifest_has_empty_defaults(tree: Tree) -> None:
    tree.manifest()
    m = load(tree.root).manifests["clf"]
    assert (m.description, m.tags, m.aliases, m.stages, m.gates) == (None, None, {}, {}, {})
    assert m.retention == Retention() and m.prune == Prune()


def test_quoted_tag_values_are_kept_exactly_as_written(tree: Tree) -> None:
    tree.manifest('tags: {tier: "1.10", mode: "0755", t: "1:30", ok: "NO", "yes": "~"}\n')
    tags = load(tree.root).manifests["clf"].tags
    assert tags == {"tier": "1.10", "mode": "0755", "t": "1:30", "ok": "NO", "yes": "~"}


@pytest.mark.parametrize(
    ("value", "reading"),
    [
        ("NO", "a boolean (YAML 1.1 reads NO as false)"),
        ("0755", "an integer (YAML 1.1 reads 0755 as 493)"),
        ("1:30", "an integer (YAML 1.1 reads 1:30 as 90)"),
        ("1.10", "a number (YAML 1.1 reads 1.10 as 1.1)"),
        ("1", "an integer 1"),
        ("2024-01-01", "a date 2024-01-01"),
        ("~", "null (YAML 1.1 reads ~ as null)"),
    ],
)
def test_bare_tag_value_that_is_not_a_string_is_refused_with_how_to_quote_it(
    tree: Tree, value: str, reading: str
) -> None:
    tree.manifest(f"tags:\n  tier: {value}\n")
    problem = only_problem(tree.root)
    assert where(problem) == ("m.yaml", 5, 9, "$.tags.tier"), str(problem)
    assert problem.message == (
        f'expected a string, got {reading}; quote it to keep the text: tier: "{value}"'
    )


def test_tag_value_left_empty_says_how_to_write_an_empty_string(tree: Tree) -> None:
    tree.manifest("tags:\n  tier:\n")
    problem = only_problem(tree.root)
    assert where(problem)[3] == "$.tags.tier"
    assert 'write tier: "" for an empty string' in problem.message


@pytest.mark.parametrize(
    ("key", "kind"), [("yes", "a boolean"), ("~", "null"), ("2024", "an integer")]
)
def test_bare_tag_key_that_is_not_a_string_is_refused(tree: Tree, key: str, kind: str) -> None:
    tree.manifest(f"tags:\n  {key}: x\n  tier: one\n")
    problem = only_problem(tree.root)
    assert where(problem) == ("m.yaml", 5, 3, f"$.tags{json_key(key)}"), str(problem)
    assert problem.message == (
        f"key {key} is not a string: YAML 1.1 reads it as {kind}. "
        f'Keys must be strings; quote it: "{key}": ...'
    )


def json_key(key: str) -> str:
    return f".{key}" if key.isidentifier() else f"[{key!r}]"


def test_policy_tags_gate_follows_the_same_string_rule(tree: Tree) -> None:
    tree.policy("  - tags: {approved: yes, on: x}\n")
    found = problems(tree.root)
    assert [where(p) for p in found] == [
        ("p.yaml", 5, 22, "$.gates[0].tags.approved"),
        ("p.yaml", 5, 27, "$.gates[0].tags.on"),
    ]
    assert 'quote it to keep the text: approved: "yes"' in found[0].message
    assert 'quote it: "on": ...' in found[1].message


def test_missing_manifests_directory(tmp_path: Path) -> None:
    problem = only_problem(tmp_path)
    assert "no manifests/ directory" in problem.message


def test_empty_manifests_directory_is_valid(tree: Tree) -> None:
    desired = load(tree.root)
    assert desired.manifests == {} and desired.policies == {}


# --- one mistake each: file:line:column, JSON path, message ------------------------------


@pytest.mark.parametrize(
    ("body", "at", "message"),
    [
        ("colour: red\n", (4, 1, "$.colour"), "unknown key 'colour' (expected one of: "),
        (
            "aliases: {champion: two}\n",
            (4, 21, "$.aliases.champion"),
            "expected a version number, or null for an empty alias; got a string 'two'",
        ),
        ("aliases: [1, 2]\n", (4, 10, "$.aliases"), "expected a mapping, got a list"),
        ("description: 3\n", (4, 14, "$.description"), "expected a string, got an integer 3"),
        ("aliases:\n  latest: 1\n", (5, 3, "$.aliases.latest"), "alias 'latest' is reserved"),
        ("aliases:\n  Latest: 1\n", (5, 3, "$.aliases.Latest"), "alias 'Latest' is reserved"),
        ("aliases:\n  v2: 1\n", (5, 3, "$.aliases.v2"), "alias 'v2' is reserved"),
        ("aliases:\n  V10: 1\n", (5, 3, "$.aliases.V10"), "alias 'V10' is reserved"),
        (
            "aliases:\n  'my alias': 1\n",
            (5, 3, "$.aliases['my alias']"),
            "invalid name 'my alias': aliases may contain only",
        ),
        (
            "stages:\n  Prod: 1\n",
            (5, 3, "$.stages.Prod"),
            "unknown key 'Prod' (expected one of: Production, Staging, Archived)",
        ),
        (
            "stages:\n  None: 1\n",
            (5, 3, "$.stages.None"),
            "unknown key 'None' (expected one of: Production, Staging, Archived)",
        ),
        ("aliases:\n  champion: 0\n", (5, 13, "$.aliases.champion"), "expected a number >= 1"),
        ("stages:\n  Production: 0\n", (5, 15, "$.stages.Production"), "got 0"),
        ("retention: {keep_latest: -1}\n", (4, 26, "$.retention.keep_latest"), ">= 0"),
        ("prune: {aliases: yes please}\n", (4, 18, "$.prune.aliases"), "expected true or false"),
        (
            "stages:\n  Production: 1\n  Staging: [2, 1]\n",
            (6, 16, "$.stages.Staging"),
            "version 1 is already given stage Production",
        ),
        (
            "aliases:\n  champion: 1\n  champion: 2\n",
            (6, 3, "$.aliases.champion"),
            "key 'champion' is given twice",
        ),
        (
            "gates: {champion: nope}\naliases: {champion: 1}\n",
            (4, 19, "$.gates.champion"),
            "unknown policy 'nope' (policies: p)",
        ),
        ("tags: {registry_ops.commit: x}\n", (4, 8, "$.tags['registry_ops.commit']"), "reserved"),
    ],
)
def test_manifest_mistake_is_located(
    tree: Tree, body: str, at: tuple[int, int, str], message: str
) -> None:
    tree.policy()
    tree.manifest(body)
    problem = only_problem(tree.root)
    assert where(problem) == ("m.yaml", *at), str(problem)
    assert message in problem.message, str(problem)
    assert str(problem).startswith(f"{tree.root / 'manifests/m.yaml'}:{at[0]}:{at[1]}: {at[2]}: ")


def test_wrong_api_version_and_kind(tree: Tree) -> None:
    tree.write("manifests/m.yaml", "apiVersion: v2\nkind: GatePolicy\nmodel: m\n")
    found = problems(tree.root)
    assert [where(p) for p in found] == [
        ("m.yaml", 1, 13, "$.apiVersion"),
        ("m.yaml", 2, 7, "$.kind"),
    ]
    assert "expected 'registry-ops/v1'" in found[0].message
    assert "expected 'ModelManifest'" in found[1].message


def test_missing_required_key(tree: Tree) -> None:
    tree.write("manifests/m.yaml", "apiVersion: registry-ops/v1\nkind: ModelManifest\n")
    problem = only_problem(tree.root)
    assert (problem.path, problem.line, problem.column) == ("$", 1, 1)
    assert problem.message == "missing required key 'model'"


def test_yaml_syntax_error_has_position(tree: Tree) -> None:
    tree.manifest("aliases: {champion: 1\n")
    problem = only_problem(tree.root)
    assert problem.path == "$"
    assert problem.message.startswith("invalid YAML")
    assert problem.line is not None and problem.line >= 4
    assert problem.column is not None


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_file(tree: Tree, text: str) -> None:
    tree.write("manifests/empty.yaml", text)
    problem = only_problem(tree.root)
    assert (Path(problem.file).name, problem.path) == ("empty.yaml", "$")
    assert "empty file: expected a manifest document" in problem.message


def test_duplicate_model_across_files_names_both(tree: Tree) -> None:
    tree.manifest(model="same", file="one")
    tree.manifest(model="same", file="two")
    problem = only_problem(tree.root)
    assert where(problem) == ("two.yaml", 3, 8, "$.model")
    assert problem.message == (
        f"model 'same' is already managed by {tree.root / 'manifests/one.yaml'}:3"
    )


@pytest.mark.parametrize(
    ("body", "target", "hint"),
    [
        ("stages: {Production: 1}\ngates:\n  production: p\n", "production", "Production"),
        ("aliases: {champion: 1}\ngates:\n  champoin: p\n", "champoin", "champion"),
        ("aliases: {champion: 1}\ngates:\n  canary: p\n", "canary", None),
    ],
)
def test_gates_for_a_target_the_manifest_does_not_name_is_an_error(
    tree: Tree, body: str, target: str, hint: str | None
) -> None:
    # A warning once; the promotion it was meant to gate then ran ungated.
    tree.policy()
    tree.manifest(body)
    problem = only_problem(tree.root)
    assert where(problem)[::3] == ("m.yaml", f"$.gates.{target}")
    assert problem.line == 6
    assert f"'{target}' is not an alias or stage of this manifest" in problem.message
    if hint:
        assert problem.message.endswith(f"did you mean '{hint}'?"), problem.message
    else:
        assert "did you mean" not in problem.message


def test_gates_in_a_manifest_without_targets_says_so(tree: Tree) -> None:
    tree.policy()
    tree.manifest("gates: {champion: p}\n")
    assert "(targets here: none)" in only_problem(tree.root).message


def test_an_owned_empty_target_keeps_its_gates_valid(tree: Tree) -> None:
    # Staging's version moved up to Production: Staging stays owned (and gated), empty.
    tree.policy()
    tree.manifest(
        "aliases:\n  champion: 2\n  challenger: null\n  shadow: ~\n"
        "stages:\n  Production: 2\n  Staging: []\n"
        "gates: {challenger: p, Staging: p}\nprotect: [challenger, Staging]\n"
    )
    m = load(tree.root).manifests["clf"]
    assert m.aliases == {"champion": 2, "challenger": None, "shadow": None}
    assert m.stages == {"Production": (2,), "Staging": ()}
    assert m.gates == {"challenger": "p", "Staging": "p"}
    assert m.named_versions() == {2}


@pytest.mark.parametrize(
    ("body", "target", "hint"),
    [
        ("stages: {Production: 2}\ngates: {Staging: p}\n", "Staging", "stages: {Staging: []}"),
        ("aliases: {champion: 2}\ngates: {canary: p}\n", "canary", "aliases: {canary: null}"),
    ],
)
def test_a_gate_for_an_undeclared_target_says_how_to_declare_it_empty(
    tree: Tree, body: str, target: str, hint: str
) -> None:
    tree.policy()
    tree.manifest(body)
    problem = only_problem(tree.root)
    assert problem.path == f"$.gates.{target}"
    assert problem.message.endswith(f"declare it empty: {hint}"), problem.message


def test_an_empty_stage_is_a_list_and_an_empty_alias_is_null(tree: Tree) -> None:
    tree.manifest("stages: {Staging: null}\naliases: {challenger: []}\n")
    found = {p.path: p.message for p in problems(tree.root)}
    assert found["$.stages.Staging"] == (
        "expected a version number or a list of version numbers ([] for an empty stage), got null"
    )
    assert found["$.aliases.challenger"] == (
        "expected a version number, or null for an empty alias; got a list"
    )


# --- policies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gates", "at", "message"),
    [
        (
            "  - colour: blue\n",
            (5, 5, "$.gates[0]"),
            "expected a mapping with one of the keys: metric, tags, max_age_days",
        ),
        (
            "  - metric: acc\n",
            (5, 5, "$.gates[0]"),
            "a metric gate needs 'min' or 'max', or 'baseline: current' (relative)",
        ),
        (
            "  - metric: acc\n    min: high\n",
            (6, 10, "$.gates[0].min"),
            "expected a number, got a string 'high'",
        ),
        (
            "  - metric: acc\n    min: 1\n  - metric: loss\n    max: 1\n    maximum: 1\n",
            (9, 5, "$.gates[1].maximum"),
            "unknown key 'maximum'",
        ),
        ("  - max_age_days: 0\n", (5, 19, "$.gates[0].max_age_days"), "expected a number > 0"),
        ("  - tags: {}\n", (5, 11, "$.gates[0].tags"), "must not be empty"),
    ],
)
def test_policy_mistake_is_located(
    tree: Tree, gates: str, at: tuple[int, int, str], message: str
) -> None:
    tree.policy(gates)
    problem = only_problem(tree.root)
    assert where(problem) == ("p.yaml", *at), str(problem)
    assert message in problem.message, str(problem)


def test_duplicate_policy_names_across_files(tree: Tree) -> None:
    tree.policy(name="prod")
    tree.write("policies/zz-copy.yaml", POLICY_HEAD.format(name="prod") + "  - max_age_days: 1\n")
    problem = only_problem(tree.root)
    assert where(problem) == ("zz-copy.yaml", 3, 7, "$.name")
    assert problem.message == (
        f"policy 'prod' is already defined in {tree.root / 'policies/prod.yaml'}:3"
    )


def test_empty_policy_file(tree: Tree) -> None:
    tree.write("policies/p.yaml", "")
    problem = only_problem(tree.root)
    assert "empty file: expected a policy document" in problem.message


# --- all problems at once -----------------------------------------------------------------


def test_all_problems_from_several_files_in_one_error(tree: Tree) -> None:
    tree.policy("  - metric: acc\n", name="bad")
    tree.manifest("aliases: {champion: x}\n", model="a", file="a")
    tree.manifest("colour: red\nstages: {Prod: 1}\n", model="b", file="b")
    tree.manifest("gates: {champion: missing}\n", model="c", file="c")
    tree.write("manifests/d.yaml", "aliases: [\n")
    found = problems(tree.root)
    assert [where(p)[:3] for p in found] == [
        ("bad.yaml", 5, 5),
        ("a.yaml", 4, 21),
        ("b.yaml", 4, 1),
        ("b.yaml", 5, 10),
        ("c.yaml", 4, 19),
        ("c.yaml", 4, 19),
        ("d.yaml", 2, 1),
    ]
    with pytest.raises(InvalidInput) as info:
        load(tree.root)
    assert str(info.value).startswith("7 problems found:\n  ")


# --- suspected bugs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "aliases: {champion: 1.0}\n",
        "stages: {Production: 2.0}\n",
        "retention: {archive_unlisted: true, keep_latest: 2.0}\n",
    ],
)
def test_float_versions_are_refused_or_made_integers(tree: Tree, body: str) -> None:
    tree.manifest(body)
    try:
        m = load(tree.root).manifests["clf"]
    except InvalidInput:
        return  # refused: fine
    numbers = [*m.aliases.values(), *(v for vs in m.stages.values() for v in vs)]
    numbers.append(m.retention.keep_latest)
    assert all(type(n) is int for n in numbers), numbers


def test_integer_alias_key_is_not_called_a_provenance_tag(tree: Tree) -> None:
    tree.manifest("aliases: {2024: 1}\n")
    try:
        load(tree.root)
        messages: list[str] = []
    except InvalidInput as exc:
        messages = [p.message for p in exc.problems]
    assert not any("provenance" in m for m in messages), messages
    assert len(messages) <= 1, messages


def test_numeric_alias_key_is_refused_once_with_how_to_quote_it(tree: Tree) -> None:
    tree.manifest("aliases: {2024: 1}\n")
    problem = only_problem(tree.root)
    assert where(problem) == ("m.yaml", 4, 11, "$.aliases['2024']")
    assert 'quote it: "2024": ...' in problem.message


def test_gate_that_is_not_a_mapping_is_reported_once(tree: Tree) -> None:
    tree.policy("  - metric\n")
    problem = only_problem(tree.root)
    assert where(problem) == ("p.yaml", 5, 5, "$.gates[0]")
    assert "expected a mapping" in problem.message


def test_repeated_version_in_stage_list_says_what_is_wrong(tree: Tree) -> None:
    tree.manifest("stages: {Production: [1, 1]}\n")
    problem = only_problem(tree.root)
    assert problem.path == "$.stages.Production"
    assert "unique" in problem.message or "twice" in problem.message, problem.message


# --- import hygiene ------------------------------------------------------------------------


def test_loader_and_cli_do_not_import_mlflow_or_torch() -> None:
    code = (
        "import registry_ops.cli, registry_ops.desired.loader, sys; "
        "assert 'mlflow' not in sys.modules and 'torch' not in sys.modules, "
        "sorted(m for m in sys.modules if m.startswith(('mlflow', 'torch')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_every_gate_kind_of_the_spec_loads(tree: Tree) -> None:
    tree.policy(
        "  - metric: acc\n    min: 0.9\n"
        "  - metric: acc\n    baseline: current\n    min_absolute_change: 0\n"
        "    min_relative_change: 0.0\n    greater_is_better: true\n"
        "  - tags: {validation_status: approved}\n"
        "  - max_age_days: 90\n"
        "  - signature: required\n"
        "  - loadable: true\n"
        "  - evaluate:\n"
        "      dataset: data/holdout.csv\n"
        "      targets: label\n"
        "      metrics: {accuracy: {min: 0.9}, f1: {baseline: current, min_absolute_change: 0}}\n"
        "      latency_p95_ms: 50\n"
        "  - requires_previous: challenger\n"
    )
    desired = load(tree.root)
    (policy,) = desired.policies.values()
    assert [g.kind for g in policy.gates] == [
        "metric", "metric", "tags", "max_age_days", "signature", "loadable", "evaluate",
        "requires_previous",
    ]  # fmt: skip


def test_change_thresholds_need_a_baseline(tree: Tree) -> None:
    tree.policy("  - metric: acc\n    min: 0.9\n    min_absolute_change: 0.1\n")
    found = {p.path: p.message for p in problems(tree.root)}
    assert any("baseline" in m for m in found.values()), found


# --- limits on hostile YAML (libyaml and the pure-Python fallback alike) -------------------


@pytest.fixture(params=["libyaml", "python"])
def yaml_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with libyaml's loader and with PyYAML's pure-Python one."""
    import yaml

    from registry_ops.desired import yamldoc

    if request.param == "libyaml" and not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML built without libyaml")
    base = yaml.CSafeLoader if request.param == "libyaml" else yaml.SafeLoader
    monkeypatch.setattr(yamldoc, "_Loader", yamldoc.loader_class(base))
    return str(request.param)


def nested(depth: int) -> str:
    """A document ``depth`` collections deep: the top mapping, then lists."""
    return "x: " + "[" * (depth - 1) + "]" * (depth - 1) + "\n"


def test_nesting_up_to_the_limit_loads_one_more_is_refused(yaml_loader: str) -> None:
    assert parse(nested(MAX_DEPTH)).data["x"] is not None
    with pytest.raises(YamlLimitError, match=f"nested deeper than {MAX_DEPTH} levels") as info:
        parse(nested(MAX_DEPTH + 1))
    assert (info.value.line, info.value.column) == (1, 3 + MAX_DEPTH)


@pytest.mark.parametrize("depth", [1_000, 10_000, 200_000])
def test_very_deep_nesting_is_refused_not_a_recursion_error(yaml_loader: str, depth: int) -> None:
    with pytest.raises(YamlLimitError, match="nested deeper than"):
        parse(nested(depth))
    levels = min(depth, 1_000)  # indentation makes a block file grow with the square
    block = "".join("  " * i + f"k{i}:\n" for i in range(levels)) + "  " * levels + "v\n"
    with pytest.raises(YamlSyntaxError, match="nested deeper than"):
        parse(block)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x [*x]\n",
        "a: &x {b: *x}\n",
        "a: &x [1, [2, {c: *x}]]\n",
        "a: &x [&y [*x]]\n",
    ],
)
def test_cyclic_alias_is_refused(yaml_loader: str, text: str) -> None:
    with pytest.raises(YamlLimitError, match="cyclic structure"):
        parse(text)


def bomb(levels: int, width: int = 10) -> str:
    lines = ["l0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_fast_and_small(yaml_loader: str) -> None:
    import time
    import tracemalloc

    text = bomb(9)  # 10^9 leaves once expanded, from under 1 kB
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(YamlLimitError, match=f"more than {MAX_NODES:,} values once aliases"):
            parse(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 1.0
    assert peak < 5 * 1024 * 1024, peak


def test_aliases_within_the_limit_still_work(yaml_loader: str) -> None:
    doc = parse(bomb(4) + "shared: &s {min: 1}\nuse: [*s, *s]\n")  # 11,110 values
    assert doc.data["l3"][0][0][0] == ["lol"] * 10
    assert doc.data["use"] == [{"min": 1}, {"min": 1}]
    with pytest.raises(YamlLimitError):
        parse(bomb(6))  # 1,111,110 values


def test_alias_that_deepens_past_the_limit_once_expanded(yaml_loader: str) -> None:
    text = "a: &a " + "[" * 40 + "]" * 40 + "\nb: " + "[" * 30 + "*a" + "]" * 30 + "\n"
    with pytest.raises(YamlLimitError, match="deeper than 64 levels once expanded"):
        parse(text)


def test_undefined_alias_and_second_document(yaml_loader: str) -> None:
    with pytest.raises(YamlLimitError, match=r"alias \*nope has no anchor"):
        parse("a: *nope\n")
    with pytest.raises(YamlLimitError, match="a second YAML document") as info:
        parse("a: 1\n---\nb: 2\n")
    assert info.value.line == 2


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2024-02-30", "cannot read '2024-02-30' as !!timestamp: day is out of range"),
        ("0b_", "cannot read '0b_' as !!int"),
        ("!!bool maybe", "cannot read 'maybe' as !!bool"),
        ("!!float x", "cannot read 'x' as !!float"),
    ],
)
def test_pyyaml_constructor_crashes_become_located_errors(
    yaml_loader: str, value: str, message: str
) -> None:
    with pytest.raises(YamlSyntaxError, match=re.escape(message)) as info:
        parse(f"a: 1\nb: {value}\n")
    assert (info.value.line, info.value.column) == (2, 4)


def test_forbidden_character_is_located(yaml_loader: str) -> None:
    with pytest.raises(YamlSyntaxError, match="U\\+0007 is not allowed") as info:
        parse("a: 1\nb: x\x07\n")
    assert (info.value.line, info.value.column) == (2, 5)


# --- files: size, encoding, which entries are read -----------------------------------------


def test_file_size_limit_is_exact(tree: Tree) -> None:
    path = tree.manifest()
    head = path.read_bytes()
    path.write_bytes(head + b"#" * (MAX_FILE_BYTES - len(head) - 1) + b"\n")
    assert load(tree.root).manifests["clf"]
    path.write_bytes(path.read_bytes() + b"\n")
    problem = only_problem(tree.root)
    assert problem.message.startswith(f"file is {MAX_FILE_BYTES + 1:,} bytes, larger than")


@pytest.mark.parametrize(
    ("data", "at", "message"),
    [
        (b"a: caf\xe9\n", (1, 7), "not valid UTF-8 (byte 0xe9)"),
        (b"a: 1\nb: \xff\n", (2, 4), "not valid UTF-8 (byte 0xff)"),
        ("a: é\nb: ".encode() + b"\x80", (2, 4), "not valid UTF-8 (byte 0x80)"),
        (b"\xff\xfea\x00:\x00", (1, 1), "file is UTF-16"),
        (b"\xfe\xff\x00a", (1, 1), "file is UTF-16"),
        (b"\xff\xfe\x00\x00a\x00\x00\x00", (1, 1), "file is UTF-32"),
        (b"a\x00:\x00", (1, 2), "file contains a NUL byte"),
    ],
)
def test_text_must_be_utf8(data: bytes, at: tuple[int, int], message: str) -> None:
    with pytest.raises(ReadError) as info:
        decode(data)
    assert (info.value.line, info.value.column) == at
    assert message in str(info.value)


def test_utf8_bom_is_dropped_and_columns_count_from_the_text(tree: Tree) -> None:
    path = tree.manifest("aliases: {champion: x}\n")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert where(only_problem(tree.root)) == ("m.yaml", 4, 21, "$.aliases.champion")


def test_scan_reads_yaml_in_any_case_and_reports_what_it_cannot_read(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    manifests = root / "manifests"
    (manifests / "team" / "dir.yaml").mkdir(parents=True)
    for name in ("a.yaml", "B.YAML", "c.Yml", "team/d.yml", "README.md", ".gitkeep", "e.yaml.bak"):
        (manifests / name).write_text("x: 1\n")
    (manifests / "gone.yaml").symlink_to(manifests / "missing.yaml")
    (manifests / "gone-notes").symlink_to(manifests / "missing")
    os.mkfifo(manifests / "pipe.yml")
    (tmp_path / "outside.yaml").write_text("x: 1\n")
    (manifests / "out.yaml").symlink_to(tmp_path / "outside.yaml")
    (manifests / "inside.yaml").symlink_to(manifests / "a.yaml")
    found = scan(manifests, root)
    assert [p.relative_to(manifests).as_posix() for p in found.files] == [
        "B.YAML",
        "a.yaml",
        "c.Yml",
        "inside.yaml",
        "team/d.yml",
    ]
    reasons = {p.relative_to(manifests).as_posix(): r for p, r in found.problems}
    assert sorted(reasons) == ["gone.yaml", "out.yaml", "pipe.yml", "team/dir.yaml"]
    assert reasons["gone.yaml"].startswith("broken symbolic link")
    assert "outside the repository root" in reasons["out.yaml"]
    assert reasons["pipe.yml"].startswith("a FIFO (named pipe)")
    assert reasons["team/dir.yaml"].startswith("a directory with a YAML name")


def test_fifo_is_refused_by_read_text_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ReadError, match="FIFO"):
        read_text(fifo)


def test_messages_escape_control_and_bidi_characters(tree: Tree) -> None:
    tree.manifest('"a\\e[2Jb": 1\naliases: {"c\\u202ed": 2}\n')
    found = problems(tree.root)
    text = "\n".join(str(p) for p in found)
    assert "\x1b" not in text and "\u202e" not in text
    assert "a\\x1b[2Jb" in text and "c\\u202ed" in text


def test_schemas_document_the_string_rule() -> None:
    import json

    manifest = json.loads((REPO / "registry_ops/schemas/manifest.schema.json").read_text())
    policy = json.loads((REPO / "registry_ops/schemas/policy.schema.json").read_text())
    assert 'quote it, e.g. tier: "1.10"' in manifest["properties"]["tags"]["description"]
    assert manifest["properties"]["tags"]["additionalProperties"] == {"type": "string"}
    assert policy["$defs"]["tagsGate"]["properties"]["tags"]["additionalProperties"] == {
        "type": "string"
    }
    assert "YAML string" in manifest["properties"]["description"]["description"]
    assert policy["properties"]["gates"]["minItems"] == 1
