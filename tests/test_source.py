"""``registry-ops init`` pins the scaffold to a real registry-ops: its install record
(PEP 610's direct_url.json) read into a Source, the files pinned to it, and ``--source``
and ``--ref``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from registry_ops.gitops import scaffold, source
from registry_ops.gitops.source import EXTRAS, BadSource, clean_url, from_record
from tests.conftest import REPO, Result

SHA = "0123456789abcdef0123456789abcdef01234567"
VERSION = "0.1.0"
EXTRA = f"[{','.join(EXTRAS)}]"
TEMPLATES = REPO / "registry_ops/gitops/templates"


def git(cwd: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.com",
        "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
        "PATH": os.environ.get("PATH", ""),
    }  # fmt: skip
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def checkout(path: Path, commit: bool = True) -> Path:
    """A git repository at ``path`` with one commit (or none)."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "pyproject.toml").write_text("[project]\nname = 'registry-ops'\n")
    if commit:
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "registry-ops")
    return path


def vcs(url: str, commit: str = SHA, **info: Any) -> dict[str, Any]:
    return {"url": url, "vcs_info": {"vcs": "git", "commit_id": commit, **info}}


def local(path: Path, editable: bool = True) -> dict[str, Any]:
    return {"url": path.as_uri(), "dir_info": {"editable": editable}}


# --- the install record ------------------------------------------------------------------


def test_installed_from_git_pins_the_url_and_the_commit_pip_resolved() -> None:
    found = from_record(
        vcs("https://github.com/acme/registry-ops.git", requested_revision="v0.1.0"), VERSION
    )
    assert (found.url, found.commit) == ("https://github.com/acme/registry-ops.git", SHA)
    assert found.label == "v0.1.0" and found.pinned
    assert found.requirement == (
        f"registry-ops{EXTRA} @ git+https://github.com/acme/registry-ops.git@{SHA}"
    )
    # no revision asked for: the commit is all that names it
    assert from_record(vcs("https://github.com/acme/registry-ops"), VERSION).label == SHA


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        ("https://ghp_secret@github.com/acme/registry-ops", "https://github.com/acme/registry-ops"),
        ("https://x-access-token:ghs_s3cret@github.com/a/r.git", "https://github.com/a/r.git"),
        (
            "ssh://git:hunter22@github.com/acme/registry-ops",
            "ssh://git@github.com/acme/registry-ops",
        ),
        ("ssh://git@github.com/acme/registry-ops", "ssh://git@github.com/acme/registry-ops"),
    ],
)
def test_user_info_never_reaches_the_pin(url: str, clean: str) -> None:
    """Credentials are dropped; an ssh user name (no secret, needed by ssh) stays."""
    found = from_record(vcs(url), VERSION)
    assert found.url == clean
    text = scaffold.pre_commit_config(found) + found.requirement + scaffold.pinned(found)
    for secret in ("ghp_secret", "ghs_s3cret", "hunter22", "x-access-token"):
        assert secret not in text


@pytest.mark.parametrize(
    "record",
    [
        {"url": "https://hg.example.com/r", "vcs_info": {"vcs": "hg", "commit_id": SHA}},
        vcs("https://github.com/acme/registry-ops", commit="main"),  # not a commit
        {**vcs("https://github.com/acme/mono"), "subdirectory": "registry-ops"},
        vcs("ftp://example.com/registry-ops"),
    ],
    ids=["hg", "no-commit-id", "subdirectory", "ftp"],
)
def test_a_vcs_record_it_cannot_pin_leaves_the_version(record: dict[str, Any]) -> None:
    found = from_record(record, VERSION)
    assert not found.pinned and found.requirement == f"registry-ops{EXTRA}=={VERSION}"


def test_installed_from_a_checkout_with_an_origin_pins_the_origin_at_head(tmp_path: Path) -> None:
    repo = checkout(tmp_path / "registry-ops")
    git(repo, "remote", "add", "origin", "https://ada:tok3n@example.com/acme/registry-ops.git")
    head = git(repo, "rev-parse", "HEAD")
    found = from_record(local(repo), VERSION)
    assert (found.url, found.commit) == ("https://example.com/acme/registry-ops.git", head)
    assert found.label == head  # no tag: nothing names it better than the commit
    assert "origin" in found.found and "uncommitted" not in found.found
    # a tag names the commit; uncommitted changes are said to be left out
    git(repo, "tag", "v0.3.0")
    (repo / "pyproject.toml").write_text("# edited\n")
    tagged = from_record(local(repo, editable=False), VERSION)
    assert (tagged.commit, tagged.label) == (head, "v0.3.0")
    assert "uncommitted changes are not in the pin" in tagged.found


