"""``registry-ops compare``: the table on plain data, then the command on every backend."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from registry_ops.core.metric_book import MetricBook
from registry_ops.core.state import Observed, ObservedModel, ObservedVersion
from registry_ops.errors import RegistryOpsError
from registry_ops.render.compare import render_json, render_markdown, render_text
from registry_ops.reports.compare import Comparison, build, collect, parse_version, select

# ---- plain data ----------------------------------------------------------------------


def _model(
    stages: dict[int, str],
    aliases: dict[str, int] | None = None,
    name: str = "clf",
) -> ObservedModel:
    versions = {v: ObservedVersion(v, stage=s, run_id=f"run{v}") for v, s in stages.items()}
    return ObservedModel(name=name, aliases=aliases or {}, versions=versions)


RUN_METRICS = {
    "run1": {"val_accuracy": 0.7, "val_loss": 0.6},
    "run2": {"val_accuracy": 0.9, "val_loss": 0.2},
    "run3": {"val_accuracy": 0.95},
}
# Runs 4 and up were asked for and have no metrics.
METRICS = MetricBook.of_runs(RUN_METRICS, asked=[f"run{v}" for v in range(1, 20)])


def test_champion_is_the_reference_and_deltas_are_against_it() -> None:
    model = _model({1: "Archived", 2: "Production", 3: "Staging"}, {"champion": 2, "challenger": 3})
    table = build(model, [1, 2, 3], METRICS)
    assert (table.reference, table.reference_by) == (2, "champion")
    assert table.metrics == ["val_accuracy", "val_loss"]
    assert [c.label for c in table.columns] == [
        "v1 [Archived]",
        "v2 [champion, Production]",
        "v3 [challenger, Staging]",
    ]
    v1, v2, v3 = table.columns
    assert v1.deltas == pytest.approx({"val_accuracy": -0.2, "val_loss": 0.4})
    assert v2.deltas == {}  # the reference has no deltas
    assert v3.deltas == pytest.approx({"val_accuracy": 0.05})  # v3 logged no val_loss
    assert v3.metrics == {"val_accuracy": 0.95}


def test_reference_falls_back_to_production_then_to_the_first_version() -> None:
    production = _model({1: "Production", 2: "Production", 3: "None"}, {"challenger": 3})
    table = build(production, [1, 2, 3], METRICS)
    assert (table.reference, table.reference_by) == (2, "Production")  # the newest holder
    plain = _model({1: "None", 2: "None", 3: "None"})
    table = build(plain, [3, 1], METRICS)
    assert (table.reference, table.reference_by) == (3, "first")  # the order given
    # a champion outside the compared versions is not the reference
    outside = _model({1: "None", 2: "None", 3: "None"}, {"champion": 3})
    assert build(outside, [1, 2], METRICS).reference == 1


def test_metric_rows_can_be_chosen_and_ordered() -> None:
    model = _model({1: "None", 2: "None"})
    table = build(model, [1, 2], METRICS, metric_names=["val_loss", "nope", "val_loss"])
    assert table.metrics == ["val_loss", "nope"]
    assert table.columns[1].deltas == pytest.approx({"val_loss": -0.4})


def test_versions_without_runs_or_metrics_show_nothing_and_no_delta() -> None:
    model = ObservedModel(
        name="clf",
        aliases={"champion": 1},
        versions={1: ObservedVersion(1, run_id="run1"), 2: ObservedVersion(2, run_id=None)},
    )
    table = build(model, [1, 2], METRICS)
    assert table.columns[1].metrics == {} and table.columns[1].deltas == {}
    assert table.to_dict()["versions"][1]["run_id"] is None


def test_default_selection_caps_at_the_newest_and_keeps_every_holder() -> None:
    stages = {v: "None" for v in range(1, 26)}
    stages[2] = "Production"
    stages[5] = "Staging"
    model = _model(stages, {"champion": 3, "old": 1})
    versions, omitted = select(model, limit=6)
    assert versions == [1, 2, 3, 5, 24, 25]  # four holders, then the newest two
    assert omitted == 19
    # holders are never dropped, even past the limit
    assert select(model, limit=2) == ([1, 2, 3, 5], 21)
    assert select(_model({1: "None", 2: "None"})) == ([1, 2], 0)


def test_named_versions_keep_their_order_and_unknown_ones_are_all_named() -> None:
    model = _model({1: "None", 2: "None", 3: "None", 7: "None"})
    assert select(model, [3, 1, 3]) == ([3, 1], 0)
    with pytest.raises(RegistryOpsError) as info:
        select(model, [2, 9, 12, 4])
    message = str(info.value)
    assert "has no version v9, v12" in message
    assert "(it has: v1-v3, v7)" in message


@pytest.mark.parametrize(("text", "number"), [("3", 3), ("v3", 3), ("V12", 12), (" 4 ", 4)])
def test_version_arguments(text: str, number: int) -> None:
    assert parse_version(text) == number


@pytest.mark.parametrize("text", ["", "x", "v", "3.0", "-1", "0", "v0", "latest"])
def test_bad_version_arguments(text: str) -> None:
    with pytest.raises(ValueError, match="not a version number"):
        parse_version(text)


class _Counting:
    """A registry of plain data that counts the reads compare makes."""

    def __init__(self, model: ObservedModel, metrics: dict[str, dict[str, float]]) -> None:
        self.model, self.metrics = model, metrics
        self.calls: list[tuple[str, object]] = []

    def read_state(self, names: Sequence[str] | None = None) -> Observed:
        self.calls.append(("read_state", list(names or [])))
        wanted = {self.model.name: self.model}
        return Observed({n: wanted[n] for n in names or wanted if n in wanted})

    def read_metrics(self, versions: Iterable[ObservedVersion]) -> MetricBook:
        ids = sorted(MetricBook.wanted(versions)[0])
        self.calls.append(("read_metrics", ids))
        return MetricBook.of_runs({r: self.metrics[r] for r in ids if r in self.metrics}, ids)

    def prompts(self, names: Iterable[str]) -> dict[str, ObservedModel]:
        self.calls.append(("prompts", list(names)))
        return {}


def test_collect_makes_one_state_read_and_one_metrics_read() -> None:
    source = _Counting(_model({1: "None", 2: "Production", 3: "None"}), RUN_METRICS)
    table = collect(source, "clf")
    assert [c.version for c in table.columns] == [1, 2, 3]
    assert source.calls == [("read_state", ["clf"]), ("read_metrics", ["run1", "run2", "run3"])]
    source.calls.clear()
    collect(source, "clf", [3])  # only the compared versions' runs are read
    assert source.calls[1] == ("read_metrics", ["run3"])
    with pytest.raises(RegistryOpsError, match="model 'nope' is not registered in MLflow"):
        collect(source, "nope")


def _render(table: Comparison, fmt: str) -> str:
    out = io.StringIO()
    {"text": render_text, "json": render_json, "markdown": render_markdown}[fmt](table, out, False)
    return out.getvalue()


def test_text_table() -> None:
    model = _model({1: "None", 2: "Production"}, {"champion": 2})
    text = _render(build(model, [1, 2], METRICS), "text")
    assert text.splitlines() == [
        "clf: 2 versions; deltas against v2 (the champion alias holder)",
        "",
        "metric        v1          v2 [champion, Production] (ref)",
        "val_accuracy  0.7 (-0.2)  0.9",
        "val_loss      0.6 (+0.4)  0.2",
        "run           run1        run2",
    ]


def test_json_is_strict_with_numbers_and_null_for_nan() -> None:
    model = _model({1: "None", 2: "None"}, {"champion": 1})
    runs = {"run1": {"a": 1.0, "b": math.nan}, "run2": {"a": 1.5, "b": 2}}
    table = build(model, [1, 2], MetricBook.of_runs(runs))
    data = json.loads(_render(table, "json"))
    assert data["model"] == "clf" and data["reference"] == 1 and data["metrics"] == ["a", "b"]
    v1, v2 = data["versions"]
    source = {"source": "run", "model_id": None, "run_id": "run1", "dataset": None,
              "dataset_digest": None, "step": 0}  # fmt: skip
    assert v1 == {
        "version": 1, "holds": ["champion"], "run_id": "run1", "model_id": None,
        "metrics": {"a": 1.0, "b": None}, "deltas": {},
        # where each value came from; NaN spelled as a string (strict JSON has none)
        "sources": {"a": {"value": 1.0, **source}, "b": {"value": "nan", **source}},
    }  # fmt: skip
    assert v2["metrics"] == {"a": 1.5, "b": 2} and v2["deltas"] == {"a": 0.5, "b": None}


def test_markdown_escapes_registry_text() -> None:
    model = ObservedModel(
        name="<b>m|x</b>",
        aliases={"champion": 1, "a_b": 2},
        versions={1: ObservedVersion(1, run_id="run1"), 2: ObservedVersion(2, run_id="run2")},
    )
    runs = {"run1": {"acc|*x*": 0.5}, "run2": {"acc|*x*": 0.75}}
    table = build(model, [1, 2], MetricBook.of_runs(runs))
    text = _render(table, "markdown")
    assert "<b>" not in text and "&lt;b&gt;m\\|x&lt;/b&gt;" in text
    assert "acc\\|\\*x\\*" in text and "v2 \\[a\\_b\\]" in text
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert all(line.count(" | ") == 2 for line in rows if "---" not in line)


def test_the_cap_is_said() -> None:
    model = _model({v: "None" for v in range(1, 15)})
    versions, omitted = select(model)
    empty = MetricBook.of_runs({}, [f"run{v}" for v in versions])
    table = build(model, versions, empty, omitted=omitted)
    assert "showing 10 of 14 versions" in _render(table, "text")
    assert table.to_dict()["omitted"] == 4 and table.to_dict()["total_versions"] == 14
    assert "(no metrics logged on these versions' logged models or runs)" in _render(table, "text")


# ---- the command, on every backend ---------------------------------------------------


def _seed(backend):  # type: ignore[no-untyped-def]
    clf = backend.name("clf")
    backend.seeder.version(clf, val_accuracy=0.636, val_loss=0.61)
    backend.seeder.version(clf, val_accuracy=0.966, val_loss=0.08)
    backend.seeder.version(clf, val_accuracy=0.992, val_loss=0.027, epochs=40)
    backend.client.set_registered_model_alias(clf, "champion", "3")
    backend.client.set_registered_model_alias(clf, "challenger", "2")
    backend.client.transition_model_version_stage(clf, "3", "Production")
    backend.client.transition_model_version_stage(clf, "2", "Staging")
    backend.client.transition_model_version_stage(clf, "1", "Archived")
    return clf


def test_compare_json_on_every_backend(cli, backend, tmp_path: Path):  # type: ignore[no-untyped-def]
    clf = _seed(backend)
    result = cli(*backend.args(tmp_path, "compare", clf, "--format", "json"))
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["model"] == clf and data["reference"] == 3 and data["reference_by"] == "champion"
    assert data["metrics"] == ["epochs", "val_accuracy", "val_loss"]
    by_version = {v["version"]: v for v in data["versions"]}
    assert list(by_version) == [1, 2, 3]
    assert by_version[3]["holds"] == ["champion", "Production"]
    assert by_version[2]["holds"] == ["challenger", "Staging"]
    assert by_version[1]["holds"] == ["Archived"]
    assert by_version[2]["metrics"] == {"val_accuracy": 0.966, "val_loss": 0.08}
    assert by_version[2]["deltas"]["val_accuracy"] == pytest.approx(0.966 - 0.992)
    assert "epochs" not in by_version[2]["deltas"]  # v2's run has no epochs
    assert by_version[3]["deltas"] == {}
    assert all(len(v["run_id"]) == 32 for v in data["versions"])


def test_compare_text_and_markdown_on_every_backend(cli, backend, tmp_path: Path):  # type: ignore[no-untyped-def]
    clf = _seed(backend)
    text = cli(*backend.args(tmp_path, "compare", clf, "v2", "3", "-m", "val_accuracy"))
    assert text.code == 0, text.err
    lines = text.out.splitlines()
    assert lines[0] == f"{clf}: 2 versions; deltas against v3 (the champion alias holder)"
    assert lines[2].split("  ")[0] == "metric"
    assert "v2 [challenger, Staging]" in lines[2] and "v3 [champion, Production] (ref)" in lines[2]
    assert lines[3].split() == ["val_accuracy", "0.966", "(-0.026)", "0.992"]
    assert "val_loss" not in text.out
    markdown = cli(*backend.args(tmp_path, "compare", clf, "--format", "markdown"))
    assert markdown.code == 0, markdown.err
    assert "| val\\_accuracy | 0.636 \\(-0.356\\) | 0.966 \\(-0.026\\) | 0.992 |" in markdown.out


def test_compare_unknown_model_and_version_on_every_backend(cli, backend, tmp_path: Path):  # type: ignore[no-untyped-def]
    clf = _seed(backend)
    missing = cli(*backend.args(tmp_path, "compare", backend.name("nope")))
    assert missing.code == 1
    assert f"error: model '{backend.name('nope')}' is not registered in MLflow" in missing.err
    unknown = cli(*backend.args(tmp_path, "compare", clf, "2", "v9"))
    assert unknown.code == 1 and "Traceback" not in unknown.err
    assert f"model '{clf}' has no version v9 (it has: v1-v3)" in unknown.err
    usage = cli(*backend.args(tmp_path, "compare", clf, "two"))
    assert usage.code == 64 and "not a version number: 'two'" in usage.err


def test_compare_reads_in_two_batches_on_every_backend(backend, tmp_path: Path):  # type: ignore[no-untyped-def]
    from registry_ops.registry import Registry

    clf = _seed(backend)
    registry = Registry(backend.uri)
    calls: list[str] = []
    for method in ("get_model_version", "get_run", "get_registered_model", "search_runs",
                   "search_model_versions", "search_registered_models"):  # fmt: skip
        original = getattr(registry.client, method)

        def counted(*args, _name=method, _original=original, **kwargs):  # type: ignore[no-untyped-def]
            calls.append(_name)
            return _original(*args, **kwargs)

        setattr(registry.client, method, counted)
    table = collect(registry, clf)
    assert len(table.columns) == 3
    assert "get_model_version" not in calls and "get_run" not in calls
    assert calls.count("search_runs") == 1
