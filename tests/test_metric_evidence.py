"""Which value a version's metric is, and why none: the rules of core.metrics on plain data.

The end-to-end idioms (a sweep, a runless model, datasets, evaluate, gc) run against
real MLflow in tests/test_mlflow3_evidence.py; here every branch, with exact messages.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from registry_ops.core.metric_book import MetricBook, pin_reads
from registry_ops.core.metrics import (
    LoggedModelRecord,
    Missing,
    Reading,
    RunRecord,
    VersionMetrics,
    latest,
)
from registry_ops.core.model import GateSpec
from registry_ops.core.state import ObservedVersion, logged_model_id
from registry_ops.gates import Candidate
from registry_ops.gates.metric import MetricGate

M, R = "m-1", "r1"
TRAIN = {"dataset": "training", "digest": "aa11"}
VALID = {"dataset": "validation", "digest": "bb22"}


def on_model(key: str, value: float, model: str = M, **more: object) -> Reading:
    return Reading(key, value, run_id=R, model_id=model, **more)  # type: ignore[arg-type]


def evidence(
    model: list[Reading] | None = None,
    run: dict[str, float] | None = None,
    run_models: tuple[str, ...] = (M,),
    deleted: bool = False,
    model_id: str | None = M,
    run_id: str | None = R,
) -> VersionMetrics:
    """Version 2's evidence: a logged model with ``model`` values, a run with ``run``'s."""
    record = LoggedModelRecord.of(M, run_id, model) if model is not None else None
    runs = None
    if run is not None:
        values = {k: Reading(k, v, run_id=R) for k, v in run.items()}
        runs = RunRecord(R, values, deleted=deleted, models=run_models)
    return VersionMetrics(2, model_id, run_id, record, runs)


# ---- where the value comes from --------------------------------------------------------


def test_the_logged_models_value_wins_over_its_runs() -> None:
    """A sweep: the run's latest value is another model's."""
    got = evidence([on_model("acc", 0.62)], {"acc": 0.91}, run_models=(M, "m-2", "m-3"))
    assert got.read("acc") == on_model("acc", 0.62)
    assert got.get("acc") == 0.62


def test_latest_is_highest_step_then_time_then_value() -> None:
    values = [
        on_model("acc", 0.9, step=2, timestamp=1),
        on_model("acc", 0.5, step=1, timestamp=9),
        on_model("loss", 0.3, timestamp=5),
        on_model("loss", 0.2, timestamp=6),
        on_model("nan", math.nan, timestamp=1),
        on_model("nan", 0.1, timestamp=1),
    ]
    best = latest(values)
    assert [r.value for r in best["acc"]] == [0.9]
    assert [r.value for r in best["loss"]] == [0.2]
    assert [r.value for r in best["nan"]] == [0.1]  # NaN never wins a tie


def test_a_run_stands_in_only_when_it_logged_no_other_model() -> None:
    alone = evidence([on_model("acc", 0.9)], {"loss": 0.3})
    read = alone.read("loss")
    assert isinstance(read, Reading) and read.value == 0.3 and read.model_id is None
    assert (
        read.note
        == f"not on logged model {M}: the value of its source run, which logged no other model"
    )
    assert alone.keys() == ["acc", "loss"]
    sweep = evidence([on_model("acc", 0.9)], {"loss": 0.3}, run_models=(M, "m-2"))
    assert sweep.read("loss") == Missing(
        "loss",
        f"metric 'loss' is missing from logged model {M} (it has: acc); its source run {R} "
        "has a value, but the run logged 2 models, so that value need not be this model's",
    )
    assert sweep.keys() == ["acc"]


def test_a_version_without_a_logged_model_reads_its_run() -> None:
    got = evidence(None, {"acc": 0.9}, model_id=None)
    assert got.read("acc") == Reading("acc", 0.9, run_id=R)
    assert got.read("f1") == Missing("f1", f"metric 'f1' is missing from run {R} (it has: acc)")


# ---- datasets ------------------------------------------------------------------------


def test_several_datasets_need_a_name_and_are_listed() -> None:
    got = evidence([on_model("acc", 1.0, **TRAIN), on_model("acc", 0.917, **VALID)])  # type: ignore[arg-type]
    listing = "training (digest aa11): 1, validation (digest bb22): 0.917"
    assert got.read("acc") == Missing(
        "acc",
        f"metric 'acc' of logged model {M} has values for 2 datasets ({listing}): "
        "name one with `dataset:`",
    )
    assert got.get("acc") is None
    assert got.read("acc", "validation") == on_model("acc", 0.917, **VALID)  # type: ignore[arg-type]
    assert got.read("acc", "aa11") == on_model("acc", 1.0, **TRAIN)  # type: ignore[arg-type]
    assert got.read("acc", "test") == Missing(
        "acc",
        f"metric 'acc' of logged model {M} has no value for dataset 'test' (it has: {listing})",
    )
    assert list(got.table()) == ["acc[training]", "acc[validation]"]


def test_one_name_with_two_digests_needs_the_digest() -> None:
    old, new = {"dataset": "validation", "digest": "01"}, {"dataset": "validation", "digest": "02"}
    got = evidence([on_model("acc", 0.8, **old), on_model("acc", 0.9, **new)])  # type: ignore[arg-type]
    missing = got.read("acc", "validation")
    assert isinstance(missing, Missing) and missing.reason.endswith("name one by its digest")
    assert got.read("acc", "02") == on_model("acc", 0.9, **new)  # type: ignore[arg-type]


def test_a_value_without_a_dataset_next_to_named_ones_is_one_of_several() -> None:
    got = evidence([on_model("acc", 0.7), on_model("acc", 0.9, **VALID)])  # type: ignore[arg-type]
    missing = got.read("acc")
    assert (
        isinstance(missing, Missing)
        and "(no dataset: 0.7, validation (digest bb22)" in missing.reason
    )
    run_only = evidence(None, {"acc": 0.9}, model_id=None)
    assert run_only.read("acc", "validation") == Missing(
        "acc",
        f"metric 'acc' of run {R} has no value for dataset 'validation' (it has: no dataset: 0.9)",
    )


# ---- why there is none ---------------------------------------------------------------


def test_deleted_and_collected_sources_are_named() -> None:
    trash = evidence(None, {"acc": 0.9}, model_id=None, deleted=True)
    read = trash.read("acc")
    assert isinstance(read, Reading)
    assert read.note == f"run {R} is deleted (in MLflow's trash: `mlflow gc` would remove it)"
    gone = "no longer exists (deleted permanently, e.g. by `mlflow gc`)"
    assert evidence(None, None, model_id=None).read("acc") == Missing(
        "acc", f"run {R} (the source run of version 2) {gone}, so metric 'acc' is unknown"
    )
    assert evidence([], None).read("acc") == Missing(
        "acc",
        f"metric 'acc' is missing from logged model {M} (it has no metrics); its source run "
        f"{R} {gone}, and the metrics logged in it went with it",
    )
    assert evidence(None, {"acc": 0.9}).read("acc") == Missing(
        "acc", f"logged model {M} (the source of version 2) no longer exists (deleted), so "
        "metric 'acc' is unknown"
    )  # fmt: skip
    assert evidence(None, None, model_id=None, run_id=None).read("acc") == Missing(
        "acc", "version 2 has no logged model and no source run, so metric 'acc' is unknown"
    )
    assert evidence([on_model("f1", 1)], None, run_id=None).read("acc") == Missing(
        "acc",
        f"metric 'acc' is missing from logged model {M} (it has: f1) (version 2 has no source run)",
    )


# ---- the book, pins, parsing ----------------------------------------------------------


def test_the_book_tells_gone_from_never_asked() -> None:
    version = ObservedVersion(3, run_id="r9", model_id="m-9")
    book = MetricBook(asked_runs={"r9"})
    with pytest.raises(LookupError, match="m-9 was not read"):
        book.of(version)
    book.merge(MetricBook(asked_models={"m-9"}))
    assert book.of(version).run_gone and book.of(version).model_gone
    assert book.missing([version, ObservedVersion(4, run_id="r10")]) == ({"r10"}, set())


def test_pins_record_value_source_or_reason() -> None:
    got = evidence([on_model("acc", 0.917, **VALID)], {"loss": 0.3})  # type: ignore[arg-type]
    pins = pin_reads(got, [("acc", "validation"), ("f1", None), ("acc", "bb22")])
    assert pins["acc[bb22]"]["asked_dataset"] == "bb22"  # asked by digest, found by name
    assert pins["acc[bb22]"]["dataset"] == "validation"
    assert pins["acc[validation]"] == {
        "metric": "acc", "asked_dataset": "validation", "value": 0.917, "source": "logged_model",
        "model_id": M, "run_id": R, "dataset": "validation", "dataset_digest": "bb22", "step": 0,
    }  # fmt: skip
    assert pins["f1"]["missing"].startswith(f"metric 'f1' is missing from logged model {M}")


@pytest.mark.parametrize(
    ("model_id", "source", "expected"),
    [
        (None, "models:/m-0123abcd", "m-0123abcd"),
        ("", "models:/m-0123abcd/", "m-0123abcd"),
        ("m-field", "models:/m-source", "m-field"),
        (None, "models:/clf/3", None),  # a registered version, not a logged model
        (None, "models:/clf@champion", None),
        (None, "runs:/abc/model", None),
        (None, "file:///tmp/model", None),
        (None, None, None),
    ],
)
def test_the_logged_model_of_a_version(
    model_id: str | None, source: str | None, expected: str | None
) -> None:
    assert logged_model_id(model_id, source) == expected


def test_a_gate_names_its_dataset_and_its_source() -> None:
    gate = MetricGate(
        GateSpec("metric", {"metric": "acc", "min": 0.95, "dataset": "validation"}, 0)
    )
    assert gate.name == "acc[validation] >= 0.95"
    got = evidence([on_model("acc", 1.0, **TRAIN), on_model("acc", 0.917, **VALID)])  # type: ignore[arg-type]
    now = datetime(2024, 6, 1, tzinfo=UTC)
    candidate = Candidate("clf", "champion", ObservedVersion(2, run_id=R), None, got, now=now)
    result = gate.evaluate(candidate)
    assert not result.passed and result.observed == 0.917
    assert result.detail == (
        f"acc = 0.917, below the minimum 0.95 (logged model {M}, dataset validation "
        "(digest bb22), step 0)"
    )
    assert result.evidence["read"]["dataset_digest"] == "bb22"


def test_a_relative_gate_names_the_holder_whose_value_is_missing() -> None:
    gate = MetricGate.create(
        GateSpec("metric", {"metric": "acc", "baseline": "current", "dataset": "validation"}, 0)
    )
    assert gate.name == "acc[validation] >= current holder"
    mine = evidence([on_model("acc", 0.917, **VALID)])  # type: ignore[arg-type]
    theirs = VersionMetrics(
        1, None, "r0", None, RunRecord("r0", {"acc": Reading("acc", 0.9, run_id="r0")})
    )
    now = datetime(2024, 6, 1, tzinfo=UTC)
    candidate = Candidate(
        "clf", "champion", ObservedVersion(2, run_id=R, model_id=M),
        ObservedVersion(1, run_id="r0"), mine, theirs, now=now,
    )  # fmt: skip
    result = gate.evaluate(candidate)
    assert not isinstance(result, list) and not result.passed
    assert result.detail == (
        "the current holder v1: metric 'acc' of run r0 has no value for dataset 'validation' "
        "(it has: no dataset: 0.9), so the change in acc cannot be measured"
    )
    assert result.evidence["read"]["value"] == 0.917
    assert "missing" in result.evidence["holder_read"]
