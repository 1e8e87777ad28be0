"""Hostile containers: truncated, corrupt, empty and encrypted input gives findings, never exceptions or clean."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from ct_payloads import evil_pickle
from ct_scan import describe, of_rule, scan_one
from ct_zipcraft import Member, build_zip, torch_members
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelsieve.model import Verdict


def _evil_zip(checkpoint: Path, marker: Path) -> bytes:
    payload = evil_pickle(marker)
    return build_zip([Member(n, payload if n.endswith("/data.pkl") else d) for n, d in torch_members(str(checkpoint))])


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9, 0.99])
def test_truncated_torch_zip(keep: float, torch_checkpoint: Path, tmp_path: Path) -> None:
    data = torch_checkpoint.read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: int(len(data) * keep)])
    result = scan_one(path)
    assert result.verdict >= Verdict.INCONCLUSIVE or result.verdict is Verdict.NOT_ANALYSED, describe(result)
    assert of_rule(result, "GEN001") or of_rule(result, "GEN004"), describe(result)


def test_corrupt_central_directory(torch_checkpoint: Path, tmp_path: Path) -> None:
    data = bytearray(torch_checkpoint.read_bytes())
    cd = data.find(b"PK\x01\x02")
    data[cd + 20 : cd + 30] = b"\xff" * 10  # sizes and name length
    path = tmp_path / "corrupt.pt"
    path.write_bytes(bytes(data))
    result = scan_one(path)
    assert result.verdict is not Verdict.CLEAN, describe(result)
    errors = of_rule(result, "GEN001")
    assert errors, describe(result)


def test_end_record_pointing_nowhere(tmp_path: Path) -> None:
    data = bytearray(build_zip([Member("archive/data.pkl", b"\x80\x02}q\x00.")]))
    eocd = data.rfind(b"PK\x05\x06")
    data[eocd + 16 : eocd + 20] = (10_000).to_bytes(4, "little")
    path = tmp_path / "model.bin"
    path.write_bytes(bytes(data))
    result = scan_one(path)
    errors = of_rule(result, "GEN001")
    assert errors and errors[0].location.offset == 10_000, describe(result)


def test_zero_length_data_pkl(torch_checkpoint: Path, tmp_path: Path) -> None:
    members = [Member(n, b"" if n.endswith("/data.pkl") else d) for n, d in torch_members(str(torch_checkpoint))]
    path = tmp_path / "empty.pt"
    path.write_bytes(build_zip(members))
    result = scan_one(path)
    assert of_rule(result, "GEN001"), describe(result)
    assert result.verdict is Verdict.INCONCLUSIVE


def test_encrypted_member_is_inconclusive(tmp_path: Path) -> None:
    """Encrypted (bit 0 set, ciphertext-looking bytes): never clean."""
    path = tmp_path / "secret.zip"
    path.write_bytes(build_zip([Member("weights.pkl", bytes(range(200)), central_flags=1, local_flags=1)]))
    result = scan_one(path)
    assert of_rule(result, "ZIP006"), describe(result)
    assert result.verdict >= Verdict.INCONCLUSIVE


def test_entry_count_lie_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "count.zip"
    path.write_bytes(build_zip([Member("a.txt", b"a"), Member("b.txt", b"b")], eocd_count=1))
    result = scan_one(path)
    assert result.verdict is not Verdict.CLEAN, describe(result)


def test_truncated_tar(tmp_path: Path) -> None:
    buf = io.BytesIO()
    payload = evil_pickle(tmp_path / "MARKER") * 20
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo("model.pkl")
        info.size = len(payload)
        t.addfile(info, io.BytesIO(payload))
    path = tmp_path / "cut.tar"
    path.write_bytes(buf.getvalue()[:700])
    result = scan_one(path)
    assert of_rule(result, "GEN001"), describe(result)
    assert result.verdict is Verdict.MALICIOUS, describe(result)


# Mutation fuzzing: whatever the bytes, the scan returns a result (no exception, bounded time).
_SEEDS: dict[str, bytes] = {}


def _seeds(torch_checkpoint: Path) -> dict[str, bytes]:
    if not _SEEDS:
        tar = io.BytesIO()
        with tarfile.open(fileobj=tar, mode="w") as t:
            data = b"\x80\x04K\x01."
            info = tarfile.TarInfo("a/b.pkl")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        _SEEDS["torch"] = torch_checkpoint.read_bytes()
        _SEEDS["zip64"] = build_zip([Member(n, d) for n, d in torch_members(str(torch_checkpoint))], zip64=True)
        _SEEDS["deflated"] = build_zip([Member(n, d, deflate=True) for n, d in torch_members(str(torch_checkpoint))])
        _SEEDS["tar"] = tar.getvalue()
        _SEEDS["npy"] = b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }" + (
            b" " * 57 + b"\n" + b"\x80\x02]q\x00K\x01a."
        )
    return _SEEDS


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.sampled_from(["torch", "zip64", "deflated", "tar", "npy"]),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.one_of(st.none(), st.floats(0, 1)),
)
def test_mutated_containers_never_raise(
    seed: str, edits: list[tuple[float, int]], cut: float | None, torch_checkpoint: Path, tmp_path: Path
) -> None:
    data = bytearray(_seeds(torch_checkpoint)[seed])
    for where, value in edits:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[: int(cut * len(data))]
    path = tmp_path / "fuzz.bin"
    path.write_bytes(bytes(data))
    result = scan_one(path)
    assert result.verdict is not None
    assert not [f for f in result.findings if f.rule_id == "GEN006"], describe(result)


def test_unsupported_compression_method_is_inconclusive(tmp_path: Path) -> None:
    import struct

    data = bytearray(build_zip([Member("model.pkl", b"\x80\x02}q\x00.")]))
    for sig, off in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        pos = data.find(sig)
        struct.pack_into("<H", data, pos + off, 9)  # deflate64
    path = tmp_path / "d64.zip"
    path.write_bytes(bytes(data))
    result = scan_one(path)
    found = of_rule(result, "ZIP007")
    assert found and "deflate64" in found[0].message, describe(result)
    assert result.verdict is Verdict.INCONCLUSIVE


@pytest.mark.parametrize("method", ["bzip2", "lzma"])
def test_zip_members_in_bzip2_and_lzma_are_decoded(method: str, tmp_path: Path) -> None:
    import zipfile

    from ct_scan import assert_runs_os_system

    compression = {"bzip2": zipfile.ZIP_BZIP2, "lzma": zipfile.ZIP_LZMA}[method]
    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w", compression) as z:
        z.writestr("weights/readme.md", "# model\n" * 100)
        z.writestr("weights/model.ckpt", evil_pickle(tmp_path / "MARKER"))
    assert_runs_os_system(scan_one(path), ("weights/model.ckpt",))


def test_truncated_malicious_checkpoint_still_shows_its_payload(torch_checkpoint: Path, tmp_path: Path) -> None:
    """Central directory cut off: members are salvaged from local headers, the break is reported."""
    from ct_scan import assert_runs_os_system

    data = _evil_zip(torch_checkpoint, tmp_path / "MARKER")
    path = tmp_path / "partial.pt"
    path.write_bytes(data[: data.find(b"PK\x01\x02") - 3])
    result = scan_one(path)
    assert of_rule(result, "GEN001"), describe(result)
    assert_runs_os_system(result, ("archive/data.pkl",))
