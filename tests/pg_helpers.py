"""A throwaway PostgreSQL cluster for the store tests, made by scripts/postgres (installs Debian's when missing).

One cluster per test process (started on first use, stopped at exit); each test gets its own database.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    def __init__(self) -> None:
        # not under pytest's tmp dir: that is private to root, and the cluster runs as the postgres user
        self.dir = Path(tempfile.mkdtemp(prefix="sandbox-agent-pg-"))
        self.port = free_port()
        self.url = ""
        self.running = False

    def _script(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"scripts/postgres {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout.strip()

    def start(self) -> str:
        self.url = self._script("start", str(self.dir / "cluster"), str(self.port))
        self.running = True
        return self.url

    def stop(self) -> None:
        if self.running:
            self._script("stop", str(self.dir / "cluster"), timeout=120)
            self.running = False

    def kill(self) -> None:
        self._script("kill", str(self.dir / "cluster"))
        self.running = False
        time.sleep(0.2)

    def url_for(self, database: str) -> str:
        return self.url.rsplit("/", 1)[0] + "/" + database

    def new_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def cleanup(self) -> None:
        try:
            self.stop()
        except Exception:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


_cluster: PgCluster | None = None


def cluster() -> PgCluster:
    """The process's cluster, started on first use (skips the test when PostgreSQL cannot be had at all)."""
    global _cluster
    if _cluster is None:
        c = PgCluster()
        try:
            c.start()
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            c.cleanup()
            if os.environ.get("CI"):
                raise
            pytest.skip(f"no PostgreSQL: {exc}")
        atexit.register(c.cleanup)
        _cluster = c
    elif not _cluster.running:
        _cluster.start()  # a test that stopped it for an outage and failed before starting it again
    return _cluster


@pytest.fixture
def pg() -> PgCluster:
    return cluster()


@pytest.fixture
def store_url(pg: PgCluster) -> Iterator[str]:
    """A fresh, empty database of the shared cluster."""
    yield pg.new_database()
