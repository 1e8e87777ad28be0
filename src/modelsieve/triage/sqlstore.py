"""The SQLAlchemy implementation of ``TriageStore`` (SQLite file or PostgreSQL via psycopg 3).

Every write is one transaction, so a crash mid-scan leaves nothing half-written.
SQLite runs in WAL mode with a busy timeout and takes the write lock when a
transaction begins (``BEGIN IMMEDIATE``): deferred transactions that upgrade to
writers fail with "database is locked" without waiting, which would lose a
concurrent recording.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.pool import StaticPool

from modelsieve.model import Report, Status, Verdict
from modelsieve.triage.models import DecisionRow, FileRow, FindingRow, ScanRow
from modelsieve.triage.types import (
    Decision,
    FileRecord,
    FindingKey,
    ScanSummary,
    TargetKind,
    TriageError,
)

_BUSY_TIMEOUT_MS = 30_000
# Arbitrary constant naming the advisory lock that serialises schema migrations on PostgreSQL.
_MIGRATION_LOCK = 0x6D736976
# Bound IN (...) lists: SQLite allows at most 32766 host parameters per statement.
_CHUNK = 500


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _database_errors(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Report a database that fails mid-operation (connection lost, disk full) as a TriageError."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except DBAPIError as exc:
            raise TriageError(f"triage database error: {_first_line(exc)}") from exc

    return wrapper


def now_iso() -> str:
    """UTC time as sortable ISO-8601 text with microseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class SqlStore:
    """Triage store on an SQLAlchemy engine; the schema is migrated on open."""

    def __init__(self, url: str) -> None:
        try:
            self.engine = _make_engine(url)
            migrate(self.engine)
        except (OperationalError, ArgumentError) as exc:
            raise TriageError(f"cannot open the triage database {_safe(url)}: {_first_line(exc)}") from exc

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    # -- scans ------------------------------------------------------------------------------------

    @_database_errors
    def record_scan(self, report: Report, *, repo: str | None = None, revision: str | None = None) -> int:
        scan = ScanRow(
            tool_version=report.tool_version,
            ruleset_version=report.ruleset_version,
            options=dict(report.options),
            targets=list(report.targets),
            started_at=report.started_at,
            recorded_at=now_iso(),
            verdict=report.summary.verdict.value,
            status=report.summary.status.value,
            repo=repo,
            revision=revision,
            files=[
                FileRow(
                    path=r.path,
                    sha256=r.sha256,
                    size=r.size,
                    formats=list(r.formats),
                    verdict=r.verdict.value,
                    status=r.status.value,
                    findings=[
                        FindingRow(
                            fingerprint=f.fingerprint,
                            rule_id=f.rule_id,
                            severity=f.severity.value,
                            confidence=f.confidence.value,
                            effect=f.effect.value,
                            subject=f.subject,
                            message=f.message,
                            location=f.location.describe(),
                        )
                        for f in r.findings
                    ],
                )
                for r in report.results
            ],
        )
        with Session(self.engine) as session, session.begin():
            session.add(scan)
            session.flush()
            return scan.id

    @_database_errors
    def latest_file_records(self, sha256s: Iterable[str]) -> Mapping[str, FileRecord]:
        wanted = sorted({s for s in sha256s if s})
        out: dict[str, FileRecord] = {}
        with Session(self.engine) as session:
            for chunk in _chunks(wanted):
                newest = select(func.max(FileRow.id)).where(FileRow.sha256.in_(chunk)).group_by(FileRow.sha256)
                rows = session.scalars(
                    select(FileRow)
                    .where(FileRow.id.in_(newest))
                    .options(selectinload(FileRow.findings), selectinload(FileRow.scan))
                )
                for row in rows:
                    out[row.sha256 or ""] = _file_record(row)
        return out

    @_database_errors
    def latest_repo_scan(self, repo: str) -> tuple[ScanSummary, list[FileRecord]] | None:
        with Session(self.engine) as session:
            row = session.scalars(
                select(ScanRow)
                .where(ScanRow.repo == repo)
                .order_by(ScanRow.id.desc())
                .limit(1)
                .options(selectinload(ScanRow.files).selectinload(FileRow.findings))
            ).first()
            if row is None:
                return None
            return _scan_summary(row, len(row.files)), [_file_record(f) for f in row.files]

    @_database_errors
    def recent_scans(self, limit: int = 20) -> list[ScanSummary]:
        with Session(self.engine) as session:
            counts = select(FileRow.scan_id, func.count(FileRow.id).label("n")).group_by(FileRow.scan_id).subquery()
            rows = session.execute(
                select(ScanRow, func.coalesce(counts.c.n, 0))
                .outerjoin(counts, counts.c.scan_id == ScanRow.id)
                .order_by(ScanRow.id.desc())
                .limit(limit)
            ).all()
            return [_scan_summary(scan, int(n)) for scan, n in rows]

    # -- decisions --------------------------------------------------------------------------------

    @_database_errors
    def add_decisions(self, decisions: Sequence[Decision]) -> int:
        added = 0
        with self.engine.begin() as conn:
            insert = _insert_ignoring_duplicates(conn.dialect.name)
            for d in decisions:
                # rowcount is -1 on psycopg when RETURNING is used; a returned row means a new decision.
                added += len(conn.execute(insert, d.fields()).all())
        return added

    @_database_errors
    def decisions_for(self, targets: Iterable[str]) -> list[Decision]:
        wanted = sorted(set(targets))
        rows: list[DecisionRow] = []
        with Session(self.engine) as session:
            for chunk in _chunks(wanted):
                rows.extend(session.scalars(select(DecisionRow).where(DecisionRow.target.in_(chunk))))
        rows.sort(key=lambda r: (r.decided_at, r.id))
        return [_decision(r) for r in rows]

    @_database_errors
    def all_decisions(self) -> list[Decision]:
        with Session(self.engine) as session:
            rows = session.scalars(select(DecisionRow).order_by(DecisionRow.decided_at, DecisionRow.id))
            return [_decision(r) for r in rows]


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; concurrent openers wait for each other."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.connect() as conn:
        if MigrationContext.configure(conn).get_current_revision() == head:
            return
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_engine(url, connect_args={"connect_timeout": 10}, pool_pre_ping=True)


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    memory = database in (None, "", ":memory:")
    if database and not memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": _BUSY_TIMEOUT_MS / 1000},
        poolclass=StaticPool if memory else None,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (the sqlite3 module's own would be deferred).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _insert_ignoring_duplicates(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(DecisionRow).on_conflict_do_nothing(index_elements=["uid"]).returning(DecisionRow.id)
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(DecisionRow).on_conflict_do_nothing(index_elements=["uid"]).returning(DecisionRow.id)
    raise TriageError(f"unsupported database {dialect!r}; use SQLite or PostgreSQL")


def _decision(row: DecisionRow) -> Decision:
    return Decision(
        uid=row.uid,
        kind=TargetKind(row.target_kind),
        target=row.target,
        status=Status(row.status),
        note=row.note,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        known_fingerprints=_tuple_or_none(row.known_fingerprints),
        known_sha256s=_tuple_or_none(row.known_sha256s),
    )


def _file_record(row: FileRow) -> FileRecord:
    return FileRecord(
        scan_id=row.scan_id,
        path=row.path,
        sha256=row.sha256,
        size=row.size,
        formats=tuple(row.formats or ()),
        verdict=Verdict(row.verdict),
        status=Status(row.status),
        findings=tuple(FindingKey(f.fingerprint, f.rule_id, f.subject) for f in row.findings),
        ruleset_version=row.scan.ruleset_version,
        tool_version=row.scan.tool_version,
        recorded_at=row.scan.recorded_at,
    )


def _scan_summary(row: ScanRow, files: int) -> ScanSummary:
    return ScanSummary(
        scan_id=row.id,
        tool_version=row.tool_version,
        ruleset_version=row.ruleset_version,
        started_at=row.started_at,
        recorded_at=row.recorded_at,
        targets=tuple(row.targets or ()),
        verdict=Verdict(row.verdict),
        files=files,
        repo=row.repo,
        revision=row.revision,
    )


def _tuple_or_none(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):  # some drivers hand JSON back as text
        value = json.loads(value)
    return tuple(str(v) for v in value)


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(malformed URL)"


def _first_line(exc: BaseException) -> str:
    msg = str(getattr(exc, "orig", None) or exc)
    return msg.strip().splitlines()[0] if msg.strip() else type(exc).__name__
