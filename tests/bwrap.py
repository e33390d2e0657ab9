"""The bubblewrap box the deploy tests run things in: only /usr (read-only) and one folder, network shared."""

from __future__ import annotations

from pathlib import Path


def bwrap_argv(
    folder: Path, mount: str, env: dict[str, str], command: list[str], private_tmp: bool = True
) -> list[str]:
    """`command` run with `folder` bound at `mount` (also its cwd and HOME), a clear environment plus `env`."""
    argv = [
        "bwrap",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ]
    if private_tmp:
        argv += ["--tmpfs", "/tmp"]
    argv += [
        "--bind",
        str(folder),
        mount,
        "--chdir",
        mount,
        "--unshare-all",
        "--share-net",
        "--die-with-parent",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "HOME",
        mount,
    ]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    return [*argv, *command]
