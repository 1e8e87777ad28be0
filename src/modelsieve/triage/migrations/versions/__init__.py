"""Alembic revisions of the triage database, oldest first."""
