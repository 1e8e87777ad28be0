"""Verdicts for files and for whole targets, drawn from findings alone."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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
    risky = any(ind.kind in _RISKY_INDICATORS and f.severity >= Severity.LOW for f in findings for ind in f.indicators)
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


def auto_status(verdict: Verdict, findings: Sequence[Finding] = ()) -> Status:
    """The status a file gets before any person has reviewed it.

    Statuses are the reviewers' vocabulary, so the scanner alone never says
    Confirmed Unsafe (a person reproduced it) — the verdict already says
    "malicious". A clean file whose only decisive findings were suppressed by a
    baseline (a recorded human decision) is a Known False Positive; anything
    else that is not clean is Suspected until a person decides.
    """
    if verdict is Verdict.CLEAN:
        if any(f.suppressed is not None and f.effect is not Effect.NONE for f in findings):
            return Status.KNOWN_FALSE_POSITIVE
        return Status.NO_FINDINGS
    return Status.SUSPECTED


def counts(result: FileResult, include_unloaded: bool) -> bool:
    """Whether this file's verdict decides the aggregate."""
    return result.loaded_by_default or include_unloaded


def repo_verdict(results: Iterable[FileResult], *, include_unloaded: bool = False) -> RepoVerdict:
    """Aggregate: the worst verdict among files that count, naming the files that decide it.

    Files that standard loading never reads are weighed separately (``unloaded_verdict``)
    unless ``include_unloaded``; they are always listed in ``unloaded``.
    """
    results = list(results)
    counted = [r for r in results if counts(r, include_unloaded)]
    others = [r for r in results if not counts(r, include_unloaded)]
    verdict = max((r.verdict for r in counted), default=Verdict.CLEAN)
    unloaded_verdict = max((r.verdict for r in others), default=Verdict.CLEAN)
    deciding = tuple(r.path for r in counted if r.verdict is verdict and verdict is not Verdict.CLEAN)
    reasons: list[str] = []
    for r in counted:
        if r.verdict is verdict and verdict is not Verdict.CLEAN:
            label = "" if r.loaded_by_default else " [not read by standard loading; counted by --include-unloaded]"
            reasons.append(f"{r.path}{label}: {r.reasons[0] if r.reasons else r.verdict.value}")
        if len(reasons) == 3:
            break
    if len(deciding) > 3:
        reasons.append(f"... and {len(deciding) - 3} more file(s) {verdict.value}")
    if unloaded_verdict > Verdict.CLEAN:
        worst = [r.path for r in others if r.verdict is unloaded_verdict]
        reasons.append(
            f"not read by standard loading and weighed separately: {', '.join(worst[:3])}"
            f"{' ...' if len(worst) > 3 else ''} ({unloaded_verdict.value}; --include-unloaded counts them)"
        )
    return RepoVerdict(
        verdict=verdict,
        status=_aggregate_status(counted),
        deciding=deciding,
        reasons=tuple(reasons) or ("no file runs code on load",),
        unloaded_verdict=unloaded_verdict,
        unloaded=tuple(r.path for r in results if not r.loaded_by_default),
        include_unloaded=include_unloaded,
    )


def _aggregate_status(counted: Sequence[FileResult]) -> Status:
    statuses = {r.status for r in counted}
    for status in (Status.CONFIRMED_UNSAFE, Status.SUSPECTED, Status.KNOWN_FALSE_POSITIVE):
        if status in statuses:
            return status
    return Status.NO_FINDINGS


# Rules whose findings --strict turns into failures: calls and imports outside the allow-list.
STRICT_RULES = frozenset({"PKL003", "PKL004"})


@dataclass(frozen=True)
class Threshold:
    """What makes a scan fail (exit code 1): a file verdict or a finding severity at or above a level."""

    verdict: Verdict | None = Verdict.SUSPICIOUS
    severity: Severity | None = None

    @classmethod
    def parse(cls, text: str) -> Threshold:
        """``suspicious``/``malicious`` (file verdict) or ``info``/``low``/``medium``/``high``/``critical``."""
        value = text.strip().lower()
        if value in (Verdict.SUSPICIOUS.value, Verdict.MALICIOUS.value):
            return cls(verdict=Verdict(value), severity=None)
        try:
            return cls(verdict=None, severity=Severity(value))
        except ValueError:
            choices = ", ".join(FAIL_ON_CHOICES)
            raise ValueError(f"unknown --fail-on value {text!r}; expected one of {choices}") from None

    @property
    def label(self) -> str:
        return self.verdict.value if self.verdict is not None else (self.severity or Severity.INFO).value


FAIL_ON_CHOICES = ("suspicious", "malicious", "info", "low", "medium", "high", "critical")

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INCOMPLETE = 2


def failing_files(
    results: Iterable[FileResult], threshold: Threshold, *, strict: bool = False, include_unloaded: bool = False
) -> tuple[FileResult, ...]:
    """Files that reach the threshold (suppressed findings never count)."""
    return tuple(r for r in results if counts(r, include_unloaded) and _fails(r, threshold, strict))


def _fails(result: FileResult, threshold: Threshold, strict: bool) -> bool:
    # Review decisions (triage) outrank the rules: Confirmed Unsafe always fails, a Known False Positive never.
    if result.status is Status.CONFIRMED_UNSAFE:
        return True
    if result.status is Status.KNOWN_FALSE_POSITIVE:
        return False
    active = [f for f in result.findings if f.suppressed is None]
    if strict and any(f.rule_id in STRICT_RULES for f in active):
        return True
    if threshold.verdict is not None and result.verdict in (Verdict.SUSPICIOUS, Verdict.MALICIOUS):
        return result.verdict >= threshold.verdict
    if threshold.severity is not None:
        # Incomplete analysis has its own exit code; it is not a finding about content.
        return any(
            f.severity >= threshold.severity and f.effect not in (Effect.INCONCLUSIVE, Effect.NOT_ANALYSED)
            for f in active
        )
    return False


def exit_status(
    results: Sequence[FileResult],
    *,
    threshold: Threshold | None = None,
    strict: bool = False,
    include_unloaded: bool = False,
    missing: bool = False,
    allow_unknown: bool = False,
) -> int:
    """0: nothing reaches the threshold; 1: something does; 2: otherwise, something was not fully analysed.

    ``allow_unknown``: files whose content matches no known format (a README, a PNG passed by a
    pre-commit hook) do not make the exit code 2; they are still reported as not analysed.
    """
    threshold = threshold or Threshold()
    if failing_files(results, threshold, strict=strict, include_unloaded=include_unloaded):
        return EXIT_FINDINGS
    incomplete = {Verdict.INCONCLUSIVE, Verdict.NOT_ANALYSED}
    if missing or any(
        r.verdict in incomplete
        and r.status is not Status.KNOWN_FALSE_POSITIVE
        and not (allow_unknown and _unknown_content(r))
        for r in results
        if counts(r, include_unloaded)
    ):
        return EXIT_INCOMPLETE
    return EXIT_OK


# Findings that only say "no known format here" (GEN003 not analysed, GEN004 unrecognised).
_UNKNOWN_CONTENT_RULES = frozenset({"GEN003", "GEN004"})


def _unknown_content(result: FileResult) -> bool:
    decisive = [f for f in result.findings if f.suppressed is None and f.effect is not Effect.NONE]
    return bool(decisive) and all(f.rule_id in _UNKNOWN_CONTENT_RULES for f in decisive)
