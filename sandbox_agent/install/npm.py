"""Running `npm install` into a private prefix and turning its failures into error kinds a user can act on."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path

from ..rpc.errors import AppError
from ..schema.errors import ErrorKind

NETWORK_CODES = ("ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH")


def find_npm() -> tuple[str, str]:
    npm, node = shutil.which("npm"), shutil.which("node")
    if not npm or not node:
        missing = " and ".join(n for n, p in (("node", node), ("npm", npm)) if not p)
        raise AppError(
            ErrorKind.NODE_NOT_FOUND,
            f"{missing} not found on PATH: install Node.js 20+ with npm (e.g. `apt-get install nodejs npm`, or "
            "https://nodejs.org), then retry",
        )
    return npm, node


def classify(package: str, version: str, output: str) -> AppError:
    """Map npm's error output to one error kind with the npm lines that explain it."""
    lines = [ln for ln in output.splitlines() if ln.startswith("npm error") or ln.startswith("npm ERR!")]
    detail = "\n".join(lines[:8]) or output.strip()[-2000:]
    code = re.search(r"(?:npm error|npm ERR!) code (\w+)", output)
    code_s = code.group(1) if code else ""
    if code_s == "ENOSPC" or "ENOSPC" in output or "no space left on device" in output.lower():
        return AppError(
            ErrorKind.DISK_FULL,
            f"no space left while installing {package}@{version}; free some disk and retry",
            npm=detail,
        )
    if code_s in ("ETARGET", "E404") or "No matching version" in output:
        return AppError(
            ErrorKind.UNKNOWN_VERSION,
            f"{package}@{version} does not exist on the npm registry",
            npm=detail,
            version=version,
        )
    if code_s in NETWORK_CODES or any(c in output for c in NETWORK_CODES) or "FetchError" in output:
        return AppError(
            ErrorKind.REGISTRY_UNREACHABLE,
            f"cannot reach the npm registry to install {package}@{version}: "
            "check the network or npm's registry/proxy settings",
            npm=detail,
        )
    return AppError(ErrorKind.INSTALL_FAILED, f"npm could not install {package}@{version}", npm=detail)


async def npm_install(
    package: str, version: str, prefix: Path, env: dict[str, str] | None = None, extra: tuple[str, ...] = ()
) -> str:
    """Install package@version into prefix; returns npm's output or raises a classified AppError."""
    npm, _ = find_npm()
    prefix.mkdir(parents=True, exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        npm,
        "install",
        "--prefix",
        str(prefix),
        "--no-audit",
        "--no-fund",
        "--no-save",
        "--include=optional",
        "--loglevel=error",
        # fail within seconds when the registry is unreachable instead of retrying for minutes
        "--fetch-retries=1",
        "--fetch-retry-mintimeout=2000",
        "--fetch-retry-maxtimeout=10000",
        f"{package}@{version}",
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    out, _ = await proc.communicate()
    text = out.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise classify(package, version, text)
    return text
