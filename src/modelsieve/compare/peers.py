"""Adapters for other scanners run as subprocesses: how to call each, and how to read its answer.

Every answer is normalised to ``dangerous``, ``safe`` or ``error``. The parse
functions are pure (text in, Outcome out) so they are tested on recorded output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

DANGEROUS = "dangerous"
SAFE = "safe"
ERROR = "error"


@dataclass(frozen=True)
class Outcome:
    """One tool's normalised answer about one input, with a short reason and its wall time."""

    label: str
    detail: str = ""
    duration_s: float = 0.0


@dataclass(frozen=True)
class Completed:
    """What a subprocess left behind: exit code (None on timeout), outputs and an optional report file."""

    returncode: int | None
    stdout: str
    stderr: str
    report: str | None
    duration_s: float


# --- parsers (pure) -----------------------------------------------------------------------------

_PICKLESCAN_COUNT = re.compile(r"^(Scanned files|Infected files|Dangerous globals|Suspicious globals):\s*(\d+)", re.M)
_PICKLESCAN_FOUND = re.compile(r"^(.*?): (dangerous|suspicious) import '([^']+)' FOUND", re.M)


def parse_picklescan(stdout: str, stderr: str, returncode: int | None) -> Outcome:
    """picklescan prints ``... dangerous import 'posix system' FOUND`` lines and a SCAN SUMMARY; exit 1 = infected."""
    if returncode is None:
        return Outcome(ERROR, "timed out")
    counts = {k: int(v) for k, v in _PICKLESCAN_COUNT.findall(stdout)}
    found = [f"{kind} {name}" for _path, kind, name in _PICKLESCAN_FOUND.findall(stdout)]
    if counts.get("Infected files", 0) > 0 or counts.get("Dangerous globals", 0) > 0 or returncode == 1:
        return Outcome(DANGEROUS, "; ".join(dict.fromkeys(found)) or "infected files reported")
    if returncode != 0 or "Scanned files" not in counts:
        return Outcome(ERROR, _last_line(stderr or stdout) or f"exit {returncode}")
    if counts.get("Scanned files", 0) == 0:
        return Outcome(ERROR, "no file scanned")
    return Outcome(SAFE, f"{counts['Scanned files']} files scanned, none infected")


def parse_modelscan(report: str | None, stdout: str, returncode: int | None) -> Outcome:
    """modelscan ``-r json -o FILE``: summary.total_issues, issues[].severity, errors[]; exit 3 = nothing scanned."""
    if returncode is None:
        return Outcome(ERROR, "timed out")
    try:
        data = json.loads(report or "")
    except ValueError:
        return Outcome(ERROR, _last_line(stdout) or f"exit {returncode}, no JSON report")
    issues = data.get("issues") or []
    if issues:
        names = [f"{i.get('module', '?')}.{i.get('operator', '?')} ({i.get('severity', '?')})" for i in issues]
        return Outcome(DANGEROUS, "; ".join(dict.fromkeys(names)))
    errors = data.get("errors") or []
    scanned = (data.get("summary") or {}).get("scanned") or {}
    if errors:
        return Outcome(ERROR, "; ".join(str(e.get("description", e)) for e in errors)[:300])
    if not scanned.get("total_scanned"):
        return Outcome(ERROR, "no file scanned")
    return Outcome(SAFE, f"{scanned['total_scanned']} files scanned, no issue")


_FICKLING_SAFE = frozenset({"LIKELY_SAFE"})


def parse_fickling(report: str | None, stdout: str, returncode: int | None) -> Outcome:
    """fickling ``--check-safety --json-output FILE``: ``severity`` (LIKELY_SAFE .. OVERTLY_MALICIOUS).

    Exit 2 is a parse error; without the JSON report no analysis finished.
    """
    if returncode is None:
        return Outcome(ERROR, "timed out")
    try:
        data = json.loads(report or "")
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("severity"), str):
        severity = data["severity"]
        if severity in _FICKLING_SAFE:
            return Outcome(SAFE, severity)
        first = str(data.get("analysis", "")).splitlines()[:1]
        return Outcome(DANGEROUS, f"{severity}: {first[0] if first else ''}".strip(": "))
    # Without its JSON report fickling did not finish an analysis (parse error, missing file, crash).
    return Outcome(ERROR, _first_line(stdout) or f"exit {returncode}, no JSON report")


_MODELAUDIT_DANGEROUS = frozenset({"critical", "high", "error"})


