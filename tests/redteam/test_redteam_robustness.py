"""Red team, robustness: hostile or extreme small inputs never crash, never hang (< 5 s), never raise
GEN006 "analyser failed", and never come out clean when a loader would run something.
"""

from __future__ import annotations

import gzip
import io
import json
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rt_pickles as rp
from rt_support import SMALL_INPUT_BUDGET_S, Timed, analyser_failures, describe, findings, scan_timed

from fixtures.pickle_exploits import ccall, const, get, glob, p2, p4, put, sbu, shell
from modelsieve.model import Verdict

P = pickle


def _os_system(marker: str = "/nonexistent/MARKER") -> bytes:
    return ccall(glob("os", "system"), shell(marker))


# name -> (bytes, expected verdict floor or None for "anything but an analyser failure")
PICKLES: dict[str, tuple[bytes, Verdict | None]] = {
    "marks_100k_then_list": (rp.deep_marks(), None),
    "lists_nested_50k": (rp.deep_lists(), None),
    "payload_under_50k_nested_lists": (p2(P.EMPTY_LIST * 50_000 + _os_system() + P.APPEND * 50_000), Verdict.MALICIOUS),
    "payload_after_100k_marks": (p2(P.MARK * 100_000 + _os_system()), Verdict.MALICIOUS),
    "tuple1_nested_100k": (p2(P.EMPTY_TUPLE + P.TUPLE1 * 100_000), None),
    "nested_100k_tuple_as_call_argument": (
        p2(glob("builtins", "list") + P.EMPTY_TUPLE + P.TUPLE1 * 100_000 + P.TUPLE1 + P.REDUCE),
        None,
    ),
    "dicts_nested_20k": (
        p2(P.EMPTY_DICT + b"".join(sbu("k") + P.EMPTY_DICT for _ in range(20_000)) + P.SETITEM * 20_000),
        None,
    ),
    "allowed_calls_50k": (
        p2(
            P.EMPTY_LIST + P.MARK + (glob("collections", "OrderedDict") + P.EMPTY_TUPLE + P.REDUCE) * 50_000 + P.APPENDS
        ),
        None,
    ),
    "unknown_globals_5k": (
        p2(
            P.EMPTY_LIST
            + P.MARK
            + b"".join(glob(f"mod{i}", "f") + P.EMPTY_TUPLE + P.REDUCE for i in range(5000))
            + P.APPENDS
        ),
        Verdict.SUSPICIOUS,
    ),
    "binunicode_claims_4gb": (rp.huge_binunicode_claim(), Verdict.INCONCLUSIVE),
    "binunicode8_claims_2e62": (rp.huge_binunicode8_claim(), Verdict.INCONCLUSIVE),
    "binbytes8_claims_2e60": (b"\x80\x04\x8e" + struct.pack("<Q", 1 << 60) + b"x" * 100, Verdict.INCONCLUSIVE),
    "bytearray8_claims_2e60": (b"\x80\x05\x96" + struct.pack("<Q", 1 << 60) + b"x" * 100, Verdict.INCONCLUSIVE),
    "long4_claims_2gb": (b"\x80\x02\x8b" + struct.pack("<i", 2**31 - 1) + b"\0" * 100, Verdict.INCONCLUSIVE),
    "frame_claims_2e63": (b"\x80\x04\x95" + struct.pack("<Q", 1 << 63) + b"N.", Verdict.INCONCLUSIVE),
    "memo_slot_2e32_minus_1": (
        p2(P.NONE + P.LONG_BINPUT + struct.pack("<I", 0xFFFFFFFF) + P.LONG_BINGET + struct.pack("<I", 0xFFFFFFFF)),
        None,
    ),
    "memo_300k_slots": (
        b"\x80\x02" + b"".join(P.NONE + P.LONG_BINPUT + struct.pack("<I", i) + P.POP for i in range(300_000)) + b"N.",
        None,
    ),
    "lone_surrogate_binunicode": (p2(P.BINUNICODE + struct.pack("<I", 3) + b"\xed\xa0\x80"), None),
    "lone_surrogate_stack_global": (
        p4(P.BINUNICODE + struct.pack("<I", 3) + b"\xed\xa0\x80" + sbu("x") + P.STACK_GLOBAL),
        None,
    ),
    "stack_global_on_ints": (p4(const(1) + const(2) + P.STACK_GLOBAL), None),
    "newobj_ex_on_ints": (p4(const(1) + const(2) + const(3) + P.NEWOBJ_EX), None),
    "self_referencing_dict_argument": (
        p2(
            glob("collections", "OrderedDict")
            + P.EMPTY_DICT
            + put(1)
            + sbu("a")
            + get(1)
            + P.SETITEM
            + P.TUPLE1
            + P.REDUCE
        ),
        None,
    ),
    "list_containing_itself_twice": (p2(P.EMPTY_LIST + put(0) + get(0) + P.APPEND + get(0) + P.APPEND), None),
    "pop_mark_storm": (p2((P.MARK + P.NONE + P.POP_MARK) * 100_000 + P.NONE), None),
}


