"""Scan helpers for the container tests."""

from __future__ import annotations

import os

from modelsieve.api import scan
from modelsieve.model import FileResult, Finding, Severity, Verdict
from modelsieve.options import ScanOptions


def scan_one(path: str | os.PathLike[str], options: ScanOptions | None = None) -> FileResult:
    report = scan(path, options or ScanOptions(jobs=1))
    assert len(report.results) == 1, report.results
    return report.results[0]


def of_rule(result: FileResult, rule_id: str) -> list[Finding]:
    return [f for f in result.findings if f.rule_id == rule_id]


def rule_ids(result: FileResult) -> set[str]:
    return {f.rule_id for f in result.findings}


def describe(result: FileResult) -> str:
    lines = [f"{result.path}: {result.verdict.value} {result.formats}"]
    for f in result.findings:
        lines.append(
            f"  {f.rule_id} {f.severity.value} {f.effect.value} {f.location.members} {f.subject!r}: {f.message}"
        )
    return "\n".join(lines)


def assert_runs_os_system(result: FileResult, members: tuple[str, ...]) -> None:
    """The exact verdict the malicious fixtures must get: PKL001 on os.system at that member chain."""
    hits = [f for f in of_rule(result, "PKL001") if f.subject == "os.system" and f.location.members == members]
    assert hits, describe(result)
    assert result.verdict is Verdict.MALICIOUS, describe(result)


def assert_clean(result: FileResult) -> None:
    loud = [f for f in result.findings if f.severity >= Severity.LOW]
    assert not loud, describe(result)
    assert result.verdict is Verdict.CLEAN, describe(result)
