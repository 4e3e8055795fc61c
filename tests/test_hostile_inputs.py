"""Hostile and mistaken manifests and policies, through the real CLI, against a real registry.

Every case is refused by ``validate``, ``plan`` and ``apply --yes`` alike: exit
code 1, no traceback, a message naming the file (and the line and column where
there is one), and not a single write to the registry (a full snapshot of it is
taken before and after).

The corpus is ``tests/hostile/{manifests,policies}/*.yaml``. The first line of
each file says what the output must contain after the file's name::

    # expect: 8:13: $.tags.approved: expected a string, got a boolean ...
    # expect: $: empty file: expected a manifest document      (no position)
    # expect: *: $: nested deeper than 64 levels               (any position)

Adding a case is adding a file. A manifest case runs beside a valid policy
``production``; a policy case (named ``production``) beside a valid manifest
that gates ``champion`` with it. Each case would, if accepted, move the alias
``champion`` of the seeded model ``clf`` (or otherwise write), so "no write"
really means "refused". Cases that need a file-system shape (links, a FIFO, a
directory named x.yaml, sizes) are built by ``SHAPES`` below.
"""

from __future__ import annotations

import codecs
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Result
from tests.support.snapshot import registry_snapshot

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "hostile"
CASES = sorted(CORPUS.glob("*/*.yaml"))
COMMANDS = (("validate",), ("plan",), ("apply", "--yes"))

GOOD_POLICY = """\
apiVersion: registry-ops/v1
kind: GatePolicy
name: production
gates:
  - metric: val_accuracy
    min: 0.9
"""
# Promotes v2 (accuracy 0.95): passes the good policy, so accepted input would write.
GOOD_MANIFEST = """\
apiVersion: registry-ops/v1
kind: ModelManifest
model: clf
aliases: {champion: 2}
gates: {champion: production}
"""
# A policy every version passes: what an attacker would point a link at.
LAX_POLICY = GOOD_POLICY.replace("min: 0.9", "min: 0.0")


def expectation(path: Path) -> str:
    """The ``# expect:`` line of a corpus file, whatever its encoding."""
    data = path.read_bytes()
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            text = data.decode(encoding)
            break
    else:
        # UTF-16 without a byte order mark has a NUL after each ASCII byte.
        encoding = "utf-16-le" if data[1:2] == b"\0" else "utf-8"
        text = data.decode(encoding, errors="replace").lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    assert first.startswith("# expect: "), f"{path}: first line must be '# expect: ...'"
    return first.removeprefix("# expect: ")


def assert_names(output: str, file: Path, expect: str) -> None:
    """``output`` reports ``expect`` for ``file``, at the position ``expect`` gives."""
    display = os.path.normpath(file)
    if expect.startswith("*: "):  # any position, or none
        rest = expect.removeprefix("*: ")
        lines = [ln for ln in output.splitlines() if display in ln and rest in ln]
        assert lines, f"no line names {display} with {rest!r}:\n{output}"
        return
    joined = f"{display}:{expect}" if expect[:1].isdigit() else f"{display}: {expect}"
    assert joined in output, f"expected {joined!r} in:\n{output}"


# --- the registry ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One seeded sqlite registry for the module: hostile runs must never write to it."""
    from tests.support.seed import Seeder

    where = tmp_path_factory.mktemp("hostile-registry")
    uri = f"sqlite:///{where / 'mlflow.db'}"
    seeder = Seeder(uri, (where / "artifacts").as_uri())
    for accuracy in (0.5, 0.95, 0.97):
        seeder.version("clf", val_accuracy=accuracy)
    seeder.client.set_registered_model_alias("clf", "champion", "1")
    seeder.client.set_registered_model_tag("clf", "team", "research")
    seeder.client.update_registered_model("clf", description="seeded")
    seeder.client.transition_model_version_stage("clf", "1", "Production")
    return uri


@dataclass
class Case:
    """A repository root to run the CLI on and the file the error must name."""

    root: Path
    file: Path
    expect: str


def workspace(base: Path, manifest: str | None = GOOD_MANIFEST) -> Path:
    root = base / "repo"
    (root / "manifests").mkdir(parents=True)
    (root / "policies").mkdir()
    (root / "policies" / "production.yaml").write_text(GOOD_POLICY, encoding="utf-8")
    if manifest is not None:
        (root / "manifests" / "clf.yaml").write_text(manifest, encoding="utf-8")
    return root