def _check(timed: Timed, floor: Verdict | None, budget: float = SMALL_INPUT_BUDGET_S) -> None:
    result = timed.result
    assert not analyser_failures(result), describe(result)
    assert timed.seconds < budget, f"{timed.seconds:.1f}s\n{describe(result)}"
    if floor is not None:
        assert result.verdict >= floor, describe(result)


@pytest.mark.parametrize("name", sorted(PICKLES))
def test_extreme_pickles(name: str, tmp_path: Path) -> None:
    data, floor = PICKLES[name]
    path = tmp_path / f"{name}.pkl"
    path.write_bytes(data)
    _check(scan_timed(path), floor)


def test_deep_payload_is_named(tmp_path: Path) -> None:
    path = tmp_path / "deep.pkl"
    path.write_bytes(PICKLES["payload_under_50k_nested_lists"][0])
    result = scan_timed(path).result
    assert findings(result, "PKL001", ("os.system",)), describe(result)


def test_gzip_bomb_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "bomb.pkl.gz"
    path.write_bytes(gzip.compress(b"\0" * (64 << 20), 9))
    timed = scan_timed(path)
    _check(timed, Verdict.INCONCLUSIVE)
    assert findings(timed.result, "ARC003") or findings(timed.result, "GEN002"), describe(timed.result)


DEEP_JSON = "[" * 100_000 + "]" * 100_000


def _keras_zip(config: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("config.json", config)
        zf.writestr("metadata.json", '{"keras_version": "3.0"}')
        zf.writestr("model.weights.h5", b"")
    return buf.getvalue()


def _safetensors(header: str) -> bytes:
    raw = header.encode()
    return struct.pack("<Q", len(raw)) + raw


DEEP_FILES: dict[str, bytes] = {
    "deep_header.safetensors": _safetensors('{"__metadata__": {"a": ' + DEEP_JSON + "}}"),
    "deep_config.keras": _keras_zip('{"class_name": "Functional", "config": ' + DEEP_JSON + "}"),
    "config.json": ('{"auto_map": ' + DEEP_JSON + "}").encode(),
    "tokenizer_config.json": json.dumps({"chat_template": "{% if x %}" * 3000 + "{% endif %}" * 3000}).encode(),
    "chat_template.jinja": ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}").encode(),
}


@pytest.mark.parametrize("name", sorted(DEEP_FILES))
def test_deeply_nested_text_formats(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(DEEP_FILES[name])
    _check(scan_timed(path), None)


@pytest.mark.parametrize(
    "template", ["{% if x %}" * 2000 + "a" + "{% endif %}" * 2000, "{{ " + "+".join(["'a'"] * 20000) + " }}"]
)
def test_gguf_pathological_templates(template: str, tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    path = tmp_path / "model.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_chat_template(template)
    writer.add_tensor("w", np.zeros(2, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    _check(scan_timed(path), Verdict.INCONCLUSIVE)


def test_zip_with_60000_empty_members(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(60_000):
            zf.writestr(f"m{i}.txt", b"")
    _check(scan_timed(path), None)


def test_torch_state_dict_with_20001_tensors_is_clean(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "moe.pt"
    torch.save({f"experts.{i}.w": torch.zeros(1) for i in range(20_001)}, path)
    timed = scan_timed(path)
    # Not a small input: ~2.5 s on a quiet 2-core machine, twice that when the machine is busy. The bound
    # catches a hang or a quadratic blow-up (which would take minutes), not a slow neighbour.
    _check(timed, None, budget=6 * SMALL_INPUT_BUDGET_S)
    assert timed.result.verdict is Verdict.CLEAN, describe(timed.result)
