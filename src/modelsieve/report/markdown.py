"""Markdown report, for pull-request comments and CI job summaries (GitHub-flavoured tables).

Text from scanned files is put in code spans with backticks and pipes neutralised,
so a hostile member name or URL cannot break out of its table cell or inject links.
"""

from __future__ import annotations

from modelsieve.model import FileResult, Report, Verdict
from modelsieve.report import summary

_ICON = {
    Verdict.MALICIOUS: "🛑 malicious",
    Verdict.SUSPICIOUS: "⚠️ suspicious",
    Verdict.INCONCLUSIVE: "❔ inconclusive",
    Verdict.NOT_ANALYSED: "➖ not analysed",
    Verdict.CLEAN: "✅ clean",
}


def _code(text: str) -> str:
    cleaned = text.replace("`", "'").replace("|", "¦").replace("\n", " ").replace("\r", " ")
    return f"`{cleaned}`" if cleaned else ""


def _plain(text: str) -> str:
    out = text.replace("\n", " ").replace("\r", " ").replace("|", "¦")
    for ch in "\\`*_[]<>#!":
        out = out.replace(ch, "\\" + ch)
    return out


def render(report: Report) -> str:
    s = report.summary
    lines = [
        f"## modelsieve: {_ICON[s.verdict]} ({s.status.label})",
        "",
        f"{len(report.results)} file(s) scanned by modelsieve {report.tool_version} "
        f"(ruleset {report.ruleset_version}).",
        "",
    ]
    lines += [f"- {_plain(r)}" for r in s.reasons]
    if s.unloaded:
        how = (
            "counted with --include-unloaded"
            if s.include_unloaded
            else f"weighed separately: {s.unloaded_verdict.value}"
        )
        lines += ["", f"Not read by standard loading ({how}): " + ", ".join(_code(p) for p in s.unloaded)]
    behaviours = summary.behaviours(report.results)
    if behaviours:
        lines += ["", "### What loading would do", "", "| File | Behaviour |", "| --- | --- |"]
        lines += [
            f"| {_code(b.path)} | {_code(b.value)}{' (suppressed)' if b.suppressed else ''} |" for b in behaviours
        ]
    indicators = summary.indicators(report.results)
    if indicators:
        lines += ["", "### Indicators", "", "| File | Kind | Value |", "| --- | --- | --- |"]
        lines += [f"| {_code(i.path)} | {i.kind} | {_code(i.value)}{_sup(i.suppressed)} |" for i in indicators]
    disagreements = summary.disagreements(report.results)
    if disagreements:
        lines += [
            "",
            "### Other tools disagree",
            "",
            "| File | modelsieve | Tool | Its verdict |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| {_code(d.path)} | {_ICON[d.verdict]} | {_code(d.tool)} | {_code(d.external)} {_plain(d.detail)} |"
            for d in disagreements
        ]
    flagged = [r for r in report.results if r.verdict is not Verdict.CLEAN]
    if flagged:
        lines += ["", "### Files", "", "| File | Verdict | Status | Why |", "| --- | --- | --- | --- |"]
        lines += [_file_row(r) for r in flagged]
    clean = len(report.results) - len(flagged)
    if clean:
        lines += ["", f"{clean} file(s) clean."]
    return "\n".join(lines) + "\n"


def _sup(flag: bool) -> str:
    return " (suppressed)" if flag else ""


def _file_row(r: FileResult) -> str:
    why = "<br>".join(_plain(x) for x in r.reasons)
    note = "" if r.loaded_by_default else " (not read by standard loading)"
    return f"| {_code(r.path)}{note} | {_ICON[r.verdict]} | {r.status.label} | {why} |"
