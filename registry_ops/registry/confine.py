"""Confine this process, then exec the model's interpreter: the first program of every model child.

Run as a script by a trusted interpreter (``python -S -I confine.py SPEC -- PROGRAM ARGS...``)
before any model code exists in the process, so nothing the model brings (not even a
``.pth`` file of a package in its own environment) runs unconfined. Standard library only:
it is copied next to the scoring child and must not import registry-ops.

``SPEC`` is a JSON file:

* ``memory_bytes``: ``RLIMIT_AS`` of the child (address space; null: no limit);
* ``landlock``: ``{"read": [...], "write": [...], "deny_tcp": bool}``: paths the child may
  read (and execute) and read-write; every other path is refused, and with ``deny_tcp``
  every TCP connect and bind (Landlock, Linux 5.13+; best effort, skipped where the kernel
  lacks it). Signals to, and abstract sockets of, processes outside the sandbox are
  refused too (Landlock ABI 6+).

Always: ``PR_SET_NO_NEW_PRIVS`` (no setuid program, sudo included, gains anything), and,
when running as root, every capability dropped (bounding, ambient, effective, permitted),
so a root child cannot read a non-dumpable parent's ``/proc/<pid>/environ``.

A confinement the kernel offers but refuses to apply ends the child (exit 3, saying
which): a model never runs with less than the parent asked for. The parent knows what the
kernel offers (:func:`landlock_abi`), so the child reports nothing back.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import sys

_PR_SET_NO_NEW_PRIVS = 38
_PR_CAPBSET_DROP = 24
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAPABILITY_VERSION_3 = 0x20080522

# Landlock syscalls share one number on every Linux architecture (the generic table).
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
# Filesystem rights by the ABI that introduced them.
_FS_ABI1 = (1 << 13) - 1  # execute .. make_sym
_FS_REFER, _FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1, 2, 4, 8
_FS_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1, 2


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def no_new_privs(libc: ctypes.CDLL) -> bool:
    """Forbid gaining privileges through exec (setuid binaries, file capabilities)."""
    return bool(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)


def drop_capabilities(libc: ctypes.CDLL) -> bool:
    """Drop every capability of a root process for good (it stays uid 0, without powers)."""
    if os.geteuid() != 0:
        return True
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as handle:
            last = int(handle.read().strip())
    except (OSError, ValueError):
        last = 40
    for cap in range(last + 1):
        libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    return bool(libc.capset(ctypes.byref(header), data) == 0)


def landlock_abi(libc: ctypes.CDLL) -> int:
    """The kernel's Landlock ABI version; 0 when it has none (or it is disabled)."""
    version = libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    return max(int(version), 0)


def _fs_rights(abi: int) -> int:
    rights = _FS_ABI1
    if abi >= 2:
        rights |= _FS_REFER
    if abi >= 3:
        rights |= _FS_TRUNCATE
    if abi >= 5:
        rights |= _FS_IOCTL_DEV
    return rights


class Refused(Exception):
    """The kernel offers a confinement and refused to apply it."""


def landlock(libc: ctypes.CDLL, read: list[str], write: list[str], deny_tcp: bool) -> int:
    """Restrict this process (and what it execs) to ``read`` and ``write``; the ABI, or 0.

    Raises:
        Refused: the kernel has Landlock and refused the ruleset.
    """
    abi = landlock_abi(libc)
    if abi < 1:
        return 0
    handled = _fs_rights(abi)
    attr = _RulesetAttr(handled, 0, 0)
    if deny_tcp and abi >= 4:
        attr.handled_access_net = _NET_BIND_TCP | _NET_CONNECT_TCP  # and no rule allows any
    if abi >= 6:
        attr.scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL
    ruleset = libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.sizeof(attr), 0)
    if ruleset < 0:
        raise Refused(f"landlock_create_ruleset: {os.strerror(ctypes.get_errno())}")
    try:
        reading = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
        for paths, rights in ((read, reading), (write, handled)):
            for path in paths:
                _allow(libc, ruleset, path, rights & handled)
        if libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0) != 0:
            raise Refused(f"landlock_restrict_self: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(ruleset)
    return abi


def _allow(libc: ctypes.CDLL, ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a path this machine does not have: nothing to allow
    try:
        if not os.path.isdir(path):
            rights &= _FS_FILE_RIGHTS
        rule = _PathBeneath(rights, fd)
        if libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0):
            raise Refused(f"landlock_add_rule {path}: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(fd)


def confine(spec: dict[str, object]) -> None:
    """Apply ``spec`` to this process.

    Raises:
        Refused: a confinement the kernel offers could not be applied.
    """
    memory = spec.get("memory_bytes")
    if isinstance(memory, int) and memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    # A crashing model would leave a core file, with whatever it had read, in its directory.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    libc = _libc()
    if not no_new_privs(libc):
        raise Refused(f"PR_SET_NO_NEW_PRIVS: {os.strerror(ctypes.get_errno())}")
    if not drop_capabilities(libc):
        raise Refused(f"dropping capabilities: {os.strerror(ctypes.get_errno())}")
    rules = spec.get("landlock")
    if isinstance(rules, dict):
        landlock(
            libc,
            [str(p) for p in rules.get("read", [])],
            [str(p) for p in rules.get("write", [])],
            bool(rules.get("deny_tcp")),
        )


def main(argv: list[str]) -> int:
    """``confine.py SPEC -- PROGRAM ARGS...``: confine, then become PROGRAM."""
    if len(argv) < 4 or argv[2] != "--":
        sys.stderr.write("usage: confine.py SPEC -- PROGRAM [ARGS...]\n")
        return 2
    with open(argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    try:
        confine(spec)
    except Refused as exc:
        sys.stderr.write(f"registry-ops: cannot confine the model process: {exc}\n")
        return 3
    program = argv[3:]
    os.execv(program[0], program)
    return 127  # not reached: execv replaces this process or raises


if __name__ == "__main__":
    sys.exit(main(sys.argv))
