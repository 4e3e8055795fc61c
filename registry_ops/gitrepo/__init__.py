"""Every git call registry-ops makes; the only package that imports git.

- :mod:`~registry_ops.gitrepo.repo`: opening the repository (gitpython, lazily);
- :mod:`~registry_ops.gitrepo.facts`: the commit a plan runs from, what differs
  from it, who wrote a line, what HEAD holds;
- :mod:`~registry_ops.gitrepo.head`: the files HEAD commits, and whether a commit
  is in HEAD's history (what a saved plan is checked against at apply);
- :mod:`~registry_ops.gitrepo.revisions` and :mod:`~registry_ops.gitrepo.filelog`:
  files as past commits left them (``history``);
- :mod:`~registry_ops.gitrepo.branches`: a proposal's commit on a new branch;
- :mod:`~registry_ops.gitrepo.checkout`: the checkout a package was installed from
  (``init`` pins a team repository to it).

Nothing here imports gitpython at import time (``validate`` and ``--help`` stay
fast); callers use the names below.
"""

from registry_ops.gitrepo.branches import FALLBACK_IDENTITY, commit_on_new_branch, find_branch
from registry_ops.gitrepo.checkout import Checkout, checkout
from registry_ops.gitrepo.facts import (
    DESIRED_STATE_DIRS,
    UNKNOWN_AUTHOR,
    GitInfo,
    changed_since,
    describe,
    head_file,
    line_author,
    repo_relative,
    unchanged_since,
)
from registry_ops.gitrepo.filelog import FileRevision
from registry_ops.gitrepo.head import HeadFiles, contains, head_files
from registry_ops.gitrepo.revisions import file_history, grep_head, last_paths_with, show_file

__all__ = [
    "DESIRED_STATE_DIRS",
    "Checkout",
    "FALLBACK_IDENTITY",
    "FileRevision",
    "GitInfo",
    "UNKNOWN_AUTHOR",
    "HeadFiles",
    "changed_since",
    "checkout",
    "commit_on_new_branch",
    "contains",
    "describe",
    "file_history",
    "find_branch",
    "grep_head",
    "head_file",
    "head_files",
    "last_paths_with",
    "line_author",
    "repo_relative",
    "show_file",
    "unchanged_since",
]
