"""Agreement matrices and their Markdown/JSON views."""

from __future__ import annotations

import json

from modelsieve.compare.format import render_json, render_markdown
from modelsieve.compare.matrix import Comparison, ItemResult
from modelsieve.compare.peers import Outcome
from modelsieve.compare.run import label_of
from modelsieve.model import Verdict


def _item(name: str, **labels: str) -> ItemResult:
    return ItemResult(
        name, tuple((tool, Outcome(label, f"{tool} says {label}", 0.5)) for tool, label in labels.items())
    )


COMPARISON = Comparison(
    tools=("modelsieve", "picklescan"),
    items=(
        _item("a.pkl", modelsieve="dangerous", picklescan="dangerous"),
        _item("b.pkl", modelsieve="safe", picklescan="safe"),
        _item("c.pkl", modelsieve="dangerous", picklescan="safe"),
        _item("d|e.pkl", modelsieve="safe", picklescan="dangerous"),
        _item("f.pkl", modelsieve="error", picklescan="safe"),
    ),
    skipped_tools=(("fickling", "fickling not installed"),),
)


def test_pair_counts_and_disagreements() -> None:
    (pair,) = COMPARISON.pairs
    assert (pair.tool_a, pair.tool_b) == ("modelsieve", "picklescan")
    assert (pair.both_dangerous, pair.both_safe) == (1, 1)
    assert pair.only_a == ("c.pkl",)
    assert pair.only_b == ("d|e.pkl",)
    assert pair.errors == ("f.pkl",)
    assert pair.compared == 4 and pair.agreement == 0.5


def test_totals_count_labels_and_time() -> None:
    totals = {t.tool: t for t in COMPARISON.totals}
    assert (totals["modelsieve"].dangerous, totals["modelsieve"].safe, totals["modelsieve"].error) == (2, 2, 1)
    assert totals["picklescan"].duration_s == 2.5


def test_markdown() -> None:
    text = render_markdown(COMPARISON)
    assert "### modelsieve vs picklescan (agreement 50% of 4 compared)" in text
    assert "| **modelsieve dangerous** | 1 | 1 |" in text
    assert "- only modelsieve dangerous (1): `c.pkl`" in text
    assert "`d|e.pkl`" in text and "| d\\|e.pkl |" in text  # escaped inside table cells only
    assert "- fickling: fickling not installed" in text
    assert "| picklescan | 2 | 3 | 0 | 2.50 |" in text


def test_json_round_trip() -> None:
    data = json.loads(render_json(COMPARISON))
    assert data["tools"] == ["modelsieve", "picklescan"]
    assert data["pairs"][0]["only_a"] == ["c.pkl"]
    assert data["items"][4]["results"]["modelsieve"]["label"] == "error"
    assert data["skipped_tools"] == [{"tool": "fickling", "reason": "fickling not installed"}]


def test_modelsieve_verdicts_on_the_common_scale() -> None:
    assert label_of(Verdict.MALICIOUS) == label_of(Verdict.SUSPICIOUS) == "dangerous"
    assert label_of(Verdict.INCONCLUSIVE) == "error"
    assert label_of(Verdict.CLEAN) == label_of(Verdict.NOT_ANALYSED) == "safe"


def test_empty_comparison() -> None:
    empty = Comparison(tools=("modelsieve",), items=())
    assert empty.pairs == ()
    assert "## Totals" in render_markdown(empty)
