"""Which interpreter a model child runs in: this one, or one made from the model's requirements.

``env_manager`` of a gate:

* ``local`` (the default, unless ``REGISTRY_OPS_ENV_MANAGER`` names another): the
  planning interpreter, with whatever it has installed;
* ``virtualenv``: a ``python -m venv`` environment with the requirements MLflow logged
  with the model (``python_env.yaml``: its build dependencies, then ``requirements.txt``),
  installed by pip;
* ``uv``: the same made by ``uv venv`` and ``uv pip install`` (the uv of the ``envs``
  extra, else one next to this interpreter or on PATH); uv can also fetch the Python
  version the model was logged with.

An environment is created once and cached under ``REGISTRY_OPS_ENV_CACHE`` (default
``~/.cache/registry-ops/envs``), keyed by the hash of what it installs, so every version
logged with the same requirements shares it. Creation is locked (two plans at once make it
once) and atomic (a half-made environment is never used).

Installing is not running the model, but a source distribution's build script is code: so
only wheels are installed (``--only-binary :all:``), pip options in a requirements file
(``-r``, ``--index-url``, ``-e`` ...) are refused, and the installer gets the child's
environment plus the index settings (``PIP_*``, ``UV_*``, proxies, CA bundles), never
registry-ops' key or MLflow's credentials.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import yaml

from registry_ops.core.redact import redact
from registry_ops.registry.sandbox import ModelRunError, child_environment, tail

__all__ = [
    "MANAGERS",
    "ModelEnv",
    "cache_root",
    "default_manager",
    "interpreter_for",
    "requirements_of",
]

MANAGERS = ("local", "virtualenv", "uv")
#: The manager of a gate that names none: where registry-ops runs decides whether its own
#: interpreter has the models' stack (a laptop) or not (a CI runner), not the policy.
DEFAULT_VARIABLE = "REGISTRY_OPS_ENV_MANAGER"
_INSTALL_TIMEOUT = 1800.0
_INDEX_SETTINGS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


@dataclass(frozen=True)
class ModelEnv:
    """The interpreter chosen for a model, and what choosing it cost."""

    interpreter: str
    manager: str
    created: bool = False  # made by this call (else cached, or local)
    seconds: float = 0.0
    key: str | None = None


def cache_root() -> Path:
    """Where environments live: ``REGISTRY_OPS_ENV_CACHE``, else the user's cache directory."""
    given = os.environ.get("REGISTRY_OPS_ENV_CACHE")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "registry-ops" / "envs"


def _lines(path: Path, what: str) -> list[str]:
    """Requirement lines of a requirements file; pip options refused (they reach elsewhere)."""
    out = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-") or "://" in line or line.startswith((".", "/")):
            raise ModelRunError(
                f"{what} line {number} is {line[:60]!r}: registry-ops installs named "
                "requirements only (no pip options, URLs or paths)"
            )
        out.append(line)
    return out


