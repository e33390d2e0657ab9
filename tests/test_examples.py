"""The shipped example runs as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_example_runs() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "permission.requested" in out.stdout
    assert "Permission granted (once); wrote report.md." in out.stdout
    assert out.stdout.strip().endswith("I searched for what changed? and found 3 results.")
