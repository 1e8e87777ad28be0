"""The Hub's own security status, per repository and per file, as typed values.

The Hub runs several scanners on uploaded files and reports them in
``securityRepoStatus`` (``model_info(..., securityStatus=True)``: ``scansDone``,
``filesWithIssues``) and per file in ``securityFileStatus`` (tree listing with
``expand=true``: overall ``status`` plus ``avScan``, ``pickleImportScan``
(with per-import ``safety``), ``protectAiScan``, ``jFrogScan``, ``virusTotalScan``).
Older answers used ``safe: bool``, ``avScan.virusFound`` and
``pickleImportScan.highestSafetyLevel`` / ``imports``; both shapes are read.
These values are shown beside modelsieve's verdict and never change it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from modelsieve.model import ExternalVerdict

TOOL = "hf-hub"
SCANNERS = ("pickleImportScan", "avScan", "protectAiScan", "jFrogScan", "virusTotalScan")
_DANGEROUS = frozenset({"unsafe", "danger", "dangerous", "malicious", "infected"})
_CAUTION = frozenset({"caution", "suspicious", "warning"})
_SAFE = frozenset({"safe", "innocuous", "clean"})
_PENDING = frozenset({"unscanned", "queued", "pending", "scanning", "not_scanned", ""})


@dataclass(frozen=True)
class PickleImport:
    """One global a pickle imports, as the Hub's pickle scanner rated it (innocuous, suspicious, dangerous)."""

    module: str
    name: str
    safety: str

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(frozen=True)
class ScannerStatus:
    """One of the Hub's scanners on one file: its status word and message."""

    scanner: str
    status: str
    message: str = ""

    @property
    def verdict(self) -> str:
        return _verdict_of(self.status)


@dataclass(frozen=True)
class FileSecurity:
    """The Hub's security status of one file."""

    path: str
    status: str
    scanners: tuple[ScannerStatus, ...] = ()
    pickle_imports: tuple[PickleImport, ...] = ()

    @property
    def verdict(self) -> str:
        """``dangerous`` if the overall status or any scanner or import says so; otherwise the overall status.

        A file whose overall status is still pending stays ``unscanned`` even when one scanner
        (say the antivirus) already answered safe: that says nothing about its pickle.
        """
        if any(s.verdict == "dangerous" for s in self.scanners) or any(
            i.safety in _DANGEROUS for i in self.pickle_imports
        ):
            return "dangerous"
        return _verdict_of(self.status)

    @property
    def flagged_imports(self) -> tuple[PickleImport, ...]:
        return tuple(i for i in self.pickle_imports if i.safety not in _SAFE)

    def describe(self) -> str:
        """A short line: overall status, the scanners that flagged it, the risky imports."""
        parts = [self.status or "unknown"]
        flagged = [s for s in self.scanners if s.verdict == "dangerous"]
        if flagged:
            parts.append("flagged by " + ", ".join(s.scanner for s in flagged))
        if self.flagged_imports:
            parts.append("imports " + ", ".join(f"{i.dotted} ({i.safety})" for i in self.flagged_imports[:6]))
        return "; ".join(parts)

    def external(self) -> ExternalVerdict:
        return ExternalVerdict(tool=TOOL, verdict=self.verdict, detail=self.describe())


@dataclass(frozen=True)
class FileIssue:
    """An entry of the repository's ``filesWithIssues``: a path and the Hub's level (``danger``, ``caution`` ...)."""

    path: str
    level: str

    @property
    def verdict(self) -> str:
        return _verdict_of(self.level) if self.level else "dangerous"


