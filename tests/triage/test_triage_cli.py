"""End-to-end: `modelsieve scan --record/--db` and `modelsieve triage …` through the real CLI."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from triage_factories import EVIL_PICKLE, finding, report, result
from typer.testing import CliRunner

import modelsieve
from modelsieve.cli import app
from modelsieve.model import Effect
from modelsieve.triage.store import open_store
from modelsieve.triage.targets import hash_file

runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a pickle that runs os.system on load and a plain safetensors file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evil.pkl").write_bytes(EVIL_PICKLE)
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    header += b" " * (-len(header) % 8)
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 4)
    return tmp_path


def _decisions_json(db_url: str) -> list[dict[str, object]]:
    out = run("triage", "export", "--db", db_url)
    assert out.exit_code == 0, out.output
    decisions: list[dict[str, object]] = json.loads(out.stdout)["decisions"]
    return decisions


def test_false_positive_stops_failing_until_the_bytes_change(files: Path, db_url: str) -> None:
    first = run("scan", "evil.pkl", "--db", db_url, "--record", "--no-progress")
    assert first.exit_code != 0, first.output  # malicious (1), or inconclusive (2) before the pickle engine
    assert "Recorded." in first.stderr
    listed = run("triage", "scans", "--db", db_url)
    assert listed.exit_code == 0 and "evil.pkl" in listed.stdout and "#1 " in listed.stdout
    decided = run(
        "triage", "set", "evil.pkl", "--status", "false-positive", "--note", "our own test fixture", "--by", "alice",
        "--db", db_url,
    )  # fmt: skip
    assert decided.exit_code == 0, decided.output
    assert "Known False Positive" in decided.stdout and hash_file(files / "evil.pkl") in decided.stdout
    again = run("scan", "evil.pkl", "--db", db_url, "--no-progress")
    assert again.exit_code == 0, again.output
    assert "(Known False Positive)" in again.stdout
    (files / "evil.pkl").write_bytes(EVIL_PICKLE.replace(b"true", b"echo"))
    changed = run("scan", "evil.pkl", "--db", db_url, "--no-progress")
    assert changed.exit_code != 0
    assert "Known False Positive" not in changed.stdout


def test_confirmed_unsafe_fails_a_file_the_rules_call_clean(files: Path, db_url: str) -> None:
    clean = run("scan", "model.safetensors", "--db", db_url, "--no-progress")
    assert clean.exit_code == 0, clean.output
    digest = hash_file(files / "model.safetensors")
    assert (
        run("triage", "set", digest, "-s", "confirmed-unsafe", "-n", "known bad upload", "--db", db_url).exit_code == 0
    )
    unsafe = run("scan", "model.safetensors", "--db", db_url, "--no-progress", "--verbose")
    assert unsafe.exit_code == 1
    assert "Confirmed Unsafe" in unsafe.stdout


def test_false_positive_on_one_fingerprint_suppresses_that_finding(files: Path, db_url: str) -> None:
    scanned = modelsieve.scan(str(files / "evil.pkl"))
    fingerprints = {f.fingerprint for f in scanned.results[0].findings}
    assert fingerprints
    for fp in fingerprints:
        done = run("triage", "set", fp, "--status", "false-positive", "--note", "fixture", "--db", db_url)
        assert done.exit_code == 0, done.output
    out = run("scan", "evil.pkl", "--db", db_url, "--no-progress", "--format", "json")
    assert out.exit_code == 0, out.output
    assert out.stdout.count("known false positive") >= len(fingerprints)  # kept in the report, marked


def test_record_reports_what_a_rule_set_update_changed(files: Path, db_url: str) -> None:
    digest = hash_file(files / "evil.pkl")
    old = finding("PKL999", "retired.subject", effect=Effect.SUSPICIOUS)
    with open_store(db_url) as store:  # type: ignore[attr-defined]
        store.record_scan(report(result("evil.pkl", digest, old), ruleset="2000.1.0"))
    out = run("scan", "evil.pkl", "--db", db_url, "--record", "--no-progress")
    assert "Changes since the last recorded scan" in out.stderr
    assert "rules 2000.1.0 -> " in out.stderr
    assert f"- PKL999 retired.subject  {old.fingerprint}" in out.stderr
    assert "suspicious -> " in out.stderr  # now malicious, or inconclusive before the pickle engine
    again = run("scan", "evil.pkl", "--db", db_url, "--record", "--no-progress")
    assert "No change since the last recorded scan (1 file(s) compared)" in again.stderr


def test_list_show_history_and_latest_wins(files: Path, db_url: str) -> None:
    for status, note in (("suspected", "looking"), ("false-positive", "fine after all")):
        assert run("triage", "set", "evil.pkl", "-s", status, "-n", note, "--by", "erin", "--db", db_url).exit_code == 0
    digest = hash_file(files / "evil.pkl")
    hist = run("triage", "history", "evil.pkl", "--db", db_url)
    assert hist.exit_code == 0
    lines = hist.stdout.strip().splitlines()
    assert len(lines) == 2 and "Suspected" in lines[0] and "Known False Positive" in lines[1]
    listed = run("triage", "list", "--db", db_url)
    assert digest in listed.stdout and "Known False Positive" in listed.stdout and "Suspected" not in listed.stdout
    assert "no decisions" in run("triage", "list", "--status", "confirmed-unsafe", "--db", db_url).stdout
    shown = run("triage", "show", digest, "--db", db_url)
    assert shown.exit_code == 0
    assert "status: Known False Positive" in shown.stdout and "history: 2 decision(s)" in shown.stdout
    assert "last recorded scan: #" in shown.stdout  # setting a decision on a new path recorded a scan of it


def test_repository_decisions(files: Path, db_url: str) -> None:
    assert (
        run("triage", "set", "hf://acme/model", "-s", "confirmed-unsafe", "-n", "typosquat", "--db", db_url).exit_code
        == 0
    )
    shown = run("triage", "show", "hf://acme/model", "--db", db_url)
    assert "Confirmed Unsafe" in shown.stdout and "typosquat" in shown.stdout


def test_export_import_is_idempotent_across_databases(files: Path, db_url: str, tmp_path: Path) -> None:
    run("triage", "set", "evil.pkl", "-s", "false-positive", "-n", "fixture", "--db", db_url)
    run("triage", "set", "hf://acme/model", "-s", "suspected", "-n", "watch", "--db", db_url)
    exported = tmp_path / "decisions.json"
    assert run("triage", "export", "-o", str(exported), "--db", db_url).exit_code == 0
    other = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    first = run("triage", "import", str(exported), "--db", other)
    assert first.exit_code == 0 and "imported 2 new decision(s); 0 already present" in first.stdout
    second = run("triage", "import", str(exported), "--db", other)
    assert second.exit_code == 0 and "imported 0 new decision(s); 2 already present" in second.stdout
    assert _decisions_json(other) == _decisions_json(db_url)
    # The imported decision applies to scans against the other database.
    assert run("scan", "evil.pkl", "--db", other, "--no-progress").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("triage", "set", "evil.pkl", "--status", "harmless", "--note", "x"), "unknown status 'harmless'"),
        (("triage", "set", "no-such-file.pkl", "--status", "suspected", "--note", "x"), "unknown target"),
        (("triage", "set", "hf://a/b/c", "--status", "suspected", "--note", "x"), "malformed repository"),
        (("triage", "set", ".", "--status", "suspected", "--note", "x"), "is a folder"),
        (("triage", "set", "evil.pkl", "--status", "suspected", "--note", "x", "--by", " "), "--by"),
        (("triage", "list", "--status", "nope"), "unknown status"),
        (("triage", "show", "v1:zz"), "unknown target"),
        (("triage", "import", "broken.json"), "not valid JSON"),
        (("triage", "import", "half-bad.json"), "decisions[1].status"),
        (("triage", "import", "missing.json"), "cannot read"),
    ],
)
def test_bad_input_exits_2_and_changes_nothing(files: Path, db_url: str, args: tuple[str, ...], message: str) -> None:
    assert run("triage", "set", "evil.pkl", "-s", "suspected", "-n", "baseline", "--db", db_url).exit_code == 0
    before = _decisions_json(db_url)
    (files / "broken.json").write_text('{"format": "modelsieve-triage-decisions", "schema_version": 1, "decisions": [')
    half = json.loads(run("triage", "export", "--db", db_url).stdout)
    good = dict(half["decisions"][0], uid="fresh-uid", note="would be new")
    half["decisions"] = [good, dict(good, uid="other-uid", status="unsafe-ish")]
    (files / "half-bad.json").write_text(json.dumps(half))
    out = run(*args, "--db", db_url)
    assert out.exit_code == 2, out.output
    assert message in out.stderr
    assert _decisions_json(db_url) == before


def test_bad_database_url_is_exit_2(files: Path) -> None:
    out = run("triage", "list", "--db", "mysql://somewhere/db")
    assert out.exit_code == 2 and "unsupported database URL scheme" in out.stderr
    scan = run("scan", "evil.pkl", "--db", "mysql://somewhere/db", "--no-progress")
    assert scan.exit_code == 2 and "unsupported database URL scheme" in scan.stderr


def test_environment_variable_and_default_database(files: Path, tmp_path: Path) -> None:
    default = tmp_path / "default" / "triage.sqlite3"  # see conftest: the per-user file, redirected
    plain = run("scan", "evil.pkl", "--no-progress")
    assert plain.exit_code != 0 and not default.exists()  # no database: nothing created, nothing applied
    assert run("scan", "evil.pkl", "--record", "--no-progress").exit_code != 0
    assert default.exists()  # --record creates the default database
    assert run("triage", "set", "evil.pkl", "-s", "false-positive", "-n", "x").exit_code == 0
    assert run("scan", "evil.pkl", "--no-progress").exit_code == 0  # the default database is used once it exists
    env_db = f"sqlite:///{tmp_path / 'env.sqlite3'}"
    assert run("scan", "evil.pkl", "--no-progress", env={"MODELSIEVE_DB": env_db}).exit_code != 0
    assert (
        run("triage", "set", "evil.pkl", "-s", "false-positive", "-n", "x", env={"MODELSIEVE_DB": env_db}).exit_code
        == 0
    )
    assert run("scan", "evil.pkl", "--no-progress", env={"MODELSIEVE_DB": env_db}).exit_code == 0


def test_empty_database_commands(files: Path, tmp_path: Path) -> None:
    assert "no decisions" in run("triage", "list").stdout
    assert "no recorded scans" in run("triage", "scans").stdout
    assert json.loads(run("triage", "export").stdout)["decisions"] == []
    assert not (tmp_path / "default" / "triage.sqlite3").exists()  # reading never creates the database


def test_cli_startup_does_not_import_sqlalchemy() -> None:
    import subprocess
    import sys

    code = "import sys, modelsieve.cli; print(any(m.startswith('sqlalchemy') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_database_makes_every_file_hashed(files: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import modelsieve.api

    seen: list[bool] = []
    real = modelsieve.api.scan

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(args[1].always_hash)
        return real(*args, **kwargs)

    monkeypatch.setattr(modelsieve.api, "scan", spy)
    run("scan", "evil.pkl", "--no-progress")
    run("scan", "evil.pkl", "--no-progress", "--db", db_url)
    assert seen == [False, True]  # decisions are keyed by sha256, even for files above the hash limit


def test_import_from_stdin(files: Path, db_url: str, tmp_path: Path) -> None:
    run("triage", "set", "hf://acme/model", "-s", "false-positive", "-n", "reviewed", "--db", db_url)
    exported = run("triage", "export", "--db", db_url).stdout
    other = f"sqlite:///{tmp_path / 'stdin.sqlite3'}"
    out = runner.invoke(app, ["triage", "import", "-", "--db", other], input=exported, catch_exceptions=False)
    assert out.exit_code == 0 and "imported 1 new decision(s)" in out.stdout
    assert "hf://acme/model" in run("triage", "list", "--status", "false-positive", "--db", other).stdout
