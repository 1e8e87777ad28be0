"""Text report for people: per file the verdict, what loading would do, and why."""

from __future__ import annotations

from modelsieve.model import Effect, FileResult, Finding, Report, Severity, Verdict
from modelsieve.report import summary

_MARK = {
    Verdict.MALICIOUS: "MALICIOUS",
    Verdict.SUSPICIOUS: "SUSPICIOUS",
    Verdict.INCONCLUSIVE: "INCONCLUSIVE",
    Verdict.NOT_ANALYSED: "NOT ANALYSED",
    Verdict.CLEAN: "clean",
}


def render(report: Report, *, verbose: bool = False) -> str:
    """The whole report as plain text (colour is the CLI's business)."""
    lines: list[str] = []
    for result in report.results:
        if result.verdict is Verdict.CLEAN and not verbose and not _has_observations(result):
            continue
        lines.extend(_file_block(result, verbose))
        lines.append("")
    quiet = [r for r in report.results if r.verdict is Verdict.CLEAN and not _has_observations(r)]
    if quiet and not verbose:
        lines.append(f"{len(quiet)} file(s) clean.")
    for item in report.skipped:
        lines.append(f"skipped {item.path}: {item.reason}")
    lines.extend(_summary(report))
    return "\n".join(lines) + "\n"


def _has_observations(result: FileResult) -> bool:
    # A clean file that another tool calls dangerous is shown: the reviewer must see the disagreement.
    return any(f.behaviour is not None or f.indicators or f.suppressed for f in result.findings) or bool(
        summary.disagreements((result,))
    )


def _summary(report: Report) -> list[str]:
    s = report.summary
    out = [
        f"Overall: {_MARK[s.verdict]} ({s.status.label}) — {len(report.results)} file(s) in {report.duration_s:.2f}s"
    ]
    out.extend(f"  {r}" for r in s.reasons)
    if s.deciding:
        out.append(f"  decided by: {', '.join(s.deciding)}")
    if s.unloaded:
        how = "counted with --include-unloaded" if s.include_unloaded else "weighed separately"
        out.append(f"  not read by standard loading ({how}): {', '.join(s.unloaded)}")
    behaviours = summary.behaviours(report.results)
    if behaviours:
        out.append("  loading would:")
        out.extend(f"    - {b.value}  [{b.path}]{_sup(b.suppressed)}" for b in behaviours)
    indicators = summary.indicators(report.results)
    if indicators:
        out.append("  indicators:")
        out.extend(f"    - {i.kind}: {i.value}  [{i.path}]{_sup(i.suppressed)}" for i in indicators)
    disagreements = summary.disagreements(report.results)
    if disagreements:
        out.append("  other tools disagree:")
        out.extend(
            f"    - {d.path}: modelsieve {d.verdict.value}, {d.tool} {d.external}{_detail(d.detail)}"
            for d in disagreements
        )
    return out


def _detail(detail: str) -> str:
    return f" ({detail})" if detail else ""


def _sup(flag: bool) -> str:
    return " (suppressed)" if flag else ""


def _file_block(result: FileResult, verbose: bool) -> list[str]:
    fmt = "+".join(result.formats) or "unknown"
    head = f"{_MARK[result.verdict]:<12} {result.path}  [{fmt}] ({result.status.label})"
    out = [head]
    if not result.loaded_by_default:
        out.append(f"  not read by standard loading: {result.unloaded_reason or 'training by-product'}")
    out.extend(f"  why: {r}" for r in result.reasons)
    out.extend(f"  {e.tool} says: {e.verdict}{_detail(e.detail)}" for e in result.external)
    if result.review_note:
        out.append(f"  review: {result.review_note}")
    behaviours = result.behaviours
    if behaviours:
        out.append("  loading it would:")
        out.extend(f"    - {b.description}" for b in behaviours)
    indicators = result.indicators
    if indicators:
        out.append("  indicators:")
        out.extend(f"    - {i.kind.value}: {i.value}" for i in indicators)
    for f in result.findings:
        if f.effect is Effect.NONE and not verbose and f.severity is Severity.INFO and not f.indicators:
            continue
        out.extend(_finding_lines(f))
    return out


def _finding_lines(f: Finding) -> list[str]:
    sup = f"  [suppressed: {f.suppressed}]" if f.suppressed else ""
    out = [f"  {f.rule_id} {f.severity.value.upper()}/{f.confidence.value} {f.message}{sup}"]
    out.append(f"      at {f.location.describe()}")
    if f.evidence:
        out.append(f"      evidence: {f.evidence}")
    return out