def test_a_commit_origin_does_not_have_is_said_to_need_a_push(tmp_path: Path) -> None:
    """The pin names origin's URL, so a commit no branch of origin has would fail every
    runner's install: said, until a fetched origin branch contains it."""
    upstream = tmp_path / "upstream.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(upstream)], check=True)
    repo = checkout(tmp_path / "registry-ops")
    git(repo, "remote", "add", "origin", upstream.as_uri())
    unpushed = from_record(local(repo), VERSION)
    assert "no branch of origin fetched here has the commit: push it" in unpushed.found
    git(repo, "push", "-q", "origin", "main")
    git(repo, "fetch", "-q", "origin")
    pushed = from_record(local(repo), VERSION)
    assert pushed.url == upstream.as_uri() and "push it" not in pushed.found
    assert "at its origin remote" in pushed.found


def test_an_scp_like_origin_becomes_an_ssh_url(tmp_path: Path) -> None:
    repo = checkout(tmp_path / "registry-ops")
    git(repo, "remote", "add", "origin", "git@github.com:acme/registry-ops.git")
    found = from_record(local(repo), VERSION)
    assert found.url == "ssh://git@github.com/acme/registry-ops.git"


def test_a_checkout_without_origin_pins_the_directory_itself(tmp_path: Path) -> None:
    repo = checkout(tmp_path / "registry-ops")
    found = from_record(local(repo), VERSION)
    assert (found.url, found.commit) == (repo.resolve().as_uri(), git(repo, "rev-parse", "HEAD"))
    assert (
        found.requirement == f"registry-ops{EXTRA} @ git+{repo.resolve().as_uri()}@{found.commit}"
    )


def test_no_git_source_without_a_commit_outside_git_or_below_the_top(tmp_path: Path) -> None:
    empty = checkout(tmp_path / "empty", commit=False)
    plain = tmp_path / "plain"
    plain.mkdir()
    inner = checkout(tmp_path / "mono") / "registry-ops"
    inner.mkdir()
    for directory in (empty, plain, inner, tmp_path / "gone"):
        found = from_record(local(directory), VERSION)
        assert (found.url, found.commit, found.label) == (None, None, VERSION), directory
        assert found.requirement == f"registry-ops{EXTRA}=={VERSION}"


@pytest.mark.parametrize(
    "record",
    [
        {"url": "file:///wheels/registry_ops-0.1.0-py3-none-any.whl", "archive_info": {}},
        {"url": "https://files.example/registry_ops-0.1.0.tar.gz", "archive_info": {"hashes": {}}},
        None,
        {"dir_info": {}},
    ],
    ids=["wheel", "sdist", "no-record", "no-url"],
)
def test_an_archive_or_no_record_leaves_only_the_version(record: dict[str, Any] | None) -> None:
    found = from_record(record, VERSION)
    assert not found.pinned
    assert found.requirement == f"registry-ops{EXTRA}==0.1.0"


# --- URLs and refs given by hand -----------------------------------------------------------


def test_urls_are_normalised_for_pip_and_pre_commit(tmp_path: Path) -> None:
    assert clean_url("git+https://github.com/a/r") == "https://github.com/a/r"
    assert clean_url("git@gitlab.com:a/r.git") == "ssh://git@gitlab.com/a/r.git"
    (tmp_path / "r").mkdir()
    assert clean_url("r", base=tmp_path) == (tmp_path / "r").as_uri()


@pytest.mark.parametrize(
    "url",
    [
        "", "https://github.com/a/r with space", "https://github.com/a/r@v1", "svn://x/r",
        "https://github.com/a/r?x=1", "https://github.com/a/r#egg=x", "https:///a/r",
        "github.com/acme/registry-ops",  # no scheme and no such directory
    ],
)  # fmt: skip
def test_urls_it_cannot_pin_are_refused(url: str) -> None:
    with pytest.raises(BadSource):
        clean_url(url)


def test_a_refusal_never_shows_the_credential() -> None:
    with pytest.raises(BadSource) as refused:
        clean_url("https://ada:s3cr3t-pass@github.com/a/r@v1")
    assert "s3cr3t-pass" not in str(refused.value)


