"""Which artifact fits a sandbox: probe it with one shell command, then choose (or say why none fits).

The probe asks what the issue's readers would ask by hand: `uname -m`, `python3 --version`, `ldd --version`
(with `getconf GNU_LIBC_VERSION` where ldd is missing). The choice is a pure function of the answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .bundle import ZIPAPP_PYTHONS, Kind

# Each line is labelled so that a missing tool leaves an empty value instead of shifting the others.
PROBE_COMMAND = (
    'echo "arch: $(uname -m 2>/dev/null)"; '
    'echo "python3: $(python3 --version 2>&1 | head -n 1)"; '
    'echo "ldd: $( (ldd --version 2>&1 || true) | head -n 2 | tr "\\n" " ")"; '
    'echo "getconf: $(getconf GNU_LIBC_VERSION 2>/dev/null)"'
)

STANDALONE_GLIBC = (2, 35)  # libpython in the executable was linked against this glibc (docs/decisions.md)
ZIPAPP_GLIBC = (2, 17)  # manylinux2014 wheels
ARCH = "x86_64"
Prefer = Literal["auto", "zipapp", "standalone"]


class NoArtifactFits(RuntimeError):
    """No artifact can run in this sandbox; the message says why and what would make one fit."""


@dataclass(frozen=True)
class SandboxFacts:
    arch: str
    python: tuple[int, int] | None
    python_text: str
    glibc: tuple[int, int] | None
    libc_text: str

    def describe(self) -> str:
        py = f"python3 {self.python[0]}.{self.python[1]}" if self.python else "no python3"
        libc = f"glibc {self.glibc[0]}.{self.glibc[1]}" if self.glibc else (self.libc_text or "no libc found")
        return f"{self.arch or 'unknown arch'}, {py}, {libc}"


def _version(text: str, pattern: str) -> tuple[int, int] | None:
    m = re.search(pattern, text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def parse_probe(output: str) -> SandboxFacts:
    fields: dict[str, str] = {}
    for line in output.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("arch", "python3", "ldd", "getconf"):
            fields[key.strip()] = value.strip()
    py_text = fields.get("python3", "")
    python = _version(py_text, r"^Python (\d+)\.(\d+)")
    ldd = fields.get("ldd", "")
    glibc = None
    if "musl" not in ldd.lower():
        # "ldd (Debian GLIBC 2.36-9+deb12u10) 2.36": the release is the last version on the first line
        glibc = _version(ldd, r"(?:GLIBC|GNU libc)[^\n]*?\)\s*(\d+)\.(\d+)") or _version(
            fields.get("getconf", ""), r"glibc (\d+)\.(\d+)"
        )
    libc_text = "musl libc" if "musl" in ldd.lower() else ldd
    return SandboxFacts(fields.get("arch", ""), python, py_text, glibc, libc_text)


@dataclass(frozen=True)
class Fit:
    kind: Kind
    reason: str


def _zipapp_fits(facts: SandboxFacts) -> str | None:
    """None when the zipapp runs here, else why not."""
    if facts.python is None:
        return f"the zipapp needs python3 {'/'.join(ZIPAPP_PYTHONS)}; the sandbox has none ({facts.python_text!r})"
    if f"{facts.python[0]}.{facts.python[1]}" not in ZIPAPP_PYTHONS:
        return f"the zipapp needs python3 {'/'.join(ZIPAPP_PYTHONS)}; the sandbox's is {facts.python_text}"
    if facts.glibc is None or facts.glibc < ZIPAPP_GLIBC:
        return f"the zipapp's compiled wheels need glibc >= 2.17; the sandbox has {facts.libc_text or 'none found'}"
    return None


def _standalone_fits(facts: SandboxFacts) -> str | None:
    if facts.glibc is None:
        return f"the standalone executable needs glibc >= 2.35; the sandbox has {facts.libc_text or 'none found'}"
    if facts.glibc < STANDALONE_GLIBC:
        return f"the standalone executable needs glibc >= 2.35; the sandbox has glibc {facts.glibc[0]}.{facts.glibc[1]}"
    return None


def choose(facts: SandboxFacts, prefer: Prefer = "auto", available: tuple[Kind, ...] = ("zipapp", "standalone")) -> Fit:
    """The artifact to upload. `auto` takes the standalone executable where glibc is new enough (measured: its first
    start is 5-8x faster than the zipapp's, later ones about as fast or faster, and it is smaller; docs/decisions.md),
    else the zipapp where python3 is 3.11-3.13; a named kind is taken only if it fits."""
    if facts.arch and facts.arch != ARCH:
        raise NoArtifactFits(f"the artifacts are built for {ARCH}; this sandbox is {facts.arch} ({facts.describe()})")
    order: list[Kind] = ["standalone", "zipapp"] if prefer == "auto" else [prefer]
    why: list[str] = []
    for kind in order:
        if kind not in available:
            why.append(f"no {kind} artifact was given")
            continue
        problem = _zipapp_fits(facts) if kind == "zipapp" else _standalone_fits(facts)
        if problem is None:
            return Fit(kind, f"{kind} for {facts.describe()}")
        why.append(problem)
    raise NoArtifactFits(f"no artifact fits this sandbox ({facts.describe()}): " + "; ".join(why))
