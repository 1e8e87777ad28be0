"""Baseline files: suppressed findings are marked, not dropped, and expire when the file changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reportfix import GETATTR, PARSE_ERROR, RCE, Writer
from typer.testing import CliRunner

from modelsieve import baseline
from modelsieve.api import scan
from modelsieve.cli import app
from modelsieve.model import Status, Verdict
from modelsieve.options import ScanOptions


def test_round_trip_is_deterministic(tmp_path: Path, write_fake: Writer) -> None:
    write_fake(tmp_path / "a.bin", GETATTR)
    write_fake(tmp_path / "b.bin", RCE)
    report = scan(tmp_path, ScanOptions(jobs=1))
    text = baseline.dumps(baseline.from_results(report.results))
    assert text == baseline.dumps(baseline.loads(text))
    doc = json.loads(text)
    assert doc["baseline_version"] == baseline.BASELINE_VERSION
    entry = next(f for f in doc["files"] if f["path"].endswith("a.bin"))
    assert len(entry["sha256"]) == 64
    assert entry["findings"] == [
        {
            "fingerprint": report.results[0].findings[0].fingerprint,
            "reason": "accepted in baseline",
            "rule_id": "PKL005",
        }
    ]


def test_suppressed_findings_are_kept_marked_and_do_not_count(tmp_path: Path, write_fake: Writer) -> None:
    write_fake(tmp_path / "yolo.pt", GETATTR)
    first = scan(tmp_path, ScanOptions(jobs=1))
    assert first.results[0].verdict is Verdict.SUSPICIOUS
    accepted = baseline.from_results(first.results, reason="bound method in YOLO checkpoint")
    second = scan(tmp_path, ScanOptions(jobs=1), baseline=accepted)
    result = second.results[0]
    assert len(result.findings) == 1
    assert result.findings[0].suppressed == "bound method in YOLO checkpoint"
    assert result.verdict is Verdict.CLEAN
    assert result.status is Status.KNOWN_FALSE_POSITIVE
    assert second.summary.status is Status.KNOWN_FALSE_POSITIVE


def test_suppression_expires_when_the_file_changes(tmp_path: Path, write_fake: Writer) -> None:
    path = write_fake(tmp_path / "yolo.pt", GETATTR)
    accepted = baseline.from_results(scan(tmp_path, ScanOptions(jobs=1)).results)
    # Same finding (same fingerprint), different bytes: the acceptance no longer applies.
    path.write_bytes(path.read_bytes() + b" ")
    result = scan(tmp_path, ScanOptions(jobs=1), baseline=accepted).results[0]
    assert result.findings[0].suppressed is None
    assert result.verdict is Verdict.SUSPICIOUS


def test_incomplete_analysis_cannot_be_baselined(tmp_path: Path, write_fake: Writer) -> None:
    write_fake(tmp_path / "broken.pt", PARSE_ERROR)
    report = scan(tmp_path, ScanOptions(jobs=1))
    accepted = baseline.from_results(report.results)
    assert accepted.suppressions == ()
    forged = baseline.Baseline(
        (
            baseline.Suppression(
                report.results[0].sha256 or "", report.results[0].findings[0].fingerprint, "GEN001", "x"
            ),
        )
    )
    assert scan(tmp_path, ScanOptions(jobs=1), baseline=forged).results[0].verdict is Verdict.INCONCLUSIVE


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", '{"baseline_version": 99, "files": []}', '{"baseline_version": 1, "files": [{"x": 1}]}'],
)
def test_malformed_baselines_are_rejected(text: str) -> None:
    with pytest.raises(baseline.BaselineError):
        baseline.loads(text)


def test_cli_write_then_use_baseline(tmp_path: Path, write_fake: Writer) -> None:
    repo = tmp_path / "repo"
    path = write_fake(repo / "yolo.pt", GETATTR)
    base = tmp_path / "baseline.json"
    runner = CliRunner()
    first = runner.invoke(app, ["scan", str(repo), "-j", "1", "--write-baseline", str(base)])
    assert first.exit_code == 1, first.output
    assert base.is_file()
    second = runner.invoke(app, ["scan", str(repo), "-j", "1", "--baseline", str(base), "--format", "json"])
    assert second.exit_code == 0, second.output
    doc = json.loads(second.stdout)
    assert doc["files"][0]["findings"][0]["suppressed"] == "accepted in baseline"
    path.write_bytes(path.read_bytes() + b"\n")
    third = runner.invoke(app, ["scan", str(repo), "-j", "1", "--baseline", str(base)])
    assert third.exit_code == 1


def test_cli_rejects_a_bad_baseline(tmp_path: Path, write_fake: Writer) -> None:
    write_fake(tmp_path / "a.pt")
    bad = tmp_path / "b.json"
    bad.write_text("{}")
    result = CliRunner().invoke(app, ["scan", str(tmp_path / "a.pt"), "--baseline", str(bad)])
    assert result.exit_code == 3
    assert "baseline" in result.stderr
