"""Text report for people: per file the verdict, what loading would do, and why."""

from __future__ import annotations

from modelsieve.model import FileResult, Finding, Report, Verdict

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
        if result.verdict is Verdict.CLEAN and not verbose:
            continue
        lines.extend(_file_block(result, verbose))
        lines.append("")
    clean = sum(1 for r in report.results if r.verdict is Verdict.CLEAN)
    if clean and not verbose:
        lines.append(f"{clean} file(s) clean.")
    for item in report.skipped:
        lines.append(f"skipped {item.path}: {item.reason}")
    s = report.summary
    lines.append(
        f"Overall: {_MARK[s.verdict]} ({s.status.label}) — {len(report.results)} file(s) in {report.duration_s:.2f}s"
    )
    lines.extend(f"  {r}" for r in s.reasons)
    return "\n".join(lines) + "\n"


def _file_block(result: FileResult, verbose: bool) -> list[str]:
    fmt = "+".join(result.formats) or "unknown"
    head = f"{_MARK[result.verdict]:<12} {result.path}  [{fmt}] ({result.status.label})"
    if not result.loaded_by_default:
        head += "  (not read by standard loading)"
    out = [head]
    out.extend(f"  why: {r}" for r in result.reasons)
    behaviours = result.behaviours
    if behaviours:
        out.append("  loading it would:")
        out.extend(f"    - {b.description}" for b in behaviours)
    indicators = result.indicators
    if indicators:
        out.append("  indicators:")
        out.extend(f"    - {i.kind.value}: {i.value}" for i in indicators)
    for f in result.findings:
        if f.effect.value == "none" and not verbose and f.severity.value == "info" and not f.indicators:
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