@pytest.mark.parametrize("ref", ["-all", "v1 2", "a..b", "v1/", "x.lock", "", "v1#x"])
def test_refs_it_cannot_pin_are_refused(ref: str) -> None:
    with pytest.raises(BadSource):
        source.check_ref(ref)


def test_ref_alone_pins_the_detected_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "read_record", lambda: vcs("https://github.com/acme/registry-ops"))
    pinned = source.choose(None, "v0.2.0")
    assert (pinned.url, pinned.commit, pinned.label) == (
        "https://github.com/acme/registry-ops", "v0.2.0", "v0.2.0"
    )  # fmt: skip
    monkeypatch.setattr(source, "read_record", lambda: None)
    with pytest.raises(BadSource, match="--ref needs --source"):
        source.choose(None, "v0.2.0")
    with pytest.raises(BadSource, match="--source needs --ref"):
        source.choose("https://github.com/acme/registry-ops", None)
    assert not source.choose(None, None).pinned


# --- the scaffold pinned to each kind of source ---------------------------------------------

SOURCES = {
    "vcs": from_record(
        vcs("https://github.com/acme/registry-ops", requested_revision="v0.1.0"), VERSION
    ),
    "given": source.given("https://github.com/acme/registry-ops", "v0.2.0"),
    "index": from_record(None, VERSION),
    "wheel": from_record(None, VERSION).installing("/tmp/w/registry_ops-0.1.0-py3-none-any.whl"),
}


def action_template() -> str:
    return (TEMPLATES / "repo/dot-github/actions/registry-ops/action.yml").read_text()


@pytest.mark.parametrize("kind", SOURCES)
def test_the_action_installs_the_requirement_and_is_otherwise_the_template(kind: str) -> None:
    pin = SOURCES[kind]
    written = scaffold.files(pin)[Path(".github/actions/registry-ops/action.yml")]
    action = yaml.safe_load(written)
    assert action["inputs"]["package"]["default"] == pin.requirement
    template = action_template()
    default = f"    default: {scaffold.yaml_scalar(pin.requirement)}\n"
    assert written.replace(default, scaffold.PACKAGE_DEFAULT) == template
    assert template.count(scaffold.PACKAGE_DEFAULT) == 1


def test_the_action_template_is_this_repositorys_action() -> None:
    assert action_template() == (REPO / ".github/actions/registry-ops/action.yml").read_text()
    assert "`registry-ops init` pins it" in action_template()


@pytest.mark.parametrize("broken", ["", scaffold.PACKAGE_DEFAULT * 2])
def test_a_template_without_exactly_one_package_default_is_a_bug(broken: str) -> None:
    template = action_template().replace(scaffold.PACKAGE_DEFAULT, broken)
    with pytest.raises(RuntimeError, match="expected"):
        scaffold.pinned_action(template, SOURCES["vcs"])


def test_the_pre_commit_config_takes_the_hook_at_the_pinned_commit() -> None:
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    # the commit with its label; a tag given with --ref is its own label
    for kind, rev, line in (
        ("vcs", SHA, f"rev: {SHA}  # v0.1.0\n"),
        ("given", "v0.2.0", "rev: v0.2.0\n"),
    ):
        text = scaffold.files(SOURCES[kind])[Path(".pre-commit-config.yaml")]
        (repo,) = yaml.safe_load(text)["repos"]
        assert (repo["repo"], repo["rev"]) == ("https://github.com/acme/registry-ops", rev)
        assert [h["id"] for h in repo["hooks"]] == [hook["id"]]
        assert line in text


def test_values_are_written_as_they_are_never_filled_in_again() -> None:
    odd = source.Source("https://example.com/{rev}: x", SHA, "{repo}", VERSION, "by hand")
    text = scaffold.pre_commit_config(odd)
    (repo,) = yaml.safe_load(text)["repos"]
    assert (repo["repo"], repo["rev"]) == ("https://example.com/{rev}: x", SHA)
    action = yaml.safe_load(scaffold.files(odd)[Path(".github/actions/registry-ops/action.yml")])
    assert action["inputs"]["package"]["default"] == odd.requirement


