"""The machine reads every opcode family as CPython's C unpickler does (no execution)."""

from __future__ import annotations

import collections
import pickle
import struct

import pytest
from pk import P2, P4, analyse, bu, call, g, ids, of, os_system, run, sg, su, t1

from modelsieve.limits import Limits
from modelsieve.pickle.values import Const, DictV, ListV, SetV, Tuple


def test_constants_protocol0_text_opcodes() -> None:
    data = b"(I42\nI01\nL7L\nF1.5\nS'a\\x41'\nVsn\\u00e9\nN" + pickle.TUPLE + pickle.STOP
    value = run(data)
    assert isinstance(value, Tuple)
    assert [v.value for v in value.items if isinstance(v, Const)] == [42, True, 7, 1.5, "aA", "sné", None]


def test_int_opcode_is_read_with_strtol_base_zero() -> None:
    """_pickle.c parses INT with strtol(s, &end, 0): I010 is octal 8, I0x10 is 16."""
    assert run(b"I010\n.") == Const(8)
    assert run(b"I0x10\n.") == Const(16)


def test_binary_constants() -> None:
    data = (
        P2
        + pickle.MARK
        + pickle.BININT + struct.pack("<i", -5)
        + pickle.BININT1 + b"\x07"
        + pickle.BININT2 + struct.pack("<H", 513)
        + pickle.LONG1 + b"\x02\xff\x00"
        + pickle.BINFLOAT + struct.pack(">d", 2.5)
        + pickle.NEWTRUE + pickle.NEWFALSE
        + pickle.SHORT_BINBYTES + b"\x02hi"
        + pickle.BINBYTES + struct.pack("<I", 2) + b"yo"
        + pickle.BINSTRING + struct.pack("<i", 2) + b"ab"
        + pickle.SHORT_BINSTRING + b"\x01c"
        + pickle.TUPLE + pickle.STOP
    )  # fmt: skip
    value = run(data)
    assert isinstance(value, Tuple)
    assert [v.value for v in value.items if isinstance(v, Const)] == [
        -5,
        7,
        513,
        255,
        2.5,
        True,
        False,
        b"hi",
        b"yo",
        "ab",
        "c",
    ]


def test_containers_and_stack_manipulation() -> None:
    data = (
        P4
        + pickle.MARK
        + pickle.EMPTY_LIST + pickle.MARK + pickle.BININT1 + b"\x01" + pickle.BININT1 + b"\x02" + pickle.APPENDS
        + pickle.BININT1 + b"\x03" + pickle.APPEND
        + pickle.EMPTY_DICT + su("k") + pickle.BININT1 + b"\x04" + pickle.SETITEM
        + pickle.EMPTY_SET + pickle.MARK + su("s") + pickle.ADDITEMS
        + pickle.MARK + su("f") + pickle.FROZENSET
        + pickle.NONE + pickle.POP
        + pickle.MARK + su("junk") + pickle.POP_MARK
        + pickle.NONE + pickle.DUP + pickle.TUPLE2 + pickle.POP
        + pickle.TUPLE + pickle.STOP
    )  # fmt: skip
    value = run(data)
    assert isinstance(value, Tuple)
    lst, dct, st, fs = value.items
    assert isinstance(fs, SetV) and fs.frozen
    assert isinstance(lst, ListV) and [v for v in lst.items] == [Const(1), Const(2), Const(3)]
    assert isinstance(dct, DictV) and dct.get("k") == Const(4)
    assert isinstance(st, SetV) and st.items == [Const("s")]


def test_large_payload_is_skipped_not_held() -> None:
    blob = b"A" * (3 * 1024 * 1024)
    data = P4 + pickle.BINBYTES8 + struct.pack("<Q", len(blob)) + blob + pickle.STOP
    analysis = analyse(data)
    assert not analysis.findings


def test_memo_put_get_variants_and_memoize() -> None:
    data = (
        P4 + su("a") + pickle.BINPUT + b"\x01" + pickle.POP
        + su("b") + pickle.LONG_BINPUT + struct.pack("<I", 70000) + pickle.POP
        + su("c") + pickle.MEMOIZE + pickle.POP
        + su("d") + b"p9\n" + pickle.POP
        + pickle.BINGET + b"\x01" + pickle.LONG_BINGET + struct.pack("<I", 70000) + b"g9\n" + pickle.TUPLE3
        + pickle.STOP
    )  # fmt: skip
    value = run(data)
    assert isinstance(value, Tuple)
    assert [v.value for v in value.items if isinstance(v, Const)] == ["a", "b", "d"]