def corpus_case(path: Path, base: Path) -> Case:
    kind = path.parent.name
    root = workspace(base, manifest=None if kind == "manifests" else GOOD_MANIFEST)
    if kind == "policies":
        (root / "policies" / "production.yaml").unlink()
    target = root / kind / path.name
    shutil.copyfile(path, target)
    return Case(root, target, expectation(path))


def run_all(cli: Callable[..., Result], uri: str, case: Case) -> None:
    """validate, plan and apply: each refused, located, without a traceback or a write."""
    before = registry_snapshot(uri)
    for command in COMMANDS:
        result = cli("--tracking-uri", uri, "-C", str(case.root), *command)
        output = result.out + result.err
        assert result.code == 1, f"{command}: exit {result.code}\n{output}"
        assert "Traceback" not in output, output
        assert "problem" in result.err and result.err.startswith("error: "), output
        assert_names(result.err, case.file, case.expect)
    assert registry_snapshot(uri) == before, "the registry was written to"


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_corpus_case_is_refused_everywhere_without_a_write(
    cli: Callable[..., Result], registry: str, tmp_path: Path, path: Path
) -> None:
    run_all(cli, registry, corpus_case(path, tmp_path))


def test_corpus_is_large_and_every_case_has_an_expectation() -> None:
    assert len(CASES) >= 60
    for path in CASES:
        assert expectation(path)


# --- cases that need a file-system shape ------------------------------------------------


def _outside(base: Path) -> Path:
    outside = base / "elsewhere"
    outside.mkdir(exist_ok=True)
    return outside


def link_to_manifest_outside(base: Path) -> Case:
    root = workspace(base, manifest=None)
    (_outside(base) / "clf.yaml").write_text(GOOD_MANIFEST, encoding="utf-8")
    link = root / "manifests" / "clf.yaml"
    link.symlink_to(_outside(base) / "clf.yaml")
    return Case(root, link, "$: symbolic link to ")


def link_to_directory_outside(base: Path) -> Case:
    root = workspace(base, manifest=None)
    (_outside(base) / "clf.yaml").write_text(GOOD_MANIFEST, encoding="utf-8")
    link = root / "manifests" / "team"
    link.symlink_to(_outside(base), target_is_directory=True)
    return Case(root, link, "$: symbolic link to ")


def link_to_policy_outside(base: Path) -> Case:
    # A lax policy elsewhere on the runner, linked in place of the real one.
    root = workspace(base, manifest=GOOD_MANIFEST.replace("champion: 2", "champion: 1"))
    (root / "policies" / "production.yaml").unlink()
    (_outside(base) / "lax.yaml").write_text(LAX_POLICY, encoding="utf-8")
    link = root / "policies" / "production.yaml"
    link.symlink_to(_outside(base) / "lax.yaml")
    return Case(root, link, "$: symbolic link to ")


def manifests_directory_is_a_link_outside(base: Path) -> Case:
    root = workspace(base, manifest=None)
    (root / "manifests").rmdir()
    (_outside(base) / "clf.yaml").write_text(GOOD_MANIFEST, encoding="utf-8")
    (root / "manifests").symlink_to(_outside(base), target_is_directory=True)
    return Case(root, root / "manifests", "$: symbolic link to ")


def dangling_link(base: Path) -> Case:
    root = workspace(base)
    link = root / "manifests" / "gone.yaml"
    link.symlink_to(root / "manifests" / "nowhere.yaml")
    return Case(root, link, "$: broken symbolic link (points to ")


def link_loop(base: Path) -> Case:
    root = workspace(base)
    link = root / "manifests" / "again"
    link.symlink_to(root / "manifests", target_is_directory=True)
    return Case(root, link, "$: this directory was already read by another path")


def self_link(base: Path) -> Case:
    root = workspace(base)
    link = root / "manifests" / "self.yaml"
    link.symlink_to(link)
    return Case(root, link, "$: broken symbolic link (points to ")


def fifo(base: Path) -> Case:
    root = workspace(base)
    path = root / "manifests" / "pipe.yaml"
    os.mkfifo(path)
    return Case(root, path, "$: a FIFO (named pipe), not a regular file: refusing to read it")