@pytest.mark.parametrize("kind", ["index", "wheel"])
def test_without_a_repository_the_hook_runs_the_registry_ops_on_path(kind: str) -> None:
    (shipped,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    text = scaffold.files(SOURCES[kind])[Path(".pre-commit-config.yaml")]
    (repo,) = yaml.safe_load(text)["repos"]
    (hook,) = repo["hooks"]
    assert repo["repo"] == "local" and "rev" not in repo
    assert hook["language"] == "system"
    for key in ("id", "name", "entry", "files", "pass_filenames"):
        assert hook[key] == shipped[key], key
    assert "installed on PATH" in text and "registry-ops init --source" in text


def test_next_steps_say_what_was_pinned_and_from_where() -> None:
    vcs_steps = scaffold.next_steps(Path("team"), SOURCES["vcs"])
    assert f"https://github.com/acme/registry-ops at {SHA[:12]} (v0.1.0)" in vcs_steps
    assert "pip installed registry-ops from git" in vcs_steps
    index_steps = scaffold.next_steps(Path("team"), SOURCES["index"])
    assert f"registry-ops{EXTRA}==0.1.0" in index_steps and "on PATH" in index_steps
    assert "--source GIT_URL --ref REF" in index_steps
    for steps in (vcs_steps, index_steps):
        assert "Pin the registry-ops" not in steps  # nothing left to pin by hand


# --- the pin is real -----------------------------------------------------------------------


def test_the_pinned_requirement_builds_registry_ops(tmp_path: Path) -> None:
    """pip fetches the pinned commit of a clone of this repository and builds its wheel."""
    if subprocess.run(["git", "-C", str(REPO), "rev-parse", "-q", "--verify", "HEAD"],
                      capture_output=True, check=False).returncode != 0:  # fmt: skip
        pytest.skip("this repository has no commit to clone")
    clone = tmp_path / "registry-ops"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=60)
    git(clone, "remote", "remove", "origin")  # the clone itself is the source
    pin = from_record(local(clone), VERSION)
    assert pin.commit == git(clone, "rev-parse", "HEAD") and pin.url == clone.resolve().as_uri()
    requirement = pin.requirement.replace(EXTRA, "", 1)
    assert requirement == f"registry-ops @ git+{pin.url}@{pin.commit}"
    out = tmp_path / "out"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "--disable-pip-version-check", "-w", str(out), requirement],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    (wheel,) = out.glob("registry_ops-*.whl")
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    # every template init writes from travels in the wheel
    templates = clone / "registry_ops/gitops/templates"
    shipped = {p.relative_to(clone).as_posix() for p in templates.rglob("*") if p.is_file()}
    assert "registry_ops/gitops/templates/repo/dot-pre-commit-config.yaml" in shipped
    assert shipped <= set(names)


# --- the command ---------------------------------------------------------------------------


def test_init_with_source_and_ref_pins_them(cli: Callable[..., Result], tmp_path: Path) -> None:
    root = tmp_path / "team"
    url = "https://github.com/acme/registry-ops"
    result = cli("init", str(root), "--source", url, "--ref", "v0.2.0")
    assert result.code == 0, result.err
    (repo,) = yaml.safe_load((root / ".pre-commit-config.yaml").read_text())["repos"]
    assert (repo["repo"], repo["rev"]) == (url, "v0.2.0")
    action = yaml.safe_load((root / ".github/actions/registry-ops/action.yml").read_text())
    assert action["inputs"]["package"]["default"] == f"registry-ops{EXTRA} @ git+{url}@v0.2.0"
    assert f"Pinned registry-ops to {url} at v0.2.0" in result.err


@pytest.mark.parametrize(
    "args",
    [
        ["--source", "https://github.com/acme/registry-ops"],
        ["--source", "https://github.com/acme/registry-ops", "--ref", "v1 2"],
        ["--source", "svn://example.com/registry-ops", "--ref", "v1"],
    ],
)
def test_init_refuses_a_bad_source_as_a_usage_error(
    cli: Callable[..., Result], tmp_path: Path, args: list[str]
) -> None:
    root = tmp_path / "team"
    result = cli("init", str(root), *args)
    assert result.code == 64, result.err
    assert not root.exists()


def test_plain_init_works_whatever_the_install(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("init", str(tmp_path / "here")).code == 0  # this install, whatever it is
    monkeypatch.setattr(source, "read_record", lambda: None)  # as from a package index
    result = cli("init", str(tmp_path / "team"))
    assert result.code == 0, result.err
    (repo,) = yaml.safe_load((tmp_path / "team/.pre-commit-config.yaml").read_text())["repos"]
    assert repo["repo"] == "local"
    assert f"registry-ops{EXTRA}==" in result.err
