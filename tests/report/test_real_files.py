"""The reporting layer on real files scanned by the real format engines (no stand-in scanner)."""

from __future__ import annotations

import json
import struct
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from modelsieve.api import scan
from modelsieve.cli import app
from modelsieve.model import Verdict
from modelsieve.options import ScanOptions
from modelsieve.report import html, jsonfmt, sarif

exploits = pytest.importorskip("fixtures.pickle_exploits")
DATA = Path(__file__).resolve().parents[1] / "data"


def _safetensors(path: Path) -> Path:
    data = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, len(data)]}}).encode()
    header += b" " * (-len(header) % 8)
    path.write_bytes(struct.pack("<Q", len(header)) + header + data)
    return path


@pytest.fixture
def real_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    marker = str(tmp_path / "MARKER")
    _safetensors(repo / "model.safetensors")
    (repo / "model.pkl").write_bytes(exploits.BY_NAME["os_system_proto2"].build(marker))
    (repo / "training_args.bin").write_bytes(exploits.BY_NAME["os_system_proto4"].build(marker))
    return repo


def test_real_attack_report_in_every_format(real_repo: Path) -> None:
    report = scan(real_repo, ScanOptions(jobs=1))
    by_name = {Path(r.path).name: r for r in report.results}
    assert by_name["model.safetensors"].verdict is Verdict.CLEAN
    assert by_name["model.pkl"].verdict is Verdict.MALICIOUS
    assert not by_name["training_args.bin"].loaded_by_default
    assert report.summary.verdict is Verdict.MALICIOUS
    assert report.summary.deciding == (str(real_repo / "model.pkl"),)
    assert any(b.kind.value == "runs-command" for b in by_name["model.pkl"].behaviours)

    schema = json.loads(files("modelsieve.report").joinpath("schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(json.loads(jsonfmt.render(report)))
    sarif_schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    doc = sarif.to_dict(report, base_dir=real_repo.parent)
    jsonschema.validators.validator_for(sarif_schema)(sarif_schema).validate(doc)
    assert any(r["ruleId"] == "PKL001" and r["level"] == "error" for r in doc["runs"][0]["results"])
    page = html.render(report)
    assert "Overall: Malicious" in page and "model.pkl" in page


def test_real_attack_exit_codes(real_repo: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["scan", "-j", "1", str(real_repo)]).exit_code == 1
    assert runner.invoke(app, ["scan", "-j", "1", str(real_repo / "model.safetensors")]).exit_code == 0
    (real_repo / "model.pkl").unlink()
    # Only the training by-product is malicious now: reported, weighed separately, counted on request.
    result = runner.invoke(app, ["scan", "-j", "1", str(real_repo)])
    assert result.exit_code == 0, result.output
    assert "training_args.bin" in result.stdout and "weighed separately" in result.stdout
    assert runner.invoke(app, ["scan", "-j", "1", "--include-unloaded", str(real_repo)]).exit_code == 1
