"""The command line: ``scan hf://``, ``hunt`` feeding ``scan @file``, start-up cost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fakehub import FakeHub
from typer.testing import CliRunner

from modelsieve.cli import app
from modelsieve.hub.cli import parse_size

runner = CliRunner()


def test_scan_a_repository_by_id(hub_env: FakeHub) -> None:
    result = runner.invoke(app, ["scan", "hf://acme/evil", "--format", "json", "--no-progress"])
    data = json.loads(result.stdout)
    paths = [f["path"] for f in data["files"]]
    assert "hf://acme/evil@feedfacefeedfacefeedfacefeedfacefeedface/model.pkl" in paths
    assert data["summary"]["verdict"] == "malicious"
    assert result.exit_code == 1
    model = next(f for f in data["files"] if f["path"].endswith("/model.pkl"))
    assert model["verdict"] == "malicious"
    # The Hub's own opinion is reported beside modelsieve's.
    assert model["external"][0]["tool"] == "hf-hub"
    assert model["external"][0]["verdict"] == "dangerous"


def test_text_report_shows_the_hub_status_beside_the_verdict(hub_env: FakeHub) -> None:
    result = runner.invoke(app, ["scan", "hf://acme/evil", "--no-progress"])
    assert result.exit_code == 1
    block = result.stdout[result.stdout.index("MALICIOUS") :]
    assert "/model.pkl" in block.splitlines()[0]
    assert "hf-hub says: dangerous" in block


def test_gated_repository_exit_code_is_not_zero(hub_env: FakeHub) -> None:
    result = runner.invoke(app, ["scan", "hf://acme/gated@main/pytorch_model.bin", "--format", "json", "--no-progress"])
    data = json.loads(result.stdout)
    assert data["files"][0]["verdict"] == "inconclusive"
    assert any(f["rule_id"] == "HUB002" for f in data["files"][0]["findings"])
    assert result.exit_code == 2


def test_hunt_then_scan_at_file(hub_env: FakeHub, tmp_path: Path) -> None:
    listing = tmp_path / "candidates.txt"
    result = runner.invoke(app, ["hunt", "--search", "evil", "--output", str(listing)])
    assert result.exit_code == 0, result.output
    assert listing.read_text() == "hf://acme/evil\n"
    scanned = runner.invoke(app, ["scan", f"@{listing}", "--format", "json", "--no-progress"])
    data = json.loads(scanned.stdout)
    assert data["targets"] == ["hf://acme/evil"]
    assert any(f["path"].endswith("/model.pkl") for f in data["files"])


def test_hunt_json_and_filters(hub_env: FakeHub) -> None:
    result = runner.invoke(app, ["hunt", "--only-hub-unsafe", "--format", "json", "--max-size", "10MB"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [c["repo_id"] for c in data] == ["acme/evil"]
    assert data[0]["hub_verdict"] == "dangerous"


def test_hunt_reports_a_failing_hub(hub_env: FakeHub) -> None:
    # An endpoint where every route answers 404 (connection failures are retried for ~20 s by the library).
    result = runner.invoke(app, ["hunt", "--endpoint", f"{hub_env.url}/not-a-hub"])
    assert result.exit_code == 2
    assert "hunt failed" in result.output


@pytest.mark.parametrize(("text", "size"), [("1GB", 10**9), ("500MiB", 500 * 2**20), ("2048", 2048), ("1.5k", 1500)])
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_cli_start_does_not_load_the_hub_client() -> None:
    code = (
        "import sys, time; t = time.perf_counter(); import modelsieve.cli; dt = time.perf_counter() - t; "
        "print(dt, [m for m in sys.modules if m.startswith(('huggingface_hub', 'httpx', 'modelsieve.compare'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    seconds, loaded = out.stdout.split(" ", 1)
    assert loaded.strip() == "[]"
    assert float(seconds) < 0.5
