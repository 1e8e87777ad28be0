"""`modelsieve scan`: exit codes, thresholds, output formats, unloaded files."""

from __future__ import annotations

import json
from pathlib import Path

from reportfix import GETATTR, PARSE_ERROR, RCE, UNKNOWN_CALL, URL_INFO, Writer
from typer.testing import CliRunner

from modelsieve.cli import app

runner = CliRunner()


def _scan(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["scan", "-j", "1", *args])
    return result.exit_code, result.stdout, result.stderr


def test_exit_codes(tmp_path: Path, write_fake: Writer) -> None:
    clean = write_fake(tmp_path / "clean.pt")
    bad = write_fake(tmp_path / "bad.pt", RCE)
    broken = write_fake(tmp_path / "broken.pt", PARSE_ERROR)
    assert _scan(str(clean))[0] == 0
    assert _scan(str(bad))[0] == 1
    assert _scan(str(broken))[0] == 2
    assert _scan(str(tmp_path / "missing.pt"))[0] == 2
    assert _scan(str(clean), str(broken), str(bad))[0] == 1


def test_exit_codes_are_documented_in_help() -> None:
    result = runner.invoke(app, ["scan", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for needle in ("Exit codes", "0 ", "1 ", "2 ", "--fail-on", "suspicious", "malicious", "critical"):
        assert needle in result.stdout, needle


def test_fail_on_levels(tmp_path: Path, write_fake: Writer) -> None:
    suspicious = write_fake(tmp_path / "s.pt", GETATTR)
    info = write_fake(tmp_path / "i.pt", URL_INFO)
    assert _scan(str(suspicious), "--fail-on", "malicious")[0] == 0
    assert _scan(str(suspicious), "--fail-on", "high")[0] == 1
    assert _scan(str(suspicious), "--fail-on", "critical")[0] == 0
    assert _scan(str(info))[0] == 0
    assert _scan(str(info), "--fail-on", "info")[0] == 1
    code, _, err = _scan(str(info), "--fail-on", "bogus")
    assert code == 3 and "--fail-on" in err


def test_strict(tmp_path: Path, write_fake: Writer) -> None:
    unknown = write_fake(tmp_path / "u.pt", UNKNOWN_CALL)
    assert _scan(str(unknown), "--fail-on", "malicious")[0] == 0
    assert _scan(str(unknown), "--fail-on", "malicious", "--strict")[0] == 1


def test_select_and_ignore(tmp_path: Path, write_fake: Writer) -> None:
    bad = write_fake(tmp_path / "bad.pt", RCE, GETATTR)
    code, out, _ = _scan(str(bad), "--ignore", "PKL001", "--format", "json")
    doc = json.loads(out)
    assert [f["rule_id"] for f in doc["files"][0]["findings"]] == ["PKL005"] and code == 1
    code, out, _ = _scan(str(bad), "--select", "pkl001", "--format", "json")
    assert [f["rule_id"] for f in json.loads(out)["files"][0]["findings"]] == ["PKL001"]
    # Incomplete analysis cannot be hidden by --ignore.
    broken = write_fake(tmp_path / "broken.pt", PARSE_ERROR)
    assert _scan(str(broken), "--ignore", "GEN")[0] == 2


def test_include_unloaded_decides_whether_by_products_count(tmp_path: Path, write_fake: Writer) -> None:
    repo = tmp_path / "repo"
    write_fake(repo / "model.safetensors")
    write_fake(repo / "training_args.bin", RCE)
    code, out, _ = _scan(str(repo))
    assert code == 0
    assert "not read by standard loading" in out and "training_args.bin" in out
    assert _scan(str(repo), "--include-unloaded")[0] == 1


def test_output_formats(tmp_path: Path, write_fake: Writer) -> None:
    bad = write_fake(tmp_path / "bad.pt", RCE)
    code, out, _ = _scan(str(bad), "--format", "sarif")
    assert code == 1 and json.loads(out)["version"] == "2.1.0"
    code, out, _ = _scan(str(bad), "-f", "html")
    assert out.startswith("<!DOCTYPE html>")
    target = tmp_path / "report.json"
    code, out, _ = _scan(str(bad), "-f", "json", "-o", str(target))
    assert out == "" and json.loads(target.read_text())["summary"]["verdict"] == "malicious"


def test_a_folder_named_through_a_symbolic_link_is_scanned(tmp_path: Path, write_fake: Writer) -> None:
    """A link given on the command line is what the person asked for: followed (a benchmark once got
    'clean, 0 files' with exit 0 for a linked folder of malicious files)."""
    write_fake(tmp_path / "real" / "bad.pt", RCE)
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    code, out, _ = _scan(str(tmp_path / "link"))
    assert code == 1
    assert str(tmp_path / "link" / "bad.pt") in out


def test_links_found_inside_a_scanned_folder_are_not_followed(tmp_path: Path, write_fake: Writer) -> None:
    write_fake(tmp_path / "elsewhere" / "bad.pt", RCE)
    write_fake(tmp_path / "repo" / "clean.pt")
    (tmp_path / "repo" / "linked.pt").symlink_to(tmp_path / "elsewhere" / "bad.pt")
    (tmp_path / "repo" / "linked_dir").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    code, out, _ = _scan(str(tmp_path / "repo"), "-f", "json")
    assert code == 0
    report = json.loads(out)
    assert [r["path"] for r in report["files"]] == [str(tmp_path / "repo" / "clean.pt")]
    assert {s["reason"].split(";")[0] for s in report["skipped"]} == {
        f"symbolic link to {tmp_path / 'elsewhere' / 'bad.pt'}",
        f"symbolic link to {tmp_path / 'elsewhere'}",
    }


def test_usage_errors_exit_3_not_2(tmp_path: Path) -> None:
    """2 means 'not fully analysed'; a typo on the command line must not look like that to a CI script."""
    import subprocess
    import sys

    def code(*args: str) -> int:
        cmd = [sys.executable, "-m", "modelsieve", "scan", *args]
        return subprocess.run(cmd, capture_output=True, timeout=120, check=False).returncode

    assert code("--no-such-option", str(tmp_path)) == 3
    assert code() == 3
    assert code(str(tmp_path / "missing.pt")) == 2
    assert code("--help") == 0
