"""Build FileResult / Report values with known verdicts for service and store tests."""

from __future__ import annotations

import hashlib

from modelsieve.model import (
    Behaviour,
    BehaviourKind,
    Confidence,
    Effect,
    FileResult,
    Finding,
    Location,
    Report,
    Severity,
)
from modelsieve.verdict import auto_status, file_verdict, repo_verdict

# A protocol-0 pickle whose loading would call os.system("true"): malicious once the pickle engine reads it.
EVIL_PICKLE = b"cos\nsystem\n(S'true'\ntR."


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def finding(
    rule_id: str = "PKL001",
    subject: str = "os.system",
    effect: Effect = Effect.MALICIOUS,
    path: str = "model.pkl",
    members: tuple[str, ...] = (),
) -> Finding:
    behaviour = Behaviour(BehaviourKind.RUNS_COMMAND, f"calls {subject}") if effect is Effect.MALICIOUS else None
    return Finding(
        rule_id=rule_id,
        severity=Severity.CRITICAL if effect is Effect.MALICIOUS else Severity.MEDIUM,
        confidence=Confidence.HIGH,
        effect=effect,
        message=f"{rule_id} about {subject}",
        location=Location(path=path, members=members, offset=12),
        subject=subject,
        behaviour=behaviour,
    )


def result(path: str, digest: str | None, *findings: Finding, loaded: bool = True) -> FileResult:
    verdict, reasons = file_verdict(findings)
    return FileResult(
        path=path,
        size=123,
        sha256=digest,
        formats=("pickle",),
        verdict=verdict,
        reasons=reasons,
        findings=tuple(findings),
        status=auto_status(verdict, findings),
        loaded_by_default=loaded,
    )


def report(*results: FileResult, ruleset: str = "2026.11.1", targets: tuple[str, ...] = ("models",)) -> Report:
    return Report(
        tool_version="0.1.0",
        ruleset_version=ruleset,
        targets=targets,
        results=tuple(results),
        skipped=(),
        summary=repo_verdict(results),
        started_at="2026-11-22T00:00:00+00:00",
        duration_s=0.1,
        options=(("strict", "false"),),
    )
