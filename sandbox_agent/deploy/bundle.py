"""The portable artifacts: a multi-interpreter zipapp and a self-contained executable (docs/decisions.md).

- `zipapp`: one pex holding the daemon and its dependencies with the compiled wheels for CPython 3.11, 3.12 and
  3.13 (manylinux2014, x86_64): it runs with the sandbox's own `python3` of any of those versions, glibc >= 2.17.
- `standalone`: a PyInstaller onefile executable carrying its own CPython 3.11: no Python needed, but it needs
  glibc >= the build machine's libpython floor (2.35 here) and unpacks itself to /tmp on every start.

Both are built from a source checkout. `cached_bundle` keys a build by everything that goes into it (the source
files, the packager versions, the build interpreter) so tests and recipes rebuild only when something changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Literal

# the checkout to build from; SANDBOX_AGENT_BUNDLE_SOURCE points the builds at another one (e.g. a clean export)
PROJECT = Path(os.environ.get("SANDBOX_AGENT_BUNDLE_SOURCE") or Path(__file__).resolve().parents[2])
Kind = Literal["zipapp", "standalone"]
KINDS: tuple[Kind, ...] = ("zipapp", "standalone")
FILE_NAMES: dict[Kind, str] = {"zipapp": "sandbox-agent.pex", "standalone": "sandbox-agent-linux-x86_64"}
ZIPAPP_PYTHONS = ("3.11", "3.12", "3.13")
EXTRA = "pip install 'sandbox-agent-py[bundle]'"


class BundleError(RuntimeError):
    pass


def _tool(name: str) -> str:
    found = Path(sys.executable).with_name(name)
    if found.exists():
        return str(found)
    path = shutil.which(name)
    if path is None:
        raise BundleError(f"{name} is not installed: {EXTRA}")
    return path


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if done.returncode != 0:
        raise BundleError(f"{what} failed: {(done.stderr or done.stdout).strip()[-2000:]}")


def _check_source(source: Path) -> None:
    if not (source / "pyproject.toml").is_file() or not (source / "sandbox_agent").is_dir():
        raise BundleError(f"bundling needs a source checkout of sandbox-agent (pyproject.toml in {source})")


def _project_wheel(source: Path, work: Path) -> Path:
    """The project itself as a wheel (pure Python), the one input both packagers share."""
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work), str(source)], "building the wheel")
    wheels = sorted(work.glob("sandbox_agent_py-*.whl"))
    if not wheels:
        raise BundleError(f"no wheel was built from {source}")
    return wheels[-1]


def build_zipapp(out: Path, source: Path = PROJECT) -> Path:
    """A pex with the compiled wheels of every supported CPython, started as `python3 sandbox-agent.pex ...`."""
    _check_source(source)
    pex = _tool("pex")
    with tempfile.TemporaryDirectory(prefix="sa-zipapp-") as tmp:
        wheel = _project_wheel(source, Path(tmp))
        tags = [v.replace(".", "") for v in ZIPAPP_PYTHONS]
        platforms = [f"--platform=manylinux2014_x86_64-cp-{t}-cp{t}" for t in tags]
        partial = out.with_name(out.name + ".partial")
        out.parent.mkdir(parents=True, exist_ok=True)
        # pex's default vendored pip cannot resolve several platforms at once (AssertionError); 25.3 can.
        cmd = [pex, str(wheel), "-c", "sandbox-agent", "-o", str(partial), "--pip-version", "25.3"]
        cmd += ["--python-shebang", "/usr/bin/env python3", "--include-tools", *platforms]
        _run(cmd, "pex")
        partial.replace(out)
    return out


def build_standalone(out: Path, source: Path = PROJECT) -> Path:
    """A PyInstaller onefile built in a clean venv (only the runtime dependencies, none of the dev ones)."""
    _check_source(source)
    if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        raise BundleError(f"the standalone build needs a Python built with --enable-shared; {sys.executable} is not")
    base = getattr(sys, "_base_executable", sys.executable)
    with tempfile.TemporaryDirectory(prefix="sa-standalone-") as tmp:
        work = Path(tmp)
        wheel = _project_wheel(source, work)
        venv = work / "venv"
        _run([base, "-m", "venv", str(venv)], "creating the build venv")
        python = str(venv / "bin" / "python")
        pyinstaller = f"pyinstaller=={_version('pyinstaller')}"
        _run([python, "-m", "pip", "install", "-q", "--no-compile", str(wheel), pyinstaller], "pip install")
        where = subprocess.run(
            [python, "-c", "import sandbox_agent, os; print(os.path.dirname(sandbox_agent.__file__))"],
            capture_output=True,
            text=True,
        )
        package = Path(where.stdout.strip())
        cmd = [str(venv / "bin" / "pyinstaller"), "--onefile", "--noconfirm", "--strip", "--log-level", "WARN"]
        cmd += ["--name", out.name, "--distpath", str(work / "dist"), "--workpath", str(work / "build")]
        cmd += ["--specpath", str(work), "--collect-submodules", "sandbox_agent"]
        # the package's files as files too: children such as the mock agent run as `<executable> -I script.py`
        cmd += ["--add-data", f"{package}{os.pathsep}sandbox_agent"]
        # uvicorn picks its loop/protocol modules by name at run time; PyInstaller cannot see those imports
        cmd += ["--collect-submodules", "uvicorn", str(package / "deploy" / "frozen_main.py")]
        _run(cmd, "PyInstaller", cwd=work)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")
        shutil.copy2(work / "dist" / out.name, partial)
        partial.replace(out)
    return out


def build_bundle(out: Path, kind: Kind = "zipapp", source: Path = PROJECT) -> Path:
    if kind == "zipapp":
        return build_zipapp(out, source)
    if kind == "standalone":
        return build_standalone(out, source)
    raise BundleError(f"unknown artifact kind {kind!r}; choose one of {', '.join(KINDS)}")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        raise BundleError(f"{dist} is not installed: {EXTRA}") from None


def inputs_digest(kind: Kind, source: Path = PROJECT) -> str:
    """A key for everything a build of `kind` depends on: source files, packager and interpreter versions."""
    h = hashlib.sha256()
    packager = "pex" if kind == "zipapp" else "pyinstaller"
    h.update(f"{kind} {packager}=={_version(packager)} {sys.version} {sys.platform}\n".encode())
    files = [source / "pyproject.toml", source / "README.md"]
    files += sorted(p for p in (source / "sandbox_agent").rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in files:
        if path.is_file():
            h.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def cache_root() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "sandbox-agent" / "artifacts"


def cached_bundle(kind: Kind, source: Path = PROJECT, root: Path | None = None) -> Path:
    """The artifact of `kind` for this exact source, built once and kept under $XDG_DATA_HOME."""
    root = root or cache_root()
    folder = root / f"{kind}-{inputs_digest(kind, source)}"
    out = folder / FILE_NAMES[kind]
    if not out.is_file():
        build_bundle(out, kind, source)
    os.utime(folder)  # in use: the pruning below leaves recently used builds alone (another run may hold one)
    _prune(root, kind)
    return out


def _prune(root: Path, kind: Kind, keep: int = 3, idle: float = 6 * 3600) -> None:
    """Old builds (20-30 MB each) of sources that are not coming back: beyond the newest `keep`, if idle."""

    def mtime(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:  # removed meanwhile by another run
            return 0.0

    builds = sorted(root.glob(f"{kind}-*"), key=mtime, reverse=True)
    for stale in builds[keep:]:
        if 0 < mtime(stale) < time.time() - idle:
            shutil.rmtree(stale, ignore_errors=True)


HOW_TO_RUN: dict[Kind, str] = {
    "zipapp": "python3 {name} server ...   (python3 3.11, 3.12 or 3.13; x86_64 glibc >= 2.17)",
    "standalone": "./{name} server ...   (no Python needed; x86_64 glibc >= 2.35)",
}


def build_kinds(kind: str, out_dir: Path, source: Path = PROJECT) -> list[tuple[Path, str]]:
    """`sandbox-agent bundle`: `auto` builds both kinds (recipes then upload the one that fits each sandbox)."""
    kinds: tuple[Kind, ...] = KINDS if kind == "auto" else (kind,)  # type: ignore[assignment]
    if any(k not in KINDS for k in kinds):
        raise BundleError(f"unknown artifact kind {kind!r}; choose auto, zipapp or standalone")
    built = []
    for k in kinds:
        out = build_bundle(out_dir / FILE_NAMES[k], k, source)
        built.append((out, HOW_TO_RUN[k].format(name=out.name)))
    return built
