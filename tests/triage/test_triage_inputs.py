"""Parsing what people type (targets, statuses) and what teams exchange (decision JSON)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from modelsieve.model import Status
from modelsieve.triage.exchange import SCHEMA_VERSION, export_json, parse_import
from modelsieve.triage.targets import parse_status, parse_target
from modelsieve.triage.types import Decision, TargetKind, TriageError

SHA = "ab" * 32
FP = "v1:0123456789abcdef0123456789abcdef"


def test_targets_of_every_form(tmp_path: Path) -> None:
    assert parse_target(SHA.upper()).value == SHA
    assert parse_target(SHA).kind is TargetKind.SHA256
    assert parse_target(FP).kind is TargetKind.FINGERPRINT
    repo = parse_target("hf://acme/bert-base")
    assert (repo.kind, repo.value) == (TargetKind.REPO, "hf://acme/bert-base")
    assert parse_target("hf://gpt2").kind is TargetKind.REPO
    assert parse_target("hf://datasets/acme/corpus").value == "hf://datasets/acme/corpus"
    f = tmp_path / "model.bin"
    f.write_bytes(b"some bytes")
    by_path = parse_target(str(f))
    assert by_path.kind is TargetKind.SHA256
    assert by_path.value == hashlib.sha256(b"some bytes").hexdigest()
    assert by_path.source == str(f)


@pytest.mark.parametrize("bad", ["", "nonexistent-file.pkl", "abc123", "v1:xyz", "hf://", "hf://a/b/c", "s3://x/y"])
def test_unknown_target_forms_are_rejected(bad: str) -> None:
    with pytest.raises(TriageError):
        parse_target(bad)


def test_a_folder_is_not_a_target(tmp_path: Path) -> None:
    with pytest.raises(TriageError, match="folder"):
        parse_target(str(tmp_path))


def test_statuses() -> None:
    assert parse_status("false-positive") is Status.KNOWN_FALSE_POSITIVE
    assert parse_status("Confirmed-Unsafe") is Status.CONFIRMED_UNSAFE
    assert parse_status("suspected") is Status.SUSPECTED
    with pytest.raises(TriageError, match="use one of: confirmed-unsafe, false-positive, suspected"):
        parse_status("no-findings")
    with pytest.raises(TriageError):
        parse_status("safe")


def _decision(uid: str = "u1") -> Decision:
    return Decision(
        uid=uid,
        kind=TargetKind.SHA256,
        target=SHA,
        status=Status.KNOWN_FALSE_POSITIVE,
        note="checked by hand",
        decided_by="carol",
        decided_at="2026-11-22T10:00:00.000000+00:00",
        known_fingerprints=(FP,),
        known_sha256s=None,
    )


def test_export_import_round_trip() -> None:
    repo = Decision(
        uid="r1",
        kind=TargetKind.REPO,
        target="hf://acme/model",
        status=Status.CONFIRMED_UNSAFE,
        note="",
        decided_by="dave",
        decided_at="2026-11-22T11:00:00+00:00",
        known_fingerprints=None,
        known_sha256s=(SHA,),
    )
    text = export_json([_decision(), repo], exported_at="2026-11-22T12:00:00+00:00", tool_version="0.1.0")
    doc = json.loads(text)
    assert doc["schema_version"] == SCHEMA_VERSION and doc["format"] == "modelsieve-triage-decisions"
    assert parse_import(text) == [_decision(), repo]


def _doc(**decision: object) -> str:
    base = json.loads(export_json([_decision()], exported_at="2026-11-22T12:00:00+00:00", tool_version="0.1.0"))
    base["decisions"][0].update(decision)
    return json.dumps(base)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "JSON object"),
        ('{"format": "other", "schema_version": 1, "decisions": []}', "not a modelsieve decisions export"),
        ('{"format": "modelsieve-triage-decisions", "schema_version": 99, "decisions": []}', "newer"),
        ('{"format": "modelsieve-triage-decisions", "schema_version": "1", "decisions": []}', "integer"),
        ('{"format": "modelsieve-triage-decisions", "schema_version": 1, "decisions": {}}', "must be a list"),
        (_doc(status="maybe"), r"decisions\[0\]\.status: unknown status"),
        (_doc(target_kind="path"), r"decisions\[0\]\.target_kind"),
        (_doc(target="not-a-hash"), r"decisions\[0\]\.target"),
        (_doc(target_kind="fingerprint"), "not a canonical fingerprint target"),
        (_doc(decided_at="yesterday"), "not an ISO-8601 time"),
        (_doc(decided_at="2026-11-22T10:00:00"), "time zone missing"),
        (_doc(known_fingerprints=["nope"]), "known_fingerprints"),
        (_doc(uid=""), r"decisions\[0\]\.uid"),
        (_doc(extra=1), "unknown field"),
        (_doc(decided_by=None), "decided_by"),
    ],
)
def test_malformed_imports_name_the_defect(text: str, message: str) -> None:
    with pytest.raises(TriageError, match=message):
        parse_import(text)


def test_conflicting_duplicate_uids_are_rejected_identical_ones_merged() -> None:
    one = json.loads(_doc())
    one["decisions"].append(dict(one["decisions"][0]))
    assert len(parse_import(json.dumps(one))) == 1
    one["decisions"][1]["note"] = "different"
    with pytest.raises(TriageError, match="appears twice"):
        parse_import(json.dumps(one))


def test_missing_postgresql_skips_locally_but_fails_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    from triage_pg import unavailable

    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL not available: no initdb"):
        unavailable("no initdb")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run on CI: no initdb"):
        unavailable("no initdb")