def directory_named_yaml(base: Path) -> Case:
    root = workspace(base, manifest=None)
    directory = root / "manifests" / "clf.yaml"
    directory.mkdir()
    (directory / "inner.yaml").write_text(GOOD_MANIFEST, encoding="utf-8")
    return Case(root, directory, "$: a directory with a YAML name")


def upper_case_suffix(base: Path) -> Case:
    # Once skipped silently: this manifest (the only one for clf) vanished.
    root = workspace(base, manifest=None)
    path = root / "manifests" / "CLF.YAML"
    path.write_text(GOOD_MANIFEST + "tags: {tier: 1.10}\n", encoding="utf-8")
    return Case(root, path, "6:14: $.tags.tier: expected a string")


def upper_case_policy_suffix(base: Path) -> Case:
    root = workspace(base)
    (root / "policies" / "production.yaml").unlink()
    path = root / "policies" / "production.Yml"
    path.write_text(GOOD_POLICY.replace("min: 0.9", "min: .nan"), encoding="utf-8")
    return Case(root, path, "6:10: $.gates[0].min: expected a finite number, got .nan")


def zero_bytes(base: Path) -> Case:
    root = workspace(base, manifest=None)
    path = root / "manifests" / "clf.yaml"
    path.write_bytes(b"")
    return Case(root, path, "$: empty file: expected a manifest document")