def test_memoize_uses_number_of_entries() -> None:
    """MEMOIZE stores at len(memo), like CPython, even after PUTs at arbitrary indices."""
    data = (
        P4
        + su("x")
        + pickle.BINPUT
        + b"\x05"
        + su("y")
        + pickle.MEMOIZE
        + pickle.POP
        + pickle.BINGET
        + b"\x01"
        + pickle.STOP
    )
    assert run(data) == Const("y")


def test_get_of_unset_memo_slot_is_parse_error_and_anomaly() -> None:
    analysis = analyse(P2 + pickle.BINGET + b"\x03" + pickle.STOP)
    assert {"GEN001", "PKL010"} <= ids(analysis)


def test_memo_overwrite_is_reported() -> None:
    data = P2 + g("builtins", "print") + pickle.BINPUT + b"\x00" + g("os", "system") + pickle.BINPUT + b"\x00"
    data += pickle.BINGET + b"\x00" + t1(bu("ls")) + pickle.REDUCE + pickle.STOP
    analysis = analyse(data)
    assert "PKL010" in ids(analysis)
    assert [f.subject for f in of(analysis, "PKL001")] == ["os.system"]


def test_frame_divergence_is_read_linearly_and_reported() -> None:
    body = sg("os", "system") + t1(su("ls")) + pickle.REDUCE + pickle.STOP
    data = P4 + pickle.FRAME + struct.pack("<Q", 3) + body
    analysis = analyse(data)
    assert "PKL009" in ids(analysis)
    assert [f.subject for f in of(analysis, "PKL001")] == ["os.system"]


def test_consistent_frames_are_not_reported() -> None:
    data = pickle.dumps({"a": list(range(1000)), "b": "x" * 70000}, protocol=5)
    assert not analyse(data).findings


def test_frame_longer_than_data_is_a_parse_error() -> None:
    data = P4 + pickle.FRAME + struct.pack("<Q", 1000) + su("x") + pickle.STOP
    assert "GEN001" in ids(analyse(data))


@pytest.mark.parametrize("cut", [5, 17, 30])
def test_truncation_reports_offset(cut: int) -> None:
    data = pickle.dumps({"key": ["value", 1, 2.0]}, protocol=2)[:cut]
    (finding,) = of(analyse(data), "GEN001")
    assert "could not parse past offset" in finding.message
    assert finding.location.offset is not None and finding.location.offset <= cut


def test_invalid_opcode_is_parse_error_with_offset() -> None:
    data = P2 + pickle.NONE + b"\xff" + pickle.STOP
    (finding,) = of(analyse(data), "GEN001")
    assert finding.location.offset == 3
    assert "offset 3" in finding.message


def test_nullifai_reports_payload_and_break() -> None:
    data = P2 + os_system("id") + pickle.BINPUT + b"\x00" + b"\xfe junk"
    found = ids(analyse(data))
    assert {"PKL001", "PKL008", "GEN001"} <= found


def test_truncated_benign_pickle_has_no_pkl008() -> None:
    data = pickle.dumps([1, 2, 3, "text" * 5], protocol=2)[:-3]
    assert ids(analyse(data)) == {"GEN001"}


def test_expansion_bomb_hits_value_limit() -> None:
    data = P2 + pickle.EMPTY_LIST
    for _ in range(64):
        data += pickle.DUP + pickle.TUPLE2
    data += pickle.STOP
    analysis = analyse(data, Limits(max_value_nodes=10_000))
    assert "GEN002" in ids(analysis)
    assert "expansion" in of(analysis, "GEN002")[0].message


def test_expansion_bomb_reports_payload_found_before_it() -> None:
    data = P2 + os_system() + pickle.POP + pickle.EMPTY_LIST
    for _ in range(64):
        data += pickle.DUP + pickle.TUPLE2
    analysis = analyse(data + pickle.STOP, Limits(max_value_nodes=10_000))
    assert {"GEN002", "PKL001"} <= ids(analysis)


def test_mark_nesting_hits_stack_limit() -> None:
    data = P2 + pickle.MARK * 5000 + pickle.STOP
    assert "GEN002" in ids(analyse(data, Limits(max_stack_depth=1000)))


def test_opcode_limit() -> None:
    data = P2 + (pickle.NONE + pickle.POP) * 10_000 + pickle.NONE + pickle.STOP
    assert "GEN002" in ids(analyse(data, Limits(max_opcodes=5000)))


def test_memo_limit() -> None:
    data = P4 + pickle.NONE + pickle.MEMOIZE * 3000 + pickle.STOP
    assert "GEN002" in ids(analyse(data, Limits(max_memo_entries=1000)))


