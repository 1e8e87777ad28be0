"""ORM tables of the triage database. Schema changes go through a new Alembic revision."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    """Declarative base of the triage tables."""


class ScanRow(Base):
    """One recorded scan: tool and rule-set versions, options, time, and repository when known."""

    __tablename__ = "triage_scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tool_version: Mapped[str] = mapped_column(String(64))
    ruleset_version: Mapped[str] = mapped_column(String(64))
    options: Mapped[Any] = mapped_column(JSON)
    targets: Mapped[Any] = mapped_column(JSON)
    started_at: Mapped[str] = mapped_column(String(40))
    recorded_at: Mapped[str] = mapped_column(String(40))
    verdict: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    repo: Mapped[str | None] = mapped_column(String(512), index=True)
    revision: Mapped[str | None] = mapped_column(String(128))

    files: Mapped[list[FileRow]] = relationship(back_populates="scan", cascade="all, delete-orphan")


class FileRow(Base):
    """One file of a recorded scan, with the scanner's own verdict (before any decision)."""

    __tablename__ = "triage_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("triage_scans.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    formats: Mapped[Any] = mapped_column(JSON)
    verdict: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))

    scan: Mapped[ScanRow] = relationship(back_populates="files")
    findings: Mapped[list[FindingRow]] = relationship(back_populates="file", cascade="all, delete-orphan")


class FindingRow(Base):
    """One finding of a recorded file."""

    __tablename__ = "triage_findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("triage_files.id", ondelete="CASCADE"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(80), index=True)
    rule_id: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[str] = mapped_column(String(16))
    effect: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(Text)

    file: Mapped[FileRow] = relationship(back_populates="findings")


class DecisionRow(Base):
    """One review decision; rows are only ever inserted (history), never updated."""

    __tablename__ = "triage_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    target_kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(512), index=True)
    status: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[str] = mapped_column(String(40))
    known_fingerprints: Mapped[Any | None] = mapped_column(JSON)
    known_sha256s: Mapped[Any | None] = mapped_column(JSON)
