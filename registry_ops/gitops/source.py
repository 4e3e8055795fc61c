"""Where the registry-ops that runs came from, and so what a team repository pins.

``registry-ops init`` writes a composite action that installs registry-ops and
a pre-commit hook that runs it. Both name the registry-ops that ran ``init``,
read from its install record: PEP 610's ``direct_url.json``, which pip writes
into the installed distribution's metadata.

- ``vcs_info`` (``pip install "registry-ops @ git+URL@REF"``): the git URL is
  the record's ``url``, the commit its ``commit_id``; ``requested_revision``
  (the tag or branch asked for) only names it for people.
- ``dir_info`` (``pip install [-e] DIR``): when DIR is the top of a git
  checkout with a commit, its ``origin`` remote (else DIR itself, as a
  ``file://`` URL) at its HEAD commit.
- ``archive_info``, or no record (a package index, a wheel file): no git
  repository is known, only the version.

``init --source URL --ref REF`` names a repository instead (a fork, a mirror);
``--ref REF`` alone pins the detected repository at REF.

No URL keeps its user info: a token in a clone URL must never reach a
scaffold. The one exception is an ssh URL's user name (``ssh://git@host/...``),
no secret (PEP 610 allows it in the record) and needed by ssh.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit
from urllib.request import url2pathname

from registry_ops import __version__
from registry_ops.core.redact import redact
from registry_ops.gitrepo import checkout

DISTRIBUTION = "registry-ops"
#: The extras every install of registry-ops in a workflow gets: ``evaluation`` is what
#: the evaluate gate scores with, ``envs`` brings uv for ``env_manager: uv``.
EXTRAS = ("evaluation", "envs")
#: URL schemes pip (``git+SCHEME://``) and pre-commit (git clone) both fetch from.
SCHEMES = ("https", "http", "ssh", "git", "file")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# A tag, a branch or a commit, as a pip requirement and a YAML comment can carry it.
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]*")
# git's scp-like syntax, [user@]host:path: recognised when no slash precedes the first colon.
_SCP = re.compile(r"(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:]+):(?P<path>.+)")


class BadSource(ValueError):
    """``--source`` or ``--ref`` names no git repository or ref registry-ops can pin."""


@dataclass(frozen=True)
class Source:
    """The registry-ops a team repository pins.

    ``url`` and ``commit`` are the git repository and the commit (or the ref
    ``--ref`` gave) to pin, both None when no git repository is known.
    ``label`` names the commit for people (a tag, the revision pip was asked
    for; the commit itself when nothing names it better, the version when no
    commit is known); ``version`` is the running registry-ops's; ``found``
    says where all this came from. ``package``, when set, is what the action
    installs instead of :attr:`requirement`'s pin (a wheel under test).
    """

    url: str | None
    commit: str | None
    label: str
    version: str
    found: str
    package: str | None = None

    @property
    def pinned(self) -> bool:
        """Whether a git repository and a commit are known."""
        return self.url is not None and self.commit is not None

    @property
    def pin(self) -> str:
        """The pip requirement of this registry-ops: this commit of the repository, else
        this version from the index pip is configured with."""
        name = f"{DISTRIBUTION}[{','.join(EXTRAS)}]"
        if self.url is not None and self.commit is not None:
            return f"{name} @ git+{self.url}@{self.commit}"
        return f"{name}=={self.version}"

    @property
    def requirement(self) -> str:
        """What pip installs in the action: ``package`` when given, else :attr:`pin`."""
        return self.package if self.package is not None else self.pin

    @property
    def short(self) -> str | None:
        """The commit abbreviated as people read it (a ref stays whole)."""
        if self.commit is None:
            return None
        return self.commit[:12] if _SHA.fullmatch(self.commit) else self.commit

    def installing(self, package: str) -> Source:
        """This source, with the action installing ``package`` instead."""
        return replace(self, package=package)


def unpinned(version: str, found: str) -> Source:
    """No git repository known: the version is all there is."""
    return Source(url=None, commit=None, label=version, version=version, found=found)


def clean_url(url: str, base: Path | None = None) -> str:
    """``url`` as a git URL pip and pre-commit both fetch, without credentials.

    ``git+`` is dropped, git's scp-like ``user@host:path`` becomes
    ``ssh://user@host/path``, and a local path (relative to ``base``, else the
    current directory) a ``file://`` URL. Raises :class:`BadSource` for anything
    else that is no plain git URL (another scheme, a query or fragment, an ``@``
    in the path: a ref goes in ``--ref``). Messages never hold a credential.
    """
    text = url.strip().removeprefix("git+")
    shown = redact(text)
    if not text or any(c.isspace() or not c.isprintable() for c in text):
        raise BadSource(f"not a git URL (empty, or holding blanks): {shown!r}")
    if "://" not in text:
        colon, slash = text.find(":"), text.find("/")
        scp = _SCP.fullmatch(text) if colon > 0 and (slash < 0 or colon < slash) else None
        if scp is not None:
            user = f"{scp['user']}@" if scp["user"] else ""
            text = f"ssh://{user}{scp['host']}/{scp['path'].lstrip('/')}"
        else:
            local = (base or Path.cwd()) / text
            if not local.is_dir():
                raise BadSource(f"neither a git URL nor a directory: {shown!r}")
            text = local.resolve().as_uri()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise BadSource(f"not a git URL pip can install from ({', '.join(SCHEMES)}): {shown!r}")
    if parts.query or parts.fragment or "#" in text:
        raise BadSource(f"a git URL with a query or fragment cannot be pinned: {shown!r}")
    userinfo, at, host = parts.netloc.rpartition("@")
    if "@" in parts.path:
        raise BadSource(f"the URL holds '@' in its path (give the ref with --ref): {shown!r}")
    if scheme != "file" and not host:
        raise BadSource(f"the URL names no host: {shown!r}")
    user = userinfo.partition(":")[0]
    keep = f"{user}@" if scheme == "ssh" and at and user else ""
    return urlunsplit((scheme, keep + host, parts.path, "", ""))


def check_ref(ref: str) -> str:
    """``ref`` when it can name a commit in a pip requirement and a YAML file; else
    :class:`BadSource`."""
    ok = _REF.fullmatch(ref) and ".." not in ref and not ref.endswith(("/", ".", ".lock"))
    if not ok:
        raise BadSource(
            f"not a tag, branch or commit registry-ops can pin: {ref!r} "
            "(letters, digits and . _ / + -, starting with a letter or digit)"
        )
    return ref


def _file_path(url: str) -> Path | None:
    """The local directory a ``file://`` URL names; None for any other URL."""
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    return Path(url2pathname(unquote(parts.path)))


