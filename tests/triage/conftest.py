"""Fixtures for the triage tests: the same tests run against SQLite and a throwaway PostgreSQL.

The PostgreSQL cluster (see ``triage_pg``) is started once per test session, per
xdist worker. Without PostgreSQL the PG variants are skipped, except on CI
(``CI=true``) where that is a failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from triage_pg import PgServer, database, start_server

from modelsieve.triage.store import TriageStore, open_store


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    with start_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL, once for an SQLite file and once for PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'triage.sqlite3'}"
        return
    server: PgServer = request.getfixturevalue("pg_server")
    with database(server) as url:
        yield url


@pytest.fixture
def store(db_url: str) -> Iterator[TriageStore]:
    opened = open_store(db_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(autouse=True)
def _no_user_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never read or write the real per-user database from tests."""
    monkeypatch.delenv("MODELSIEVE_DB", raising=False)
    monkeypatch.setattr("modelsieve.triage.location.default_db_path", lambda: tmp_path / "default" / "triage.sqlite3")
