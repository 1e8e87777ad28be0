"""safetensors header validation: real files from the safetensors library and hand-crafted broken ones."""

from __future__ import annotations

import json
import pickle
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scanhelp import fuzz_never_crashes, of_rule, rule_ids, scan_one

from modelsieve.model import Verdict

safetensors_numpy = pytest.importorskip("safetensors.numpy")


def _real(tmp_path: Path, metadata: dict[str, str] | None = None) -> Path:
    path = tmp_path / "model.safetensors"
    tensors = {
        "w1": np.arange(12, dtype=np.float32).reshape(3, 4),
        "b1": np.zeros(4, dtype=np.float16),
        "ids": np.array([1, 2, 3], dtype=np.int64),
        "mask": np.array([True, False]),
    }
    safetensors_numpy.save_file(tensors, str(path), metadata=metadata)
    return path


def _craft(tmp_path: Path, header: bytes | Mapping[str, Any], data: bytes, name: str = "x.safetensors") -> Path:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path = tmp_path / name
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


def test_real_file_is_clean(tmp_path: Path) -> None:
    result = scan_one(_real(tmp_path, {"format": "pt"}))
    assert result.formats == ("safetensors",)
    assert result.verdict is Verdict.CLEAN, result.findings
    assert result.findings == ()


def test_metadata_urls_are_surfaced_not_judged(tmp_path: Path) -> None:
    result = scan_one(_real(tmp_path, {"source": "see https://pastebin.com/raw/abcd"}))
    (finding,) = of_rule(result, "IND002")
    assert finding.location.detail == "metadata: source"
    assert finding.subject == "https://pastebin.com/raw/abcd"
    assert result.verdict is Verdict.CLEAN


def test_header_length_larger_than_file_is_sft001(tmp_path: Path) -> None:
    path = tmp_path / "dos.safetensors"
    path.write_bytes(struct.pack("<Q", 2**62) + b'{"a": 1}')
    result = scan_one(path)
    assert rule_ids(result) == {"SFT001"}
    assert result.verdict is Verdict.INCONCLUSIVE


def test_header_length_over_100mb_is_sft001_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "big.safetensors"
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", 101 * 1024 * 1024) + b"{ ")
        f.truncate(8 + 101 * 1024 * 1024 + 10)  # sparse: costs no disk
    result = scan_one(path)
    (finding,) = of_rule(result, "SFT001")
    assert "exceeds" in finding.message


def test_invalid_json_is_sft002(tmp_path: Path) -> None:
    result = scan_one(_craft(tmp_path, b'{"w": {"dtype": "F32", ', b""))
    assert rule_ids(result) == {"SFT002"}
    assert result.verdict is Verdict.INCONCLUSIVE


def test_duplicate_keys_are_sft003(tmp_path: Path) -> None:
    header = (
        b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},'
        b' "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}'
    )
    result = scan_one(_craft(tmp_path, header, b"\x00" * 8))
    (finding,) = of_rule(result, "SFT003")
    assert finding.location.detail == "key: w"
    assert result.verdict is Verdict.SUSPICIOUS


def test_unknown_dtype_and_size_mismatch_are_sft004(tmp_path: Path) -> None:
    header = {
        "w1": {"dtype": "F33", "shape": [1], "data_offsets": [0, 4]},
        "w2": {"dtype": "F32", "shape": [2, 2], "data_offsets": [4, 8]},
    }
    result = scan_one(_craft(tmp_path, header, b"\x00" * 8))
    details = {f.location.detail for f in of_rule(result, "SFT004")}
    assert details == {"tensor: w1", "tensor: w2"}
    assert result.verdict is Verdict.INCONCLUSIVE


def test_sub_byte_dtype_sizes(tmp_path: Path) -> None:
    header = {"q": {"dtype": "F4", "shape": [8], "data_offsets": [0, 4]}}
    assert scan_one(_craft(tmp_path, header, b"\x00" * 4)).findings == ()


def test_overlap_and_past_end_are_sft005(tmp_path: Path) -> None:
    header = {
        "a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
        "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]},
        "c": {"dtype": "U8", "shape": [100], "data_offsets": [6, 106]},
    }
    result = scan_one(_craft(tmp_path, header, b"\x00" * 6))
    details = {f.location.detail for f in of_rule(result, "SFT005")}
    assert details == {"tensor: b", "tensor: c"}


def test_gap_between_tensors_is_sft005(tmp_path: Path) -> None:
    header = {
        "a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
        "b": {"dtype": "U8", "shape": [4], "data_offsets": [8, 12]},
    }
    result = scan_one(_craft(tmp_path, header, b"\x00" * 12))
    (finding,) = of_rule(result, "SFT005")
    assert finding.location.detail == "tensor: b"


def test_non_string_metadata_is_sft007(tmp_path: Path) -> None:
    header = {"__metadata__": {"n": 3}, "a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}
    result = scan_one(_craft(tmp_path, header, b"\x00"))
    (finding,) = of_rule(result, "SFT007")
    assert finding.location.detail == "metadata: n"


def test_polyglot_trailing_pickle_is_sft006_and_analysed(tmp_path: Path) -> None:
    """Bytes after the data that another loader would unpickle: flagged, and handed to the pickle analyser."""
    path = _real(tmp_path)
    payload = pickle.dumps({"harmless": 1}, protocol=4)
    with open(path, "ab") as f:
        f.write(payload)
    result = scan_one(path)
    (finding,) = of_rule(result, "SFT006")
    assert finding.location.detail == "after tensor data"
    assert finding.evidence.startswith("first bytes: 8004")
    assert result.verdict >= Verdict.SUSPICIOUS


def test_huge_well_formed_file_reads_only_header(tmp_path: Path) -> None:
    """A 3 GB (sparse) file with a consistent header is clean without reading tensor bytes."""
    n = 3 * 1024**3
    header = json.dumps({"big": {"dtype": "U8", "shape": [n], "data_offsets": [0, n]}}).encode()
    path = tmp_path / "huge.safetensors"
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + n)
    result = scan_one(path)
    assert result.verdict is Verdict.CLEAN, result.findings


def test_random_float_tensors_with_magic_bytes_give_no_ind005(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    data = bytearray(rng.standard_normal(1 << 16).astype(np.float32).tobytes())
    for i, magic in enumerate((b"MZ", b"\x7fELF\x02\x01\x01", b"http://evil.example/x", b"\xcf\xfa\xed\xfe")):
        data[1000 * (i + 1) : 1000 * (i + 1) + len(magic)] = magic
    path = tmp_path / "rand.safetensors"
    safetensors_numpy.save_file({"w": np.frombuffer(bytes(data), dtype=np.float32)}, str(path))
    result = scan_one(path)
    assert "IND005" not in rule_ids(result)
    assert result.verdict is Verdict.CLEAN


def test_mutated_files_never_crash(tmp_path: Path) -> None:
    fuzz_never_crashes(_real(tmp_path, {"format": "pt"}).read_bytes())
