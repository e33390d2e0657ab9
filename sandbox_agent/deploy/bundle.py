"""The portable artifact: one shiv zipapp with the daemon and its dependencies.

shiv was chosen by measurement (docs/decisions.md): 11 MB, built in ~10 s, first start ~0.4 s and ~0.1 s after
(it unpacks once into SHIV_ROOT), runs on any CPython 3.11 on x86_64 glibc Linux — Debian/Ubuntu images'
stock python3 — including inside bubblewrap with only /usr bound.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


class BundleError(RuntimeError):
    pass


def build_bundle(out: Path) -> Path:
    if not (PROJECT / "pyproject.toml").is_file():
        raise BundleError("bundling needs a source checkout of sandbox-agent (pyproject.toml next to the package)")
    shiv = shutil.which("shiv") or str(Path(sys.executable).with_name("shiv"))
    if not Path(shiv).exists():
        raise BundleError("shiv is not installed: pip install 'sandbox-agent[bundle]'")
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [shiv, "-q", "-c", "sandbox-agent", "-o", str(out), "-p", "/usr/bin/env python3", str(PROJECT)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 or not out.is_file():
        raise BundleError(f"shiv failed: {(done.stderr or done.stdout).strip()[-2000:]}")
    return out
