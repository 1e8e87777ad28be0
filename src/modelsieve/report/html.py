"""Single-file HTML report a reviewer can open anywhere: inline CSS, no script, no external asset.

Every piece of text that comes from a scanned file (messages, evidence, URLs,
member names, paths) is HTML-escaped: a model file is hostile input, and its
strings must not become markup in the reviewer's browser.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from modelsieve.model import FileResult, Finding, Report, Verdict
from modelsieve.report import summary
from modelsieve.rules.catalog import CATALOG, help_uri

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1b1f24;background:#fff}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:1.75rem 0 .5rem;border-bottom:1px solid #d0d7de}
.meta{color:#57606a}.box{padding:1rem 1.25rem;border-radius:6px;margin:1rem 0;border:1px solid #d0d7de}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #d0d7de;padding:.35rem .5rem;
text-align:left;vertical-align:top}th{background:#f6f8fa}code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;
font-size:12.5px;word-break:break-all}.v{font-weight:600;padding:.1rem .45rem;border-radius:4px;white-space:nowrap}
.malicious{background:#ffebe9;color:#a40e26}.suspicious{background:#fff8c5;color:#7d4e00}
.inconclusive,.not_analysed{background:#ddf4ff;color:#0a3069}.clean{background:#dafbe1;color:#116329}
.sup{opacity:.6}.small{font-size:12px;color:#57606a}ul{margin:.25rem 0 .25rem 1.25rem;padding:0}
"""

