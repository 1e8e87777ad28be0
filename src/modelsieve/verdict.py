"""Verdicts for files and for whole targets, drawn from findings alone."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from modelsieve.model import (
    BehaviourKind,
    Effect,
    FileResult,
    Finding,
    IndicatorKind,
    RepoVerdict,
    Severity,
    Status,
    Verdict,
)

# Behaviours that turn a risky indicator (paste-site URL, raw IP) into proof.
_ACTIVE = frozenset(
    {
        BehaviourKind.RUNS_COMMAND,
        BehaviourKind.EXECUTES_CODE,
        BehaviourKind.NETWORK,
        BehaviourKind.LOADS_NATIVE,
        BehaviourKind.INSTALLS_PACKAGE,
    }
)
_RISKY_INDICATORS = frozenset({IndicatorKind.URL, IndicatorKind.IP, IndicatorKind.DOMAIN, IndicatorKind.COMMAND})


def file_verdict(findings: Sequence[Finding]) -> tuple[Verdict, tuple[str, ...]]:
    """The file's verdict and one or two lines saying why."""
    active = [f for f in findings if f.suppressed is None]
    verdict = Verdict.CLEAN
    for f in active:
        verdict = max(verdict, f.effect.verdict)
    if verdict is Verdict.SUSPICIOUS and _indicator_meets_action(active):
        verdict = Verdict.MALICIOUS
    return verdict, _reasons(verdict, active)


def _indicator_meets_action(findings: Sequence[Finding]) -> bool:
    """A suspicious executing/networking capability plus a risky indicator is proof enough."""
    acts = any(
        f.effect is Effect.SUSPICIOUS and f.behaviour is not None and f.behaviour.kind in _ACTIVE for f in findings
    )
    risky = any(
        ind.kind in _RISKY_INDICATORS and f.severity >= Severity.LOW for f in findings for ind in f.indicators
    )
    return acts and risky


def _reasons(verdict: Verdict, findings: Sequence[Finding]) -> tuple[str, ...]:
    if verdict is Verdict.CLEAN:
        return ("nothing that runs code on load was found",)
    deciding = sorted(
        (f for f in findings if f.effect.verdict is verdict or (verdict is Verdict.MALICIOUS and f.behaviour)),
        key=lambda f: (-f.effect.verdict.rank, -f.severity.rank, -f.confidence.rank),
    )
    lines: list[str] = []
    for f in deciding:
        text = f.behaviour.description if f.behaviour else f.message
        line = f"{text} ({f.rule_id})"
        if line not in lines:
            lines.append(line)
        if len(lines) == 2:
            break
    return tuple(lines) or (verdict.value,)


def auto_status(verdict: Verdict) -> Status:
    """The status a file gets before any person has reviewed it."""
    return Status.NO_FINDINGS if verdict is Verdict.CLEAN else Status.SUSPECTED


def repo_verdict(results: Iterable[FileResult], *, include_unloaded: bool = False) -> RepoVerdict:
    """Aggregate: the worst verdict among files that count, naming the files that decide it."""
    results = list(results)
    counted = [r for r in results if r.loaded_by_default or include_unloaded]
    others = [r for r in results if not (r.loaded_by_default or include_unloaded)]
    verdict = max((r.verdict for r in counted), default=Verdict.CLEAN)
    unloaded = max((r.verdict for r in others), default=Verdict.CLEAN)
    deciding = tuple(r.path for r in counted if r.verdict is verdict and verdict is not Verdict.CLEAN)
    statuses = {r.status for r in counted}
    if Status.CONFIRMED_UNSAFE in statuses:
        status = Status.CONFIRMED_UNSAFE
    elif any(r.status is Status.SUSPECTED for r in counted):
        status = Status.SUSPECTED
    elif Status.KNOWN_FALSE_POSITIVE in statuses:
        status = Status.KNOWN_FALSE_POSITIVE
    else:
        status = Status.NO_FINDINGS
    reasons: list[str] = []
    for r in counted:
        if r.verdict is verdict and verdict is not Verdict.CLEAN:
            reasons.append(f"{r.path}: {r.reasons[0] if r.reasons else r.verdict.value}")
        if len(reasons) == 3:
            break
    if unloaded > Verdict.CLEAN:
        reasons.append(f"files not read by standard loading are {unloaded.value} (weighed separately)")
    return RepoVerdict(
        verdict=verdict,
        status=status,
        deciding=deciding,
        reasons=tuple(reasons) or ("no file runs code on load",),
        unloaded_verdict=unloaded,
    )
