"""The triage error type, apart from the record types so that scans without a database never import those."""

from __future__ import annotations


class TriageError(ValueError):
    """Bad input to a triage operation (unknown status, target form, malformed import)."""
