"""What every report format shows in its summary, computed once.

Behaviours and indicators are listed whatever the severity of the finding that
carries them, and whether or not the file counts for the verdict: a URL in a file
that standard loading never reads is still a URL a reviewer wants to see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from modelsieve.model import FileResult, Report, Severity, Verdict


@dataclass(frozen=True)
class Observation:
    """One behaviour or indicator seen in one file; ``suppressed`` when only suppressed findings carry it."""

    path: str
    kind: str
    value: str
    note: str = ""
    suppressed: bool = False


def behaviours(results: Iterable[FileResult]) -> tuple[Observation, ...]:
    """Every reconstructed behaviour, per file, in report order."""
    out: dict[tuple[str, str, str], Observation] = {}
    for r in results:
        for f in r.findings:
            if f.behaviour is None:
                continue
            key = (r.path, f.behaviour.kind.value, f.behaviour.description)
            obs = Observation(r.path, f.behaviour.kind.value, f.behaviour.description, "", f.suppressed is not None)
            _add(out, key, obs)
    return tuple(out.values())


def indicators(results: Iterable[FileResult]) -> tuple[Observation, ...]:
    """Every network address, command line, executable and encoded blob, per file."""
    out: dict[tuple[str, str, str], Observation] = {}
    for r in results:
        for f in r.findings:
            for ind in f.indicators:
                key = (r.path, ind.kind.value, ind.value)
                _add(out, key, Observation(r.path, ind.kind.value, ind.value, ind.note or "", f.suppressed is not None))
    return tuple(out.values())


def _add(out: dict[tuple[str, str, str], Observation], key: tuple[str, str, str], obs: Observation) -> None:
    prev = out.get(key)
    # An observation carried by any active finding is active.
    if prev is None or (prev.suppressed and not obs.suppressed):
        out[key] = obs


#: modelsieve's verdicts that flag a file, and other tools' labels that do (ExternalVerdict.verdict).
_FLAGGED = frozenset({Verdict.MALICIOUS, Verdict.SUSPICIOUS})
_EXTERNAL_FLAGGED = "dangerous"
_EXTERNAL_CLEARED = "safe"


@dataclass(frozen=True)
class Disagreement:
    """A file that modelsieve and another tool judge in opposite ways (one flags it, the other calls it safe)."""

    path: str
    verdict: Verdict
    tool: str
    external: str
    detail: str = ""


def disagreements(results: Iterable[FileResult]) -> tuple[Disagreement, ...]:
    """Files where another tool's opinion (the Hub's security scan ...) contradicts modelsieve's verdict.

    Only opposite calls count: a tool that did not scan the file or failed on it does not disagree.
    """
    out = []
    for r in results:
        for e in r.external:
            flagged_here = r.verdict in _FLAGGED
            if (flagged_here and e.verdict == _EXTERNAL_CLEARED) or (
                r.verdict is Verdict.CLEAN and e.verdict == _EXTERNAL_FLAGGED
            ):
                out.append(Disagreement(r.path, r.verdict, e.tool, e.verdict, e.detail))
    return tuple(out)


def verdict_counts(report: Report) -> dict[str, int]:
    """Number of files per verdict, every verdict present (zero included), best to worst."""
    counts = {v.value: 0 for v in Verdict}
    for r in report.results:
        counts[r.verdict.value] += 1
    return counts


def severity_counts(results: Iterable[FileResult], *, include_suppressed: bool = False) -> dict[str, int]:
    """Number of findings per severity, every severity present, lowest first."""
    counts = {s.value: 0 for s in Severity}
    for r in results:
        for f in r.findings:
            if f.suppressed is None or include_suppressed:
                counts[f.severity.value] += 1
    return counts
