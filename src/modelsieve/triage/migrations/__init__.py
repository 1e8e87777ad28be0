"""Alembic environment of the triage database (shipped inside the package)."""
