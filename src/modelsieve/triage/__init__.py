"""Review workflow: recorded scans and human decisions, applied to every later scan.

    modelsieve scan models/ --record                 # store the scan (default: SQLite in the user data folder)
    modelsieve triage set FILE|SHA256|v1:…|hf://owner/name --status false-positive --note "why"
    modelsieve scan models/                          # statuses shown; Known False Positives no longer fail
    modelsieve triage list|show|history|export|import|scans

``--db URL`` or ``MODELSIEVE_DB`` selects a shared PostgreSQL (``postgresql+psycopg://…``).
Layers: ``types`` (values), ``targets``/``exchange`` (parsing), ``service`` (pure
application of decisions, scan diffs), ``store`` (interface), ``sqlstore`` +
``models`` + ``migrations`` (SQLAlchemy/Alembic), ``cli`` (commands and scan hooks).
Nothing here imports SQLAlchemy at import time except ``sqlstore`` and ``models``,
which load only when a database is opened.
"""