def test_deeply_nested_structure_does_not_crash() -> None:
    data = P2 + pickle.EMPTY_TUPLE + pickle.TUPLE1 * 50_000 + pickle.STOP
    analysis = analyse(data)
    assert not [f for f in analysis.findings if f.rule_id == "GEN006"]


def test_stacked_pickles_are_all_analysed() -> None:
    data = pickle.dumps(1, protocol=2) + pickle.dumps(2, protocol=4) + P2 + os_system() + pickle.STOP
    analysis = analyse(data)
    assert {"PKL011", "PKL001"} <= ids(analysis)


def test_single_pickle_mode_stops_after_stop() -> None:
    data = pickle.dumps(1, protocol=2) + P2 + os_system() + pickle.STOP
    assert "PKL001" not in ids(analyse(data, multiple=False))


def test_trailing_bytes_are_reported_with_indicators() -> None:
    data = pickle.dumps([1], protocol=2) + b"\x00\x01 see https://pastebin.com/raw/zzz \x02"
    (finding,) = of(analyse(data), "PKL012")
    assert any("pastebin.com" in i.value for i in finding.indicators)


def test_start_and_end_bound_the_stream() -> None:
    inner = P2 + os_system() + pickle.STOP
    data = b"HEADER--" + inner + b"TRAILER"
    analysis = analyse(data, start=8, end=8 + len(inner))
    assert "PKL001" in ids(analysis)
    assert "PKL012" not in ids(analysis)


def test_ext_unknown_code_is_pkl007() -> None:
    data = P2 + pickle.EXT1 + b"\x07" + t1(bu("ls")) + pickle.REDUCE + pickle.STOP
    found = ids(analyse(data))
    assert {"PKL007", "PKL005"} <= found


def test_ext_registered_in_stream_resolves() -> None:
    register = call(g("copyreg", "add_extension"), bu("os"), bu("system"), pickle.BININT2 + struct.pack("<H", 300))
    data = (
        P2 + register + pickle.POP + pickle.EXT2 + struct.pack("<H", 300) + t1(bu("ls")) + pickle.REDUCE + pickle.STOP
    )
    analysis = analyse(data)
    assert "PKL007" in ids(analysis)
    assert [f.subject for f in of(analysis, "PKL001")] == ["os.system"]


def test_torch_persistent_ids_are_benign() -> None:
    pid = pickle.MARK + su("storage") + g("torch", "FloatStorage") + su("0") + su("cpu") + pickle.BININT1 + b"\x04"
    data = P2 + g("torch._utils", "_rebuild_tensor_v2") + pickle.MARK + pid + pickle.TUPLE + pickle.BINPERSID
    data += pickle.BININT1 + b"\x00" + pickle.EMPTY_TUPLE + pickle.EMPTY_TUPLE + pickle.NEWFALSE + pickle.NONE
    data += pickle.TUPLE + pickle.REDUCE + pickle.STOP
    analysis = analyse(data, persistent_load="torch")
    assert not analysis.findings
    assert "torch._utils._rebuild_tensor_v2" in analysis.imports


def test_protocol0_persid() -> None:
    assert not analyse(b"Pabc\n.").findings


def test_call_records_have_location_and_arguments() -> None:
    analysis = analyse(P2 + os_system("echo hi") + pickle.STOP)
    (record,) = [c for c in analysis.calls if c.callable == "os.system"]
    assert "echo hi" in record.arguments
    assert record.safety == "dangerous"
    assert record.location.offset is not None and record.location.opcode_index is not None


def test_repeated_safe_calls_keep_every_record_but_render_only_the_first_arguments() -> None:
    from modelsieve.pickle.findings import OMITTED_ARGUMENTS, SHOWN_SAFE_ARGUMENTS

    n = SHOWN_SAFE_ARGUMENTS + 5
    data = pickle.dumps([collections.OrderedDict(a=i) for i in range(n)], protocol=2)
    analysis = analyse(data)
    records = [c for c in analysis.calls if c.callable == "collections.OrderedDict"]
    assert len(records) == n and all(c.safety == "safe" for c in records)
    assert [c.arguments == OMITTED_ARGUMENTS for c in records] == [False] * SHOWN_SAFE_ARGUMENTS + [True] * 5


def test_dangerous_calls_always_show_their_arguments() -> None:
    payload = b"".join(os_system(f"echo {i}") + pickle.POP for i in range(12))
    analysis = analyse(P2 + pickle.MARK + payload + pickle.POP_MARK + pickle.NONE + pickle.STOP)
    shown = [c.arguments for c in analysis.calls if c.callable == "os.system"]
    assert len(shown) == 12 and all(f"echo {i}" in a for i, a in enumerate(shown))
