"""A throwaway PostgreSQL cluster for tests: initdb into a temporary folder, pg_ctl on a free loopback port.

initdb refuses to run as root, so as root the cluster belongs to the ``postgres``
user (created by Debian's package). Without PostgreSQL the caller skips, except
on CI (``CI=true``) where that is a failure.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest


@dataclass(frozen=True)
class PgServer:
    """A running throwaway PostgreSQL cluster reachable over TCP on loopback without password."""

    host: str
    port: int
    user: str

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def admin(self):  # type: ignore[no-untyped-def]
        import psycopg

        return psycopg.connect(host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True)


def _pg_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3].split(".")[0])
    )
    return Path(candidates[-1]).parent if candidates else None


def unavailable(reason: str) -> NoReturn:
    """Skip the PostgreSQL variant, or fail it on CI where PostgreSQL must be present."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL tests cannot run on CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL not available: {reason}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_owner(cmd: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *cmd] if owner else cmd


@contextlib.contextmanager
def database(server: PgServer) -> Iterator[str]:
    name = "t_" + uuid.uuid4().hex[:16]
    with server.admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.url(name)
    finally:
        deadline = time.monotonic() + 10
        with server.admin() as conn:
            while True:
                try:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)


@contextlib.contextmanager
def start_server() -> Iterator[PgServer]:
    """Start a cluster for the duration of the block (skips, or fails on CI, when impossible)."""
    bindir = _pg_bindir()
    if bindir is None:
        unavailable("initdb not found on PATH or under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    owner: str | None = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            unavailable("running as root and there is no 'postgres' user to own the cluster")
        if shutil.which("runuser") is None:
            unavailable("running as root and runuser is missing")
        owner = "postgres"
    # Not under pytest's tmp_path: that is private to root, and the cluster's owner must reach it.
    base = Path(tempfile.mkdtemp(prefix="modelsieve-pg-"))
    data, log = base / "data", base / "server.log"
    if owner:
        entry = pwd.getpwnam(owner)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    user = "modelsieve"
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", user, "-A", "trust", "-E", "UTF8", "--no-sync"]
    done = subprocess.run(_as_owner(initdb, owner), capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        unavailable(f"initdb failed: {done.stderr.strip()[-500:]}")
    for _attempt in range(3):  # another process may take the free port before the server binds it
        port = _free_port()
        opts = f"-h 127.0.0.1 -p {port} -k {data} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        start = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "60", "start"]
        done = subprocess.run(_as_owner(start, owner), capture_output=True, text=True, timeout=90, check=False)
        if done.returncode == 0:
            break
    else:
        detail = log.read_text(errors="replace")[-800:] if log.exists() else done.stderr
        shutil.rmtree(base, ignore_errors=True)
        unavailable(f"pg_ctl start failed: {detail.strip()}")
    try:
        yield PgServer("127.0.0.1", port, user)
    finally:
        stop = [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "-t", "60", "stop"]
        subprocess.run(_as_owner(stop, owner), capture_output=True, timeout=90, check=False)
        shutil.rmtree(base, ignore_errors=True)
