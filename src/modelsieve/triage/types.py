"""Values of the review workflow: decisions, recorded files and scan differences.

Plain frozen dataclasses so that the service and the CLI never see an ORM row.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from modelsieve.model import Status, Verdict
from modelsieve.triage.errors import TriageError as TriageError


class TargetKind(enum.Enum):
    """What a decision is about."""

    SHA256 = "sha256"
    FINGERPRINT = "fingerprint"
    REPO = "repo"


# Statuses a person may set; NO_FINDINGS is only ever drawn by the scanner.
DECIDABLE = (Status.CONFIRMED_UNSAFE, Status.KNOWN_FALSE_POSITIVE, Status.SUSPECTED)


@dataclass(frozen=True)
class Target:
    """A parsed decision target; ``source`` is what the user typed (a path, say)."""

    kind: TargetKind
    value: str
    source: str = ""


@dataclass(frozen=True)
class Decision:
    """One review decision. Decisions are append-only: the latest per target wins.

    ``known_fingerprints`` are the findings present when the decision was made
    (None when no scan of the target was known); a false-positive decision stops
    applying once a finding outside that set appears. ``known_sha256s`` is, for a
    repository decision, the set of file contents the reviewer looked at.
    """

    uid: str
    kind: TargetKind
    target: str
    status: Status
    note: str
    decided_by: str
    decided_at: str
    known_fingerprints: tuple[str, ...] | None = None
    known_sha256s: tuple[str, ...] | None = None

    def fields(self) -> dict[str, object]:
        """Plain values under their stored names: one shape for the database row and the export."""
        return {
            "uid": self.uid,
            "target_kind": self.kind.value,
            "target": self.target,
            "status": self.status.value,
            "note": self.note,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
            "known_fingerprints": list(self.known_fingerprints) if self.known_fingerprints is not None else None,
            "known_sha256s": list(self.known_sha256s) if self.known_sha256s is not None else None,
        }


@dataclass(frozen=True)
class FindingKey:
    """The stable identity of a recorded finding."""

    fingerprint: str
    rule_id: str
    subject: str


@dataclass(frozen=True)
class FileRecord:
    """A file as it was recorded by an earlier scan."""

    scan_id: int
    path: str
    sha256: str | None
    size: int
    formats: tuple[str, ...]
    verdict: Verdict
    status: Status
    findings: tuple[FindingKey, ...]
    ruleset_version: str
    tool_version: str
    recorded_at: str


@dataclass(frozen=True)
class ScanSummary:
    """A recorded scan, without its files."""

    scan_id: int
    tool_version: str
    ruleset_version: str
    started_at: str
    recorded_at: str
    targets: tuple[str, ...]
    verdict: Verdict
    files: int
    repo: str | None = None
    revision: str | None = None


@dataclass(frozen=True)
class FileChange:
    """How one file's result differs from the last recorded scan of the same bytes."""

    path: str
    sha256: str
    previous_scan_id: int
    ruleset_before: str
    ruleset_after: str
    verdict_before: Verdict
    verdict_after: Verdict
    added: tuple[FindingKey, ...]
    removed: tuple[FindingKey, ...]

    @property
    def verdict_changed(self) -> bool:
        return self.verdict_before is not self.verdict_after


@dataclass(frozen=True)
class ScanDiff:
    """What changed since the last recorded scan of the same bytes, file by file.

    ``compared`` counts files that had an earlier record; ``changes`` lists only
    those whose verdict or findings differ.
    """

    compared: int
    changes: tuple[FileChange, ...]

    @property
    def verdict_changes(self) -> tuple[FileChange, ...]:
        return tuple(c for c in self.changes if c.verdict_changed)
