"""Initial triage schema: scans, files, findings, decisions.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "triage_scans",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tool_version", sa.String(64), nullable=False),
        sa.Column("ruleset_version", sa.String(64), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("repo", sa.String(512), nullable=True),
        sa.Column("revision", sa.String(128), nullable=True),
    )
    op.create_index("ix_triage_scans_repo", "triage_scans", ["repo"])
    op.create_table(
        "triage_files",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scan_id", sa.Integer(), sa.ForeignKey("triage_scans.id", ondelete="CASCADE"), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("formats", sa.JSON(), nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
    )
    op.create_index("ix_triage_files_scan_id", "triage_files", ["scan_id"])
    op.create_index("ix_triage_files_sha256", "triage_files", ["sha256"])
    op.create_table(
        "triage_findings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("triage_files.id", ondelete="CASCADE"), nullable=False),
        sa.Column("fingerprint", sa.String(80), nullable=False),
        sa.Column("rule_id", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("confidence", sa.String(16), nullable=False),
        sa.Column("effect", sa.String(32), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
    )
    op.create_index("ix_triage_findings_file_id", "triage_findings", ["file_id"])
    op.create_index("ix_triage_findings_fingerprint", "triage_findings", ["fingerprint"])
    op.create_table(
        "triage_decisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uid", sa.String(64), nullable=False, unique=True),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(512), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=False),
        sa.Column("decided_at", sa.String(40), nullable=False),
        sa.Column("known_fingerprints", sa.JSON(), nullable=True),
        sa.Column("known_sha256s", sa.JSON(), nullable=True),
    )
    op.create_index("ix_triage_decisions_target", "triage_decisions", ["target"])


def downgrade() -> None:
    op.drop_table("triage_decisions")
    op.drop_table("triage_findings")
    op.drop_table("triage_files")
    op.drop_table("triage_scans")
