"""Shared helpers of the red-team suite: scanning, describing results, proving fixtures in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import modelsieve
from modelsieve.model import FileResult, Finding, Severity, Verdict
from modelsieve.options import ScanOptions

# A scan of a small input that takes longer than this is a robustness bug.
SMALL_INPUT_BUDGET_S = 5.0


@dataclass(frozen=True)
class Timed:
    """A scan result with the wall time it took."""

    result: FileResult
    seconds: float


def scan_one(path: Path) -> FileResult:
    return scan_timed(path).result


def scan_timed(path: Path) -> Timed:
    t0 = time.monotonic()
    report = modelsieve.scan(path, ScanOptions(jobs=1))
    seconds = time.monotonic() - t0
    assert len(report.results) == 1, report.results
    return Timed(report.results[0], seconds)


def describe(result: FileResult) -> str:
    lines = [f"verdict={result.verdict.value} formats={result.formats}"]
    for f in result.findings:
        behaviour = f.behaviour.description if f.behaviour else "-"
        lines.append(
            f"  {f.rule_id} {f.severity.value}/{f.confidence.value} {f.effect.value} subject={f.subject!r} "
            f"members={f.location.members} behaviour={behaviour!r} msg={f.message!r}"
        )
    lines.extend(f"  call {c.callable}({c.arguments[:80]}) [{c.safety}]" for c in result.calls)
    return "\n".join(lines)


def findings(result: FileResult, rule_id: str, subjects: tuple[str, ...] = ()) -> list[Finding]:
    return [
        f
        for f in result.findings
        if f.rule_id == rule_id and f.suppressed is None and (not subjects or f.subject in subjects)
    ]


def loud(result: FileResult, floor: Severity = Severity.LOW) -> list[Finding]:
    return [f for f in result.findings if f.severity >= floor and f.suppressed is None]


def analyser_failures(result: FileResult) -> list[Finding]:
    """GEN006-style "analyser failed" findings: always a bug on well-formed input."""
    return [f for f in result.findings if f.rule_id == "GEN006"]


def never_malicious(result: FileResult) -> None:
    assert result.verdict is not Verdict.MALICIOUS, describe(result)


def child_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


def runs_in_subprocess(code: str, marker: Path, cwd: Path, *, timeout: float = 120) -> tuple[bool, str]:
    """Run ``code`` in a fresh interpreter; report whether it created ``marker`` (then remove it)."""
    if marker.exists():
        marker.unlink()
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=child_env(cwd),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    touched = marker.exists()
    if touched:
        marker.unlink()
    return touched, (proc.stdout + proc.stderr)[-2000:]


PICKLE_LOADER = (
    "import pickle\n"
    "try:\n"
    "    pickle.loads(open({p!r}, 'rb').read())\n"
    "except Exception as e:\n"
    "    print('RAISED', type(e).__name__, e)\n"
)


def pickle_loader_code(path: Path) -> str:
    return PICKLE_LOADER.format(p=str(path))
