"""The triage store's interface, and where its database lives.

The rest of modelsieve talks to a ``TriageStore``; only ``open_store`` knows
that the implementation is SQLAlchemy (imported lazily, so that the CLI starts
fast and scanning without a database never loads it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from modelsieve.model import Report
from modelsieve.triage.types import Decision, FileRecord, ScanSummary, TriageError

ENV_VAR = "MODELSIEVE_DB"
_DB_FILE = "triage.sqlite3"


class TriageStore(Protocol):
    """Recorded scans and append-only review decisions."""

    def record_scan(self, report: Report, *, repo: str | None = None, revision: str | None = None) -> int:
        """Store a scan and every file and finding of it in one transaction; return its id."""
        ...

    def add_decisions(self, decisions: Sequence[Decision]) -> int:
        """Append decisions in one transaction, skipping uids already present; return how many were new."""
        ...

    def decisions_for(self, targets: Iterable[str]) -> list[Decision]:
        """The full history of decisions on these targets, oldest first."""
        ...

    def all_decisions(self) -> list[Decision]:
        """Every decision, oldest first."""
        ...

    def latest_file_records(self, sha256s: Iterable[str]) -> Mapping[str, FileRecord]:
        """For each sha256, the file as the most recent recorded scan of those bytes saw it."""
        ...

    def latest_repo_scan(self, repo: str) -> tuple[ScanSummary, list[FileRecord]] | None:
        """The most recent recorded scan of a repository, with its files."""
        ...

    def recent_scans(self, limit: int = 20) -> list[ScanSummary]:
        """The most recently recorded scans, newest first."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def default_db_path() -> Path:
    """The embedded SQLite file in the user's data folder."""
    from platformdirs import user_data_path

    return user_data_path("modelsieve", appauthor=False) / _DB_FILE


def normalise_url(url: str) -> str:
    """An SQLAlchemy URL: bare paths become SQLite files, ``postgresql://`` uses psycopg 3."""
    url = url.strip()
    if not url:
        raise TriageError("empty database URL")
    if "://" not in url:
        return "sqlite:///" + str(Path(url).expanduser().resolve())
    scheme, rest = url.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        return "postgresql+psycopg://" + rest
    if scheme == "postgresql+psycopg" or scheme.startswith("sqlite"):
        return url
    raise TriageError(f"unsupported database URL scheme {scheme!r}; use sqlite:///PATH or postgresql+psycopg://…")


def resolve_url(explicit: str | None, *, create: bool) -> str | None:
    """Which database to use: ``--db``, else ``MODELSIEVE_DB``, else the default file.

    The default file is used when it exists, or when ``create`` (recording a
    scan) asks for it; otherwise there is no database and scans run as before.
    """
    chosen = explicit or os.environ.get(ENV_VAR) or None
    if chosen:
        return normalise_url(chosen)
    path = default_db_path()
    if create or path.exists():
        return "sqlite:///" + str(path)
    return None


def open_store(url: str) -> TriageStore:
    """Open (creating and migrating when needed) the database at ``url``."""
    from modelsieve.triage.sqlstore import SqlStore

    return SqlStore(normalise_url(url))