def from_record(record: Mapping[str, Any] | None, version: str) -> Source:
    """The source a PEP 610 record (``direct_url.json``, parsed) names; never raises:
    whatever it cannot pin leaves only the version known."""
    if not isinstance(record, Mapping) or not isinstance(record.get("url"), str):
        return unpinned(version, "no install record names where registry-ops came from")
    url: str = record["url"]
    vcs, local = record.get("vcs_info"), record.get("dir_info")
    if isinstance(vcs, Mapping):
        return _from_vcs(url, vcs, record.get("subdirectory"), version)
    if isinstance(local, Mapping):
        return _from_directory(url, version)
    return unpinned(version, "registry-ops was installed from a package index or an archive")


def _from_vcs(url: str, vcs: Mapping[str, Any], subdirectory: Any, version: str) -> Source:
    commit, requested = vcs.get("commit_id"), vcs.get("requested_revision")
    if vcs.get("vcs") != "git":
        return unpinned(version, f"registry-ops was installed from {vcs.get('vcs')!r}, not git")
    if not isinstance(commit, str) or not _SHA.fullmatch(commit):
        return unpinned(version, "the install record names no git commit")
    if subdirectory:
        return unpinned(version, "registry-ops was installed from a subdirectory of a repository")
    try:
        clean = clean_url(url)
    except BadSource as exc:
        return unpinned(version, f"the install record's URL cannot be pinned: {exc}")
    asked = isinstance(requested, str) and bool(_REF.fullmatch(requested))
    label = str(requested) if asked else commit
    found = "pip installed registry-ops from git" + (f" (asking for {requested})" if asked else "")
    return Source(url=clean, commit=commit, label=label, version=version, found=found)


def _from_directory(url: str, version: str) -> Source:
    path = _file_path(url)
    work = checkout(path) if path is not None and path.is_dir() else None
    if path is None or work is None:
        where = str(path) if path is not None else "a directory"
        return unpinned(version, f"registry-ops was installed from {where}, no git checkout")
    found = f"registry-ops was installed from the checkout {work.top}"
    clean = None
    if work.origin is not None:
        try:
            clean = clean_url(work.origin, base=work.top)
            found += ", at its origin remote" + (
                ""
                if work.pushed
                else " (no branch of origin fetched here has the commit: push it before "
                "the workflows run, or pin one that is with --ref)"
            )
        except BadSource:
            clean = None
    if clean is None:
        clean = work.top.as_uri()
        found += " (no origin remote it can name: the directory itself)"
    if work.dirty:
        found += "; its uncommitted changes are not in the pin"
    # An abbreviated SHA (no tag to describe it by) says nothing the commit does not.
    label = work.commit if work.commit.startswith(work.label) else work.label
    return Source(url=clean, commit=work.commit, label=label, version=version, found=found)


def read_record() -> dict[str, Any] | None:
    """The installed registry-ops's ``direct_url.json``, parsed; None without one (not
    installed by a PEP 610 installer, or not installed at all) or when unreadable."""
    try:
        text = distribution(DISTRIBUTION).read_text("direct_url.json")
    except PackageNotFoundError:
        return None
    if not text:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def detect(version: str = __version__) -> Source:
    """The source of the running registry-ops, from its install record."""
    return from_record(read_record(), version)


def given(url: str, ref: str, version: str = __version__) -> Source:
    """The repository ``url`` at ``ref`` (``--source`` and ``--ref``)."""
    ref = check_ref(ref)
    return Source(
        url=clean_url(url),
        commit=ref,
        label=ref,
        version=version,
        found="named with --source and --ref",
    )


def choose(url: str | None, ref: str | None) -> Source:
    """What ``init`` pins: ``--source`` with ``--ref``, the detected repository at
    ``--ref``, or what detection finds. Raises :class:`BadSource` for ``--source``
    without ``--ref``, and for ``--ref`` alone when no repository is known."""
    if url is not None:
        if ref is None:
            raise BadSource("--source needs --ref: the commit or tag of that repository to pin")
        return given(url, ref)
    detected = detect()
    if ref is None:
        return detected
    if detected.url is None:
        raise BadSource(
            f"--ref needs --source here: no git repository of registry-ops is known "
            f"({detected.found}); name one with --source GIT_URL"
        )
    ref = check_ref(ref)
    found = f"{detected.found}; pinned at --ref {ref}"
    return replace(detected, commit=ref, label=ref, found=found)