_LABEL = {
    Verdict.MALICIOUS: "Malicious",
    Verdict.SUSPICIOUS: "Suspicious",
    Verdict.INCONCLUSIVE: "Inconclusive",
    Verdict.NOT_ANALYSED: "Not analysed",
    Verdict.CLEAN: "Clean",
}


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _badge(verdict: Verdict) -> str:
    return f'<span class="v {verdict.value}">{_e(_LABEL[verdict])}</span>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], empty: str) -> str:
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return f"<p class=small>{_e(empty)}</p>"
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(report: Report) -> str:
    """The whole report as one self-contained HTML document."""
    s = report.summary
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>modelsieve report: {_e(_LABEL[s.verdict])}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>modelsieve report</h1>",
        f'<p class="meta">modelsieve {_e(report.tool_version)} · ruleset {_e(report.ruleset_version)} · '
        f"started {_e(report.started_at)} · {len(report.results)} file(s) in {report.duration_s:.2f}s · "
        f"targets: {', '.join(f'<code>{_e(t)}</code>' for t in report.targets)}</p>",
        _overall(report),
        "<h2>What loading would do</h2>",
        _table(
            ("File", "Kind", "Behaviour"),
            (
                (f"<code>{_e(o.path)}</code>", _e(o.kind), _e(o.value) + _sup(o.suppressed))
                for o in summary.behaviours(report.results)
            ),
            "No reconstructed behaviour.",
        ),
        "<h2>Indicators</h2>",
        _table(
            ("File", "Kind", "Value", "Note"),
            (
                (
                    f"<code>{_e(o.path)}</code>",
                    _e(o.kind),
                    f"<code>{_e(o.value)}</code>" + _sup(o.suppressed),
                    _e(o.note),
                )
                for o in summary.indicators(report.results)
            ),
            "No network address, command line, executable or encoded blob found.",
        ),
        *_disagreements(report),
        "<h2>Files</h2>",
        _table(("File", "Format", "Verdict", "Status", "Why"), (_file_row(r) for r in report.results), "No files."),
        "<h2>Findings</h2>",
        _table(
            ("File", "Rule", "Severity", "Message", "Location", "Evidence", "Fingerprint"),
            (_finding_row(r, f) for r in report.results for f in r.findings),
            "No findings.",
        ),
    ]
    if report.skipped:
        parts.append("<h2>Skipped</h2>")
        parts.append(
            _table(
                ("Path", "Reason"),
                ((f"<code>{_e(i.path)}</code>", _e(i.reason)) for i in report.skipped),
                "",
            )
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _sup(flag: bool) -> str:
    return ' <span class="small">(suppressed)</span>' if flag else ""


def _disagreements(report: Report) -> list[str]:
    found = summary.disagreements(report.results)
    if not found:
        return []
    rows = (
        (f"<code>{_e(d.path)}</code>", _badge(d.verdict), _e(d.tool), f"{_e(d.external)} {_e(d.detail)}") for d in found
    )
    return ["<h2>Other tools disagree</h2>", _table(("File", "modelsieve", "Tool", "Its verdict"), rows, "")]


def _overall(report: Report) -> str:
    s = report.summary
    items = "".join(f"<li>{_e(r)}</li>" for r in s.reasons)
    out = [
        f'<div class="box {s.verdict.value}"><strong>Overall: {_e(_LABEL[s.verdict])}</strong> · '
        f"status: <strong>{_e(s.status.label)}</strong><ul>{items}</ul>"
    ]
    if s.deciding:
        files = ", ".join(f"<code>{_e(p)}</code>" for p in s.deciding)
        out.append(f"<p>Decided by: {files}</p>")
    if s.unloaded:
        files = ", ".join(f"<code>{_e(p)}</code>" for p in s.unloaded)
        how = (
            "counted in the verdict (--include-unloaded)"
            if s.include_unloaded
            else f"weighed separately: {_e(_LABEL[s.unloaded_verdict])}"
        )
        out.append(f"<p>Not read by standard loading ({how}): {files}</p>")
    counts = summary.verdict_counts(report)
    if not s.include_unloaded and s.unloaded_verdict > Verdict.CLEAN:
        out.append(
            f'<p class="v {s.unloaded_verdict.value}">Files that standard loading never reads are '
            f"{_e(_LABEL[s.unloaded_verdict])}: do not load them by hand.</p>"
        )
    out.append(
        "<p class=small>"
        + " · ".join(f"{_e(_LABEL[Verdict(k)])}: {n}" for k, n in reversed(list(counts.items())))
        + "</p></div>"
    )
    return "".join(out)


def _file_row(r: FileResult) -> tuple[str, ...]:
    why = "".join(f"<li>{_e(x)}</li>" for x in r.reasons)
    path = f"<code>{_e(r.path)}</code>"
    if r.sha256:
        path += f'<div class="small mono">sha256 {_e(r.sha256)}</div>'
    if not r.loaded_by_default:
        path += f'<div class="small">not read by standard loading: {_e(r.unloaded_reason or "")}</div>'
    status = _e(r.status.label)
    if r.review_note:
        status += f'<div class="small">{_e(r.review_note)}</div>'
    for e in r.external:
        status += f'<div class="small">{_e(e.tool)}: {_e(e.verdict)}{_e(f" ({e.detail})" if e.detail else "")}</div>'
    return (path, _e("+".join(r.formats) or "unknown"), _badge(r.verdict), status, f"<ul>{why}</ul>")


def _finding_row(r: FileResult, f: Finding) -> tuple[str, ...]:
    rule = CATALOG.get(f.rule_id)
    title = rule.title if rule is not None else ""
    rule_cell = f"<code>{_e(f.rule_id)}</code>"
    if rule is not None:
        rule_cell = f'<a href="{_e(help_uri(rule))}">{rule_cell}</a>'
    rule_cell += f'<div class="small">{_e(title)}</div>'
    message = _e(f.message)
    if f.behaviour is not None:
        message += f'<div class="small">loading would: {_e(f.behaviour.description)}</div>'
    if f.suppressed is not None:
        message += f'<div class="small">suppressed: {_e(f.suppressed)}</div>'
    row = (
        f"<code>{_e(r.path)}</code>",
        rule_cell,
        _e(f"{f.severity.value} / {f.confidence.value} / {f.effect.value}"),
        message,
        f"<code>{_e(f.location.describe())}</code>",
        f"<code>{_e(f.evidence)}</code>" if f.evidence else "",
        f'<span class="mono small">{_e(f.fingerprint)}</span>',
    )
    if f.suppressed is not None:
        return tuple(f'<span class="sup">{cell}</span>' for cell in row)
    return row
