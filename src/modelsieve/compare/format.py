"""Markdown and JSON views of a Comparison (pure: values in, text out)."""

from __future__ import annotations

import json
from typing import Any

from modelsieve.compare.matrix import Comparison, PairAgreement


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(comparison: Comparison, *, max_listed: int = 20) -> str:
    lines = ["# Scanner comparison", ""]
    lines += ["## Per input", ""]
    lines.append("| input | " + " | ".join(comparison.tools) + " |")
    lines.append("|---|" + "---|" * len(comparison.tools))
    for item in comparison.items:
        cells = [_cell(item.item)]
        for tool in comparison.tools:
            outcome = dict(item.outcomes).get(tool)
            cells.append(
                _cell(
                    f"{outcome.label} ({outcome.detail[:60]})"
                    if outcome and outcome.detail
                    else (outcome.label if outcome else "error")
                )
            )
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Totals", "", "| tool | dangerous | safe | error | time (s) |", "|---|---|---|---|---|"]
    for t in comparison.totals:
        lines.append(f"| {t.tool} | {t.dangerous} | {t.safe} | {t.error} | {t.duration_s:.2f} |")
    lines += ["", "## Agreement by pair", ""]
    for pair in comparison.pairs:
        lines += _pair_markdown(pair, max_listed)
    if comparison.skipped_tools:
        lines += ["## Tools not run", ""]
        lines += [f"- {name}: {why}" for name, why in comparison.skipped_tools]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _pair_markdown(pair: PairAgreement, max_listed: int) -> list[str]:
    a, b = pair.tool_a, pair.tool_b
    rate = "n/a" if pair.agreement is None else f"{pair.agreement:.0%}"
    lines = [
        f"### {a} vs {b} (agreement {rate} of {pair.compared} compared)",
        "",
        f"| | {b} dangerous | {b} safe |",
        "|---|---|---|",
        f"| **{a} dangerous** | {pair.both_dangerous} | {len(pair.only_a)} |",
        f"| **{a} safe** | {len(pair.only_b)} | {pair.both_safe} |",
        "",
    ]
    for title, items in (
        (f"only {a} dangerous", pair.only_a),
        (f"only {b} dangerous", pair.only_b),
        ("error in either", pair.errors),
    ):
        if items:
            shown = ", ".join(f"`{i}`" for i in items[:max_listed])
            more = f" and {len(items) - max_listed} more" if len(items) > max_listed else ""
            lines.append(f"- {title} ({len(items)}): {shown}{more}")
    lines.append("")
    return lines


def to_dict(comparison: Comparison) -> dict[str, Any]:
    return {
        "tools": list(comparison.tools),
        "items": [
            {
                "item": item.item,
                "results": {
                    tool: {"label": o.label, "detail": o.detail, "duration_s": o.duration_s}
                    for tool, o in item.outcomes
                },
            }
            for item in comparison.items
        ],
        "totals": [
            {"tool": t.tool, "dangerous": t.dangerous, "safe": t.safe, "error": t.error, "duration_s": t.duration_s}
            for t in comparison.totals
        ],
        "pairs": [
            {
                "a": p.tool_a,
                "b": p.tool_b,
                "both_dangerous": p.both_dangerous,
                "both_safe": p.both_safe,
                "only_a": list(p.only_a),
                "only_b": list(p.only_b),
                "errors": list(p.errors),
                "agreement": p.agreement,
            }
            for p in comparison.pairs
        ],
        "skipped_tools": [{"tool": n, "reason": r} for n, r in comparison.skipped_tools],
    }


def render_json(comparison: Comparison) -> str:
    return json.dumps(to_dict(comparison), indent=2, sort_keys=False) + "\n"
