"""Where the triage database lives: ``--db``, ``MODELSIEVE_DB`` or the default file.

Kept apart from the store and the record types: every scan asks this question, and most scans have
no database, so answering it must not import them.
"""

from __future__ import annotations

import os
from pathlib import Path

from modelsieve.triage.errors import TriageError

ENV_VAR = "MODELSIEVE_DB"
_DB_FILE = "triage.sqlite3"


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