def requirements_of(model: Path) -> tuple[str | None, list[str], list[str]]:
    """``(python version, build dependencies, requirements)`` MLflow logged with the model.

    Raises:
        ModelRunError: the model has no requirements.txt, or a line registry-ops refuses.
    """
    python, build = None, []
    env_file = model / "python_env.yaml"
    if env_file.is_file():
        try:
            env = yaml.safe_load(env_file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            env = {}
        if isinstance(env, dict):
            python = str(env["python"]) if env.get("python") else None
            build = [
                str(d) for d in env.get("build_dependencies") or [] if not str(d).startswith("-")
            ]
    reqs = model / "requirements.txt"
    if not reqs.is_file():
        raise ModelRunError(
            "the model was logged without a requirements.txt to build its environment from"
        )
    lines = _lines(reqs, "requirements.txt")
    named = {
        line.split("=")[0].split("<")[0].split(">")[0].split("[")[0].strip().lower()
        for line in lines
    }
    if not named & {"mlflow", "mlflow-skinny"}:
        # The child loads the model through mlflow.pyfunc: the version planning uses.
        lines.append(f"mlflow=={metadata.version('mlflow')}")
    return python, build, lines


def _find_uv() -> str | None:
    """The uv of the ``envs`` extra (its package knows where pip put the binary, wherever
    that is on PATH or not), else one next to this interpreter, else one on PATH."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.is_file() else shutil.which("uv")


def _python_for(version: str | None) -> str:
    """A local interpreter of the model's Python (major.minor) for ``python -m venv``."""
    ours = f"{sys.version_info.major}.{sys.version_info.minor}"
    wanted = ".".join((version or ours).split(".")[:2])
    if wanted == ours:
        return sys.executable
    found = shutil.which(f"python{wanted}")
    if found is None:
        raise ModelRunError(
            f"the model was logged with Python {version}, and no python{wanted} is on PATH "
            "(env_manager: uv can fetch it)"
        )
    return found


def _installer_env(home: Path) -> dict[str, str]:
    env = child_environment(home, home / "tmp")
    env["HOME"] = os.environ.get("HOME", str(home))  # pip.conf / uv.toml of the user
    for key, value in os.environ.items():
        if key.startswith(("PIP_", "UV_")) or key.upper() in _INDEX_SETTINGS:
            env[key] = value
    env["PIP_NO_INPUT"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(
            command, env=env, stdin=subprocess.DEVNULL, capture_output=True,
            timeout=_INSTALL_TIMEOUT, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise ModelRunError(f"{what} took longer than {_INSTALL_TIMEOUT:g} s") from None
    except OSError as exc:
        raise ModelRunError(f"{what} could not start: {exc}") from None
    if done.returncode != 0:
        said = tail(done.stderr or done.stdout, Path("/nonexistent"))
        raise ModelRunError(redact(f"{what} failed (exit {done.returncode}): {said}"))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _create(
    manager: str, target: Path, python: str | None, build: list[str], reqs: list[str]
) -> None:
    """Make the environment in ``target`` (a fresh directory name), or raise."""
    env = _installer_env(target.parent)
    (target.parent / "tmp").mkdir(exist_ok=True)
    wheels = ["--only-binary", ":all:"]
    if manager == "uv":
        uv = _find_uv()
        if uv is None:
            raise ModelRunError("env_manager: uv needs uv: pip install 'registry-ops[envs]'")
        env.setdefault("UV_CACHE_DIR", str(target.parent / "uv-cache"))
        version = ["--python", python] if python else []
        _run([uv, "venv", "--quiet", *version, str(target)], env, "uv venv")
        # Compiled now: the child cannot write __pycache__ into the environment (its sandbox
        # allows reads only), and compiling mlflow on every start costs it seconds.
        pip = [uv, "pip", "install", "--quiet", "--compile-bytecode"]
        pip += ["--python", str(target / "bin" / "python")]
    else:
        env.setdefault("PIP_CACHE_DIR", str(target.parent / "pip-cache"))
        _run([_python_for(python), "-m", "venv", str(target)], env, "python -m venv")
        pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    for what, group in (("build dependencies", build), ("requirements", reqs)):
        if group:
            _run([*pip, *wheels, *group], env, f"installing the model's {what}")


def default_manager() -> str:
    """``REGISTRY_OPS_ENV_MANAGER`` when set, else ``local``.

    Raises:
        ModelRunError: the variable names no manager (a typo must not fall back to
            running model code in this interpreter).
    """
    given = os.environ.get(DEFAULT_VARIABLE, "").strip()
    if not given:
        return "local"
    if given not in MANAGERS:
        raise ModelRunError(
            f"{DEFAULT_VARIABLE} must be one of {', '.join(MANAGERS)}, not {given!r}"
        )
    return given


def interpreter_for(model: Path, manager: str) -> ModelEnv:
    """The interpreter to run ``model`` with under ``manager``; created and cached if needed.

    Raises:
        ModelRunError: unknown manager, requirements registry-ops refuses, or the
            environment could not be made (with the installer's last lines).
    """
    if manager == "local":
        return ModelEnv(sys.executable, "local")
    if manager not in MANAGERS:
        raise ModelRunError(f"env_manager must be one of {', '.join(MANAGERS)}, not {manager!r}")
    python, build, reqs = requirements_of(model)
    recipe = {
        "manager": manager,
        "python": python if manager == "uv" else ".".join((python or "").split(".")[:2]),
        "build": build,
        "requirements": reqs,
        "platform": [platform.system(), platform.machine()],
    }
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:20]
    root = cache_root()
    target = root / f"{manager}-{key}"
    interpreter = str(target / "bin" / "python")
    if (target / ".ready").is_file():
        return ModelEnv(interpreter, manager, key=key)
    began = time.perf_counter()
    with _locked(root / f"{manager}-{key}.lock"):
        if (target / ".ready").is_file():  # another plan made it while this one waited
            return ModelEnv(interpreter, manager, key=key, seconds=time.perf_counter() - began)
        partial = root / f"{manager}-{key}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            _create(manager, partial, python, build, reqs)
            (partial / "recipe.json").write_text(json.dumps(recipe, indent=1), encoding="utf-8")
            (partial / ".ready").touch()
            shutil.rmtree(target, ignore_errors=True)
            os.replace(partial, target)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return ModelEnv(interpreter, manager, True, time.perf_counter() - began, key)
