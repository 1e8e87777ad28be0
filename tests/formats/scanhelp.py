"""Small helpers shared by the format tests: scan one file, pick findings by rule."""

from __future__ import annotations

import os

from modelsieve.api import scan
from modelsieve.model import FileResult, Finding
from modelsieve.options import ScanOptions


def scan_one(path: str | os.PathLike[str], options: ScanOptions | None = None) -> FileResult:
    """The result of scanning exactly one file."""
    report = scan(path, options or ScanOptions(jobs=1))
    assert len(report.results) == 1, report.results
    return report.results[0]


def rule_ids(result: FileResult) -> set[str]:
    return {f.rule_id for f in result.findings}


def of_rule(result: FileResult, rule_id: str) -> list[Finding]:
    return [f for f in result.findings if f.rule_id == rule_id]