@dataclass(frozen=True)
class RepoSecurity:
    """The Hub's security status of a repository at one revision.

    ``available`` is false when the Hub returned nothing (not asked, not supported
    for this repository type, or the request failed: ``error`` says which).
    """

    available: bool
    scans_done: bool | None = None
    files_with_issues: tuple[FileIssue, ...] = ()
    files: tuple[FileSecurity, ...] = ()
    error: str | None = None

    @cached_property
    def _by_path(self) -> dict[str, FileSecurity]:
        return {f.path: f for f in self.files}

    @cached_property
    def _issues_by_path(self) -> dict[str, FileIssue]:
        return {i.path: i for i in self.files_with_issues}

    def for_path(self, path: str) -> FileSecurity | None:
        return self._by_path.get(path)

    def issue_for(self, path: str) -> FileIssue | None:
        return self._issues_by_path.get(path)

    def external_for(self, path: str) -> ExternalVerdict | None:
        """The Hub's opinion of one file, or None when the Hub said nothing at all about the repository."""
        if not self.available:
            return None
        sec = self.for_path(path)
        issue = self.issue_for(path)
        if sec is not None:
            ext = sec.external()
            if issue is not None and ext.verdict != "dangerous" and issue.verdict == "dangerous":
                return ExternalVerdict(TOOL, "dangerous", f"listed with issues ({issue.level}); {ext.detail}")
            return ext
        if issue is not None:
            return ExternalVerdict(TOOL, issue.verdict, f"listed with issues ({issue.level or 'unspecified'})")
        if self.scans_done and self.files:
            return ExternalVerdict(TOOL, "unscanned", "no status for this file")
        if self.scans_done:
            return ExternalVerdict(TOOL, "safe", "scans done, file not listed with issues")
        return ExternalVerdict(TOOL, "unscanned", "the Hub's scans are not done")

    @property
    def verdict(self) -> str:
        """Repository-level: dangerous if any file is, safe only when scans are done and nothing is flagged."""
        if not self.available:
            return "error"
        if any(i.verdict == "dangerous" for i in self.files_with_issues) or any(
            f.verdict == "dangerous" for f in self.files
        ):
            return "dangerous"
        if self.scans_done or (self.files and all(f.verdict == "safe" for f in self.files)):
            return "safe"
        return "unscanned"


def _verdict_of(word: str | None) -> str:
    w = (word or "").strip().lower()
    if w in _DANGEROUS or w in _CAUTION:
        return "dangerous"
    if w in _SAFE:
        return "safe"
    if w == "error":
        return "error"
    return "unscanned"


def parse_file_status(path: str, raw: Mapping[str, Any]) -> FileSecurity:
    """Read one ``securityFileStatus`` value (new or old shape) into a FileSecurity."""
    status = raw.get("status")
    if not isinstance(status, str):
        safe = raw.get("safe")
        status = "safe" if safe is True else "unsafe" if safe is False else "unscanned"
    scanners: list[ScannerStatus] = []
    imports: list[PickleImport] = []
    for key in SCANNERS:
        value = raw.get(key)
        if not isinstance(value, Mapping):
            continue
        scanners.append(ScannerStatus(key, _scanner_status(key, value), str(value.get("message") or "")))
        if key == "pickleImportScan":
            imports.extend(_imports(value.get("pickleImports") or value.get("imports") or ()))
    return FileSecurity(path=path, status=status, scanners=tuple(scanners), pickle_imports=tuple(imports))


def _scanner_status(key: str, value: Mapping[str, Any]) -> str:
    status = value.get("status")
    if isinstance(status, str):
        return status
    if key == "avScan" and "virusFound" in value:
        return "unsafe" if value.get("virusFound") else "safe"
    level = value.get("highestSafetyLevel")
    if isinstance(level, str):
        return {"innocuous": "safe", "suspicious": "caution", "dangerous": "unsafe"}.get(level, level)
    return "unscanned"


def _imports(items: Iterable[Any]) -> list[PickleImport]:
    out = []
    for item in items:
        if isinstance(item, Mapping):
            out.append(
                PickleImport(str(item.get("module", "")), str(item.get("name", "")), str(item.get("safety", "")))
            )
    return out


def parse_repo_status(raw_repo: Mapping[str, Any] | None, raw_files: Mapping[str, Mapping[str, Any]]) -> RepoSecurity:
    """Combine ``securityRepoStatus`` and the per-file statuses into a RepoSecurity."""
    if raw_repo is None and not raw_files:
        return RepoSecurity(available=False, error="the Hub returned no security status")
    issues: list[FileIssue] = []
    scans_done: bool | None = None
    if isinstance(raw_repo, Mapping):
        done = raw_repo.get("scansDone")
        scans_done = done if isinstance(done, bool) else None
        for item in raw_repo.get("filesWithIssues") or ():
            if isinstance(item, Mapping) and isinstance(item.get("path"), str):
                issues.append(FileIssue(item["path"], str(item.get("level") or item.get("status") or "")))
    files = tuple(parse_file_status(path, raw) for path, raw in sorted(raw_files.items()))
    return RepoSecurity(available=True, scans_done=scans_done, files_with_issues=tuple(issues), files=files)


def fetch(client: Any, ref: Any, revision: str, raw_repo: Mapping[str, Any] | None) -> RepoSecurity:
    """Ask the Hub for per-file statuses; a failure leaves what the repository status already said."""
    from modelsieve.hub.client import HubError

    try:
        raw_files = client.tree_security(ref, revision)
    except HubError as exc:
        partial = parse_repo_status(raw_repo, {})
        return RepoSecurity(
            available=partial.available,
            scans_done=partial.scans_done,
            files_with_issues=partial.files_with_issues,
            error=f"per-file status unavailable: {exc}",
        )
    return parse_repo_status(raw_repo, raw_files)
