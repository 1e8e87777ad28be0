"""The triage store's interface (where its database lives: ``triage.location``).

The rest of modelsieve talks to a ``TriageStore``; only ``open_store`` knows
that the implementation is SQLAlchemy (imported lazily, so that the CLI starts
fast and scanning without a database never loads it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from modelsieve.model import Report
from modelsieve.triage.location import ENV_VAR, default_db_path, normalise_url, resolve_url
from modelsieve.triage.types import Decision, FileRecord, ScanSummary


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


def open_store(url: str) -> TriageStore:
    """Open (creating and migrating when needed) the database at ``url``."""
    from modelsieve.triage.sqlstore import SqlStore

    return SqlStore(normalise_url(url))


__all__ = ["ENV_VAR", "TriageStore", "default_db_path", "normalise_url", "open_store", "resolve_url"]