def just_over_one_mebibyte(base: Path) -> Case:
    root = workspace(base, manifest=None)
    path = root / "manifests" / "clf.yaml"
    padding = b"# padding\n" * (1024 * 1024 // 10 + 1)
    path.write_bytes(GOOD_MANIFEST.encode() + padding)
    return Case(root, path, "$: file is 1,048,")


def sparse_ten_gigabytes(base: Path) -> Case:
    # Refused from its size alone: reading it would take minutes and all memory.
    root = workspace(base, manifest=None)
    path = root / "manifests" / "clf.yaml"
    with open(path, "wb") as stream:
        stream.write(GOOD_MANIFEST.encode())
        stream.truncate(10 * 1024**3)
    return Case(root, path, "$: file is 10,737,418,240 bytes, larger than the limit")


def manifests_is_a_file(base: Path) -> Case:
    root = workspace(base, manifest=None)
    (root / "manifests").rmdir()
    (root / "manifests").write_text(GOOD_MANIFEST, encoding="utf-8")
    return Case(root, root / "manifests", "$: manifests/ must be a directory")


def utf8_bom_then_mistake(base: Path) -> Case:
    # The BOM itself is fine (YAML allows it); positions still count from the text.
    root = workspace(base, manifest=None)
    path = root / "manifests" / "clf.yaml"
    path.write_bytes(codecs.BOM_UTF8 + (GOOD_MANIFEST + "tags: {tier: NO}\n").encode())
    return Case(root, path, "6:14: $.tags.tier: expected a string, got a boolean")


def unreadable_file(base: Path) -> Case:
    root = workspace(base, manifest=None)
    path = root / "manifests" / "clf.yaml"
    path.write_text(GOOD_MANIFEST, encoding="utf-8")
    path.chmod(0)
    return Case(root, path, "$: cannot read file: Permission denied")


SHAPES: dict[str, Callable[[Path], Case]] = {
    f.__name__: f
    for f in (
        link_to_manifest_outside,
        link_to_directory_outside,
        link_to_policy_outside,
        manifests_directory_is_a_link_outside,
        dangling_link,
        link_loop,
        self_link,
        fifo,
        directory_named_yaml,
        upper_case_suffix,
        upper_case_policy_suffix,
        zero_bytes,
        just_over_one_mebibyte,
        sparse_ten_gigabytes,
        manifests_is_a_file,
        utf8_bom_then_mistake,
        unreadable_file,
    )
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_file_system_shape_is_refused_everywhere_without_a_write(
    cli: Callable[..., Result], registry: str, tmp_path: Path, shape: str
) -> None:
    if shape == "unreadable_file" and os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    case = SHAPES[shape](tmp_path)
    if shape == "fifo":
        # Opening a FIFO for reading blocks until a writer comes; if the loader
        # ever does, unblock it (so the suite ends) and fail.
        blocked = _watch_fifo(case.file)
        try:
            run_all(cli, registry, case)
        finally:
            blocked.stop.set()
            blocked.join()
        assert not blocked.found, "the loader opened the FIFO for reading"
        return
    run_all(cli, registry, case)


class _FifoWatch(threading.Thread):
    """Feeds a FIFO if a reader waits on it for long, and says so."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.found = False

    def run(self) -> None:
        # A reader held for seconds is blocked; the loader's nonblocking peek
        # lasts microseconds, so waiting 3 s before looking avoids a false alarm.
        while not self.stop.wait(3.0):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: nobody is reading, as it should be
                continue
            self.found = True
            os.write(fd, b"{")
            os.close(fd)


def _watch_fifo(path: Path) -> _FifoWatch:
    watch = _FifoWatch(path)
    watch.start()
    return watch


# --- what is still accepted --------------------------------------------------------------


def test_upper_case_suffix_and_utf8_bom_are_read(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    root = workspace(tmp_path, manifest=None)
    (root / "manifests" / "CLF.YAML").write_bytes(codecs.BOM_UTF8 + GOOD_MANIFEST.encode())
    (root / "manifests" / "README.md").write_text("notes\n", encoding="utf-8")
    (root / "manifests" / ".gitkeep").write_text("", encoding="utf-8")
    (root / "manifests" / "notes").symlink_to(tmp_path / "nowhere")  # not YAML: ignored
    result = cli("-C", str(root), "validate")
    assert result.code == 0, result.err
    assert "OK: 1 manifest and 1 policy valid." in result.out


def test_links_inside_the_root_are_followed(cli: Callable[..., Result], tmp_path: Path) -> None:
    root = workspace(tmp_path, manifest=None)
    shared = root / "shared"
    shared.mkdir()
    (shared / "clf.yaml").write_text(GOOD_MANIFEST, encoding="utf-8")
    (root / "manifests" / "clf.yaml").symlink_to(Path("../shared/clf.yaml"))
    result = cli("-C", str(root), "validate")
    assert result.code == 0, result.err
    assert "OK: 1 manifest and 1 policy valid." in result.out


def test_all_problems_of_a_run_are_reported_together(
    cli: Callable[..., Result], registry: str, tmp_path: Path
) -> None:
    root = workspace(tmp_path, manifest=None)
    picked = ["billion-laughs", "tag-value-no", "gate-target-wrong-case", "two-documents"]
    for name in picked:
        shutil.copyfile(CORPUS / "manifests" / f"{name}.yaml", root / "manifests" / f"{name}.yaml")
    os.mkfifo(root / "manifests" / "pipe.yaml")
    before = registry_snapshot(registry)
    result = cli("--tracking-uri", registry, "-C", str(root), "apply", "--yes")
    assert result.code == 1
    assert result.err.startswith("error: 5 problems found:\n"), result.err
    for name in picked:
        path = root / "manifests" / f"{name}.yaml"
        assert_names(result.err, path, expectation(CORPUS / "manifests" / f"{name}.yaml"))
    assert "pipe.yaml: $: a FIFO" in result.err
    assert registry_snapshot(registry) == before


# --- the installed console script ---------------------------------------------------------


def console(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("registry-ops", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "registry_ops"]
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize(
    "name",
    [
        "manifests/deep-flow-nesting",
        "manifests/billion-laughs",
        "manifests/self-alias-sequence",
        "policies/threshold-nan",
    ],
)
def test_console_script_validate_refuses_without_a_traceback(tmp_path: Path, name: str) -> None:
    case = corpus_case(CORPUS / f"{name}.yaml", tmp_path)
    proc = console("-C", str(case.root), "validate")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert_names(proc.stderr, case.file, case.expect)


def test_console_script_apply_refuses_a_fifo_without_blocking_or_writing(
    registry: str, tmp_path: Path
) -> None:
    case = fifo(tmp_path)
    before = registry_snapshot(registry)
    # A blocked read would hang: the timeout turns that into a failure.
    proc = console("--tracking-uri", registry, "-C", str(case.root), "apply", "--yes")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert_names(proc.stderr, case.file, case.expect)
    assert registry_snapshot(registry) == before