def parse_modelaudit(report: str | None, stdout: str, returncode: int | None) -> Outcome:
    """modelaudit ``scan --format json -o FILE``: issues[].severity (critical/warning/info), has_errors.

    Exit 1 means issues were found, 2 that errors occurred.
    """
    if returncode is None:
        return Outcome(ERROR, "timed out")
    try:
        data = json.loads(report or "")
    except ValueError:
        return Outcome(ERROR, _last_line(stdout) or f"exit {returncode}, no JSON report")
    issues = data.get("issues") or []
    bad = [i for i in issues if str(i.get("severity", "")).lower() in _MODELAUDIT_DANGEROUS]
    if bad:
        return Outcome(DANGEROUS, "; ".join(dict.fromkeys(str(i.get("message", ""))[:120] for i in bad)))
    if data.get("has_errors") or returncode == 2:
        return Outcome(ERROR, "scan errors reported")
    if not data.get("files_scanned"):
        return Outcome(ERROR, "no file scanned")
    warnings = sum(1 for i in issues if str(i.get("severity", "")).lower() == "warning")
    return Outcome(SAFE, f"{data['files_scanned']} files scanned" + (f", {warnings} warnings" if warnings else ""))


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


# --- adapters -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    """How to run one scanner: its executable, arguments for an input (and a report path), its parser."""

    name: str
    executable: str
    arguments: Callable[[str, str], list[str]]
    parse: Callable[[Completed], Outcome]
    files_only: bool = False

    def locate(self) -> str | None:
        """The executable beside this Python first (the same venv), then on PATH."""
        local = Path(sys.executable).with_name(self.executable)
        if local.exists():
            return str(local)
        return shutil.which(self.executable)

    def available(self) -> bool:
        return self.locate() is not None

    def run(self, target: str, timeout: float) -> Outcome:
        exe = self.locate()
        if exe is None:
            return Outcome(ERROR, f"{self.executable} not installed")
        if not os.path.exists(target):
            return Outcome(ERROR, "no such file or folder")
        if self.files_only and os.path.isdir(target):
            return self._run_folder(exe, target, timeout)
        return self._run_one(exe, target, timeout)

    def _run_one(self, exe: str, target: str, timeout: float) -> Outcome:
        with tempfile.TemporaryDirectory(prefix=f"modelsieve-{self.name}-") as tmp:
            report_path = os.path.join(tmp, "report.json")
            completed = _execute([exe, *self.arguments(target, report_path)], timeout, report_path, cwd=tmp)
        outcome = self.parse(completed)
        return Outcome(outcome.label, outcome.detail, round(completed.duration_s, 3))

    def _run_folder(self, exe: str, folder: str, timeout: float) -> Outcome:
        """Tools that take one file: run per file, worst answer wins (dangerous > error > safe)."""
        from modelsieve.hub.select import content_hint

        outcomes: list[tuple[str, Outcome]] = []
        deadline = time.monotonic() + timeout
        for path in sorted(Path(folder).rglob("*")):
            if not path.is_file() or path.is_symlink():
                continue
            with open(path, "rb") as stream:
                if content_hint(stream.read(4096)) != "pickle":
                    continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                outcomes.append((str(path), Outcome(ERROR, "timed out")))
                break
            outcomes.append((path.name, self._run_one(exe, str(path), remaining)))
        duration = sum(o.duration_s for _, o in outcomes)
        for label in (DANGEROUS, ERROR):
            hits = [f"{name}: {o.detail}" for name, o in outcomes if o.label == label]
            if hits:
                return Outcome(label, "; ".join(hits)[:400], round(duration, 3))
        return Outcome(SAFE, f"{len(outcomes)} pickle files, none unsafe", round(duration, 3))


def _execute(argv: Sequence[str], timeout: float, report_path: str, cwd: str) -> Completed:
    env = {**os.environ, "PROMPTFOO_DISABLE_TELEMETRY": "1", "NO_COLOR": "1", "COLUMNS": "400", "TERM": "dumb"}
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            errors="replace",
        )
        returncode: int | None = proc.returncode
        stdout, stderr = proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        returncode = None
        stdout = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        stderr = ""
    except OSError as exc:
        returncode, stdout, stderr = 127, "", str(exc)
    duration = time.monotonic() - t0
    report = None
    if os.path.exists(report_path):
        with open(report_path, encoding="utf-8", errors="replace") as f:
            report = f.read()
    return Completed(returncode, stdout, stderr, report, duration)


PEERS: tuple[Peer, ...] = (
    Peer(
        "picklescan",
        "picklescan",
        lambda target, _report: ["-p", os.path.abspath(target)],
        lambda c: parse_picklescan(c.stdout, c.stderr, c.returncode),
    ),
    Peer(
        "modelscan",
        "modelscan",
        lambda target, report: ["-p", os.path.abspath(target), "-r", "json", "-o", report],
        lambda c: parse_modelscan(c.report, c.stdout + c.stderr, c.returncode),
    ),
    Peer(
        "fickling",
        "fickling",
        lambda target, report: ["--check-safety", "--json-output", report, os.path.abspath(target)],
        lambda c: parse_fickling(c.report, c.stdout + c.stderr, c.returncode),
        files_only=True,
    ),
    Peer(
        "modelaudit",
        "modelaudit",
        lambda target, report: ["scan", "--format", "json", "--no-cache", "-o", report, os.path.abspath(target)],
        lambda c: parse_modelaudit(c.report, c.stdout + c.stderr, c.returncode),
    ),
)


def peer(name: str) -> Peer:
    for p in PEERS:
        if p.name == name:
            return p
    raise KeyError(name)
