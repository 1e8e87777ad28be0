"""Finding fingerprints: stable across offsets, wording and location on disk; versioned."""

from __future__ import annotations

from modelsieve.model import FINGERPRINT_VERSION, Location
from modelsieve.rules import pickle_rules


def _finding(path: str = "a/model.bin", members: tuple[str, ...] = (), subject: str = "os.system", **at: object):
    loc = Location(path=path, members=members).at(**at)  # type: ignore[arg-type]
    return pickle_rules.DANGEROUS_CALL.finding(loc, "message", subject=subject)


def test_fingerprint_ignores_offsets_opcode_index_and_detail() -> None:
    base = _finding(offset=10, opcode_index=3)
    assert base.fingerprint == _finding(offset=9999, opcode_index=40).fingerprint
    assert base.fingerprint == _finding(detail="layer lambda_1").fingerprint


def test_fingerprint_ignores_message_evidence_and_path_on_disk() -> None:
    a = _finding(path="/home/x/repo/model.bin")
    b = pickle_rules.DANGEROUS_CALL.finding(
        Location(path="/tmp/checkout/model.bin"), "other words", subject="os.system", evidence="GLOBAL os system"
    )
    assert a.fingerprint == b.fingerprint


def test_fingerprint_depends_on_rule_subject_and_member_chain() -> None:
    base = _finding()
    assert base.fingerprint != _finding(subject="posix.system").fingerprint
    assert base.fingerprint != _finding(members=("archive/data.pkl",)).fingerprint
    other_rule = pickle_rules.DANGEROUS_REFERENCE.finding(Location("a/model.bin"), "m", subject="os.system")
    assert base.fingerprint != other_rule.fingerprint


def test_fingerprint_is_versioned() -> None:
    fp = _finding().fingerprint
    prefix, digest = fp.split(":")
    assert prefix == f"v{FINGERPRINT_VERSION}"
    assert len(digest) == 32 and int(digest, 16) >= 0


def test_fingerprint_ignores_positions_in_synthetic_layer_names() -> None:
    a = _finding(members=("data.pkl", "<nested pickle at opcode #12>"))
    b = _finding(members=("data.pkl", "<nested pickle at opcode #40>"))
    assert a.fingerprint == b.fingerprint
    tail_a = _finding(members=("<bytes after tensor data @1024>",))
    tail_b = _finding(members=("<bytes after tensor data @2048>",))
    assert tail_a.fingerprint == tail_b.fingerprint
    # Real member names keep their digits: different shards are different places.
    assert (
        _finding(members=("model-00001-of-00002.bin",)).fingerprint
        != _finding(members=("model-00002-of-00002.bin",)).fingerprint
    )
