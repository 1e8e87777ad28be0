"""The rule catalog is the single source of truth: RULES.md, `rules --format json` and SARIF come from it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from modelsieve.cli import app
from modelsieve.model import Severity
from modelsieve.report import rulesdoc
from modelsieve.rules.catalog import CATALOG, all_rules, help_uri

ROOT = Path(__file__).resolve().parents[2]
ID = re.compile(r"^[A-Z]{2,5}\d{3}$")


def test_every_rule_is_complete() -> None:
    assert all_rules(), "catalog is empty"
    for rule in all_rules():
        assert ID.match(rule.id), rule.id
        assert rule.title and rule.description and rule.remediation, rule.id
        assert rule.cwe is None or (isinstance(rule.cwe, int) and rule.cwe > 0), rule.id
        assert isinstance(rule.severity, Severity)
        assert re.match(r"^\d+\.\d+\.\d+$", rule.added), rule.id
        assert all(ref.startswith("https://") for ref in rule.references), rule.id
        assert help_uri(rule).endswith("#" + rule.id.lower())


def test_catalog_is_sorted_by_id() -> None:
    ids = list(CATALOG)
    assert ids == sorted(ids)


def test_rules_md_is_in_sync_with_the_catalog() -> None:
    """Fails after rules are added until `python scripts/gen_rules_doc.py` is run."""
    committed = (ROOT / "RULES.md").read_text(encoding="utf-8")
    assert committed == rulesdoc.to_markdown(), "RULES.md is stale: run python scripts/gen_rules_doc.py"


def test_gen_rules_doc_check_mode_agrees() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_rules_doc.py"), "--check"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


def test_markdown_has_an_anchor_and_section_per_rule() -> None:
    text = rulesdoc.to_markdown()
    for rule in all_rules():
        assert f"[{rule.id}](#{rule.id.lower()})" in text
        assert f"\n### {rule.id}\n" in text
    assert rulesdoc.to_markdown() == text  # deterministic


def test_rules_command_json_matches_catalog() -> None:
    result = CliRunner().invoke(app, ["rules", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [r["id"] for r in doc["rules"]] == list(CATALOG)
    pkl001 = next(r for r in doc["rules"] if r["id"] == "PKL001")
    assert pkl001["severity"] == "critical" and pkl001["cwe"] == 502 and pkl001["effect"] == "malicious"


def test_rules_command_markdown_is_rules_md() -> None:
    result = CliRunner().invoke(app, ["rules", "--format", "markdown"])
    assert result.exit_code == 0
    assert result.stdout == rulesdoc.to_markdown()
