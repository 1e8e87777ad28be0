"""Functions that call a function they are given, values fetched back out of containers, implicit
mutations of module state, and dotted names a low-protocol loader refuses.

Each attack fixture is proven in a fresh interpreter (``pickle.loads`` touches a marker) and must be
reported with the exact rule and callable; the refused streams must be proven refused.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pk import analyse, loads_in_subprocess, of

from fixtures.pickle_exploits import call, ccall, code, const, get, glob, p2, p4, put, sbu, sglob, shell, tup
from modelsieve.model import Confidence, Effect


def _attr(obj: bytes, name: str) -> bytes:
    return call(glob("builtins", "getattr"), obj, sbu(name))


def _partial_with_kwargs(func: bytes, **kwargs: bytes) -> bytes:
    """``functools.partial(func, **kwargs)`` as pickle writes it: NEWOBJ, then BUILD with (func, args, kwds, dict)."""
    obj = glob("functools", "partial") + tup(func) + pickle.NEWOBJ
    kwds = pickle.EMPTY_DICT + b"".join(sbu(k) + v + pickle.SETITEM for k, v in kwargs.items())
    return obj + tup(func, pickle.EMPTY_TUPLE, kwds, pickle.NONE) + pickle.BUILD


def lru_cache_decorator(m: str) -> bytes:
    """``functools.lru_cache(128)(os.system)(cmd)``: the decorator form."""
    return p2(call(call(ccall(glob("functools", "lru_cache"), 128), glob("os", "system")), sbu(shell(m))))


def singledispatch(m: str) -> bytes:
    return p2(call(call(glob("functools", "singledispatch"), glob("os", "system")), sbu(shell(m))))


def contextmanager_call(m: str) -> bytes:
    """``contextlib.contextmanager(os.system)(cmd)``: the helper calls ``func(*args)`` to make its generator."""
    return p2(call(call(glob("contextlib", "contextmanager"), glob("os", "system")), sbu(shell(m))))


def mock_side_effect(m: str) -> bytes:
    """``unittest.mock.Mock(None, os.system)(cmd)``: the second positional argument is ``side_effect``."""
    return p2(call(call(glob("unittest.mock", "Mock"), pickle.NONE, glob("os", "system")), sbu(shell(m))))


def deepcopy_function(m: str) -> bytes:
    """``copy.deepcopy(os.system)`` is ``os.system`` itself."""
    return p2(call(call(glob("copy", "deepcopy"), glob("os", "system")), sbu(shell(m))))


def sorted_key_keyword(m: str) -> bytes:
    """``partial(sorted, key=os.system)([cmd])``: keyword arguments only reach a function through partial."""
    return p2(call(_partial_with_kwargs(glob("builtins", "sorted"), key=glob("os", "system")), const([shell(m)])))


def accumulate_operator_call(m: str) -> bytes:
    """``list(itertools.accumulate([os.system, cmd], operator.call))`` calls ``operator.call(os.system, cmd)``."""
    items = pickle.EMPTY_LIST + glob("os", "system") + pickle.APPEND + sbu(shell(m)) + pickle.APPEND
    lazy = call(glob("itertools", "accumulate"), items, glob("operator", "call"))
    return p2(call(glob("builtins", "list"), lazy))


def iter_callable_sentinel(m: str) -> bytes:
    """``list(iter(partial(os.system, cmd), 0))``: called until it returns the sentinel (0 at once)."""
    fn = call(glob("functools", "partial"), glob("os", "system"), sbu(shell(m)))
    return p2(call(glob("builtins", "list"), call(glob("builtins", "iter"), fn, const(0))))


def dict_popitem(m: str) -> bytes:
    """``{'k': os.system}.popitem()[1](cmd)``."""
    table = pickle.EMPTY_DICT + sbu("k") + glob("os", "system") + pickle.SETITEM
    pair = call(_attr(table, "popitem"))
    fn = call(glob("operator", "getitem"), pair, const(1))
    return p2(call(fn, sbu(shell(m))))


def list_of_tuple_pop(m: str) -> bytes:
    """``list((os.system,)).pop()(cmd)``."""
    lst = call(glob("builtins", "list"), tup(glob("os", "system")))
    return p2(call(call(_attr(lst, "pop")), sbu(shell(m))))


def exitstack_unbound_pop_all(m: str) -> bytes:
    """``ExitStack.callback(stack, os.system, cmd)`` unbound, then ``stack.pop_all().close()``."""
    stack = call(sglob("contextlib", "ExitStack")) + put(0)
    register = call(sglob("contextlib", "ExitStack.callback"), get(0), sglob("os", "system"), sbu(shell(m)))
    moved = call(_attr(get(0), "pop_all"))
    return p4(stack + pickle.POP + register + pickle.POP + call(_attr(moved, "close")))


def dynamic_class_call_hook(m: str) -> bytes:
    """``type('X', (), {'__call__': os.system})()(cmd)``: builtin functions are not bound, cmd is the argument."""
    ns = pickle.EMPTY_DICT + sbu("__call__") + glob("os", "system") + pickle.SETITEM
    cls = call(glob("builtins", "type"), sbu("X"), pickle.EMPTY_TUPLE, ns)
    return p2(call(call(cls), sbu(shell(m))))


def new_class_exec_body(m: str) -> bytes:
    """``types.new_class('X', (), None, partial(exec, code))`` runs ``exec(code, namespace)``."""
    body = call(glob("functools", "partial"), glob("builtins", "exec"), sbu(code(m)))
    return p2(call(glob("types", "new_class"), sbu("X"), pickle.EMPTY_TUPLE, pickle.NONE, body))


def logging_resolve_dotted(m: str) -> bytes:
    """``logging.config._resolve('os.path.os.system')``: a dotted-name resolver like pkgutil.resolve_name."""
    return p2(call(ccall(glob("logging.config", "_resolve"), "os.path.os.system"), sbu(shell(m))))


def unpickler_find_class(m: str) -> bytes:
    """``pickle.Unpickler(BytesIO(b'')).find_class('os', 'system')(cmd)``."""
    unp = call(glob("pickle", "Unpickler"), call(glob("io", "BytesIO"), const(b"")))
    return p2(call(call(_attr(unp, "find_class"), sbu("os"), sbu("system")), sbu(shell(m))))


def sys_modules_hijack_then_global(m: str) -> bytes:
    """SETITEM ``sys.modules['json'] = os``, then ``GLOBAL json system`` imports json and gets os.system."""
    os_mod = ccall(glob("builtins", "__import__"), "os")
    patch = glob("sys", "modules") + sbu("json") + os_mod + pickle.SETITEM + pickle.POP
    return p2(patch + call(glob("json", "system"), sbu(shell(m))))


def builtins_patch_then_global(m: str) -> bytes:
    """SETITEM ``builtins.__dict__['print'] = os.system``, then ``GLOBAL builtins print`` is os.system."""
    patch = glob("builtins", "__dict__") + sbu("print") + glob("os", "system") + pickle.SETITEM + pickle.POP
    return p2(patch + call(glob("builtins", "print"), sbu(shell(m))))


def _str_class(meta: bytes, **entries: bytes) -> bytes:
    """``meta('X', (str,), entries)``: a str subclass made at load time."""
    ns = pickle.EMPTY_DICT + b"".join(sbu(k) + v + pickle.SETITEM for k, v in entries.items())
    return call(meta, sbu("X"), tup(glob("builtins", "str")), ns)


def reconstructor_of_dynamic_class(m: str) -> bytes:
    """``copyreg._reconstructor(X, str, cmd)`` with ``X.__del__ = getoutput``: runs when the string is freed."""
    cls = _str_class(glob("builtins", "type"), __del__=glob("subprocess", "getoutput"))
    return p2(call(glob("copyreg", "_reconstructor"), cls, glob("builtins", "str"), sbu(shell(m))))


def abcmeta_class_del(m: str) -> bytes:
    """``abc.ABCMeta`` makes classes exactly like ``type``."""
    cls = _str_class(glob("abc", "ABCMeta"), __del__=glob("subprocess", "getoutput"))
    return p2(call(cls, sbu(shell(m))))


def property_getter(m: str) -> bytes:
    """``getattr(X(cmd), 'p')`` where ``X.p = property(subprocess.getoutput)``: reading p runs getoutput(self)."""
    cls = _str_class(glob("builtins", "type"), p=call(glob("builtins", "property"), glob("subprocess", "getoutput")))
    return p2(_attr(call(cls, sbu(shell(m))), "p"))


def weakref_callback(m: str) -> bytes:
    """``weakref.ref(set(), partial(timeit.timeit, code, number=1))``: the set dies at once, the callback runs."""
    obj = glob("functools", "partial") + tup(glob("timeit", "timeit")) + pickle.NEWOBJ
    kwds = pickle.EMPTY_DICT + sbu("number") + const(1) + pickle.SETITEM
    cb = obj + tup(glob("timeit", "timeit"), tup(sbu(code(m))), kwds, pickle.NONE) + pickle.BUILD
    return p2(call(glob("weakref", "ref"), call(glob("builtins", "set")), cb))


def dict_of_pairs(m: str) -> bytes:
    """``dict([('k', os.system)])['k'](cmd)``."""
    pairs = pickle.EMPTY_LIST + tup(sbu("k"), glob("os", "system")) + pickle.APPEND
    fn = call(glob("operator", "getitem"), call(glob("builtins", "dict"), pairs), sbu("k"))
    return p2(call(fn, sbu(shell(m))))


def reduce_getattr_chain(m: str) -> bytes:
    """``functools.reduce(getattr, ['path', 'os', 'system'], os)``: the dangerous name is only data."""
    os_mod = ccall(glob("builtins", "__import__"), "os")
    fn = call(glob("functools", "reduce"), glob("builtins", "getattr"), const(["path", "os", "system"]), os_mod)
    return p2(call(fn, sbu(shell(m))))


def map_results_indexed(m: str) -> bytes:
    """``list(map(getattr, [os], ['system']))[0](cmd)``: a value computed by map, fetched back."""
    os_mod = ccall(glob("builtins", "__import__"), "os")
    mods = pickle.EMPTY_LIST + os_mod + pickle.APPEND
    lazy = call(glob("builtins", "map"), glob("builtins", "getattr"), mods, const(["system"]))
    fn = call(glob("operator", "getitem"), call(glob("builtins", "list"), lazy), const(0))
    return p2(call(fn, sbu(shell(m))))


def starmap_over_zip(m: str) -> bytes:
    """``list(itertools.starmap(operator.call, zip([os.system], [cmd])))``."""
    fns = pickle.EMPTY_LIST + glob("os", "system") + pickle.APPEND
    pairs = call(glob("builtins", "zip"), fns, const([shell(m)]))
    return p2(call(glob("builtins", "list"), call(glob("itertools", "starmap"), glob("operator", "call"), pairs)))


def next_of_enumerate(m: str) -> bytes:
    """``next(enumerate([os.system]))[1](cmd)``."""
    fns = pickle.EMPTY_LIST + glob("os", "system") + pickle.APPEND
    pair = call(glob("builtins", "next"), call(glob("builtins", "enumerate"), fns))
    return p2(call(call(glob("operator", "getitem"), pair, const(1)), sbu(shell(m))))


@dataclass(frozen=True)
class Case:
    """A fixture, the callable modelsieve must report as PKL001, and words its message must hold."""

    name: str
    builder: Callable[[str], bytes]
    subject: str
    via: str = ""


CASES = (
    Case("lru_cache_decorator", lru_cache_decorator, "os.system", "functools.lru_cache"),
    Case("singledispatch", singledispatch, "os.system", "functools.singledispatch"),
    Case("contextmanager_call", contextmanager_call, "os.system", "contextlib.contextmanager"),
    Case("mock_side_effect", mock_side_effect, "os.system", "unittest.mock.Mock"),
    Case("deepcopy_function", deepcopy_function, "os.system"),
    Case("sorted_key_keyword", sorted_key_keyword, "os.system", "builtins.sorted calls os.system"),
    Case("accumulate_operator_call", accumulate_operator_call, "os.system", "itertools.accumulate"),
    Case("iter_callable_sentinel", iter_callable_sentinel, "os.system", "iter("),
    Case("dict_popitem", dict_popitem, "os.system"),
    Case("list_of_tuple_pop", list_of_tuple_pop, "os.system"),
    Case("exitstack_unbound_pop_all", exitstack_unbound_pop_all, "os.system", "registered earlier"),
    Case("dynamic_class_call_hook", dynamic_class_call_hook, "os.system"),
    Case("new_class_exec_body", new_class_exec_body, "builtins.exec", "types.new_class"),
    Case("logging_resolve_dotted", logging_resolve_dotted, "os.system"),
    Case("unpickler_find_class", unpickler_find_class, "os.system"),
    Case("sys_modules_hijack_then_global", sys_modules_hijack_then_global, "os.system"),
    Case("builtins_patch_then_global", builtins_patch_then_global, "os.system"),
    Case("reconstructor_of_dynamic_class", reconstructor_of_dynamic_class, "subprocess.getoutput", "__del__"),
    Case("abcmeta_class_del", abcmeta_class_del, "subprocess.getoutput", "__del__"),
    Case("property_getter", property_getter, "subprocess.getoutput", "property getter"),
    Case("weakref_callback", weakref_callback, "timeit.timeit", "weakref.ref calls"),
    Case("dict_of_pairs", dict_of_pairs, "os.system"),
    Case("reduce_getattr_chain", reduce_getattr_chain, "os.system"),
    Case("map_results_indexed", map_results_indexed, "os.system"),
    Case("starmap_over_zip", starmap_over_zip, "os.system", "operator.call"),
    Case("next_of_enumerate", next_of_enumerate, "os.system"),
)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_real_loader_runs_it(case: Case, tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    output = loads_in_subprocess(case.builder(str(marker)), tmp_path)
    assert marker.exists(), f"{case.name}: pickle.loads did not run the payload\n{output}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_modelsieve_reports_the_call(case: Case, tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    analysis = analyse(case.builder(str(marker)))
    assert not marker.exists()
    calls = [f for f in of(analysis, "PKL001") if f.subject == case.subject]
    assert calls, [(f.rule_id, f.subject, f.message) for f in analysis.findings]
    assert any(case.via in f.message for f in calls), [f.message for f in calls]


# -- implicit mutations of module state (SETITEM / APPEND on an imported object) ---------------------------------


def test_operator_setitem_into_environ_is_a_monkey_patch() -> None:
    data = p2(call(glob("operator", "setitem"), glob("os", "environ"), sbu("LD_PRELOAD"), sbu("/tmp/x.so")))
    patches = of(analyse(data), "PKL014")
    assert [f.subject for f in patches] == ["os.environ[LD_PRELOAD]"]
    assert "/tmp/x.so" in patches[0].message


def test_appends_onto_sys_meta_path_is_a_monkey_patch() -> None:
    data = p2(glob("sys", "meta_path") + pickle.MARK + sbu("x") + pickle.APPENDS + pickle.POP + const(1))
    assert [f.subject for f in of(analyse(data), "PKL014")] == ["sys.meta_path"]


def test_sys_modules_hijack_names_the_module() -> None:
    analysis = analyse(sys_modules_hijack_then_global("/tmp/m"))
    assert "sys.modules.json" in [f.subject for f in of(analysis, "PKL014")]


# -- values out of containers and key functions stay exact -------------------------------------------------------


def test_dict_pop_removes_the_item() -> None:
    """``d.pop('k')`` twice: the second returns the default, not the callable again."""
    table = pickle.EMPTY_DICT + sbu("k") + glob("os", "system") + pickle.SETITEM + put(0) + pickle.POP
    first = call(_attr(get(0), "pop"), sbu("k"), glob("builtins", "print")) + pickle.POP
    second = call(call(_attr(get(0), "pop"), sbu("k"), glob("builtins", "print")), sbu("hello"))
    analysis = analyse(p2(table + first + second))
    assert not of(analysis, "PKL001")


def test_min_of_constants_is_computed() -> None:
    """``getattr(os, min(['system', 'zzz']))`` is os.system: constant items are compared like the loader does."""
    name = call(glob("builtins", "min"), const(["system", "zzz"]))
    os_mod = ccall(glob("builtins", "__import__"), "os")
    data = p2(call(call(glob("builtins", "getattr"), os_mod, name), sbu("ls")))
    assert [f.subject for f in of(analyse(data), "PKL001")] == ["os.system"]


def test_key_function_on_an_empty_list_is_never_called() -> None:
    data = p2(call(glob("builtins", "sorted"), pickle.EMPTY_LIST) + pickle.POP + const(1))
    assert not of(analyse(data), "PKL001")
    data = p2(call(glob("heapq", "nsmallest"), const(1), pickle.EMPTY_LIST, glob("os", "system")))
    analysis = analyse(data)
    assert not of(analysis, "PKL001")
    assert "os.system" in [f.subject for f in of(analysis, "PKL002")]


def test_creating_a_scheduler_is_a_capability_not_a_call() -> None:
    analysis = analyse(p2(call(glob("sched", "scheduler"))))
    assert not of(analysis, "PKL001")
    assert [f.subject for f in of(analysis, "PKL002")] == ["sched.scheduler"]


def test_replaced_hash_gets_only_the_instance() -> None:
    """``Terminal.__hash__ = getoutput``: hashing calls getoutput(instance), not getoutput(value, token_type)."""
    cls = glob("email._header_value_parser", "Terminal")
    state = tup(pickle.NONE, pickle.EMPTY_DICT + sbu("__hash__") + glob("subprocess", "getoutput") + pickle.SETITEM)
    data = cls + state + pickle.BUILD + pickle.POP
    data += pickle.EMPTY_DICT + ccall(cls, "id", "ptext") + const(1) + pickle.SETITEM
    calls = of(analyse(p2(data)), "PKL001")
    assert [f.subject for f in calls] == ["subprocess.getoutput"]
    assert "getoutput('id')" in calls[0].message


# -- dotted names: followed from protocol 4 on only ----------------------------------------------------------------

REFUSED = {
    "inst_proto0": b"(S'touch MARKER'\nios\npath.os.system\n.",
    "global_proto1": b"\x80\x01cos\npath.os.system\n(S'touch MARKER'\ntR.",
    "stack_global_proto3": b"\x80\x03" + sglob("os", "path.os.system") + const(("touch MARKER",)) + b"R.",
}


@pytest.mark.parametrize("data", REFUSED.values(), ids=list(REFUSED))
def test_dotted_name_below_protocol_4_is_refused_by_the_loader(data: bytes, tmp_path: Path) -> None:
    output = loads_in_subprocess(data, tmp_path)
    assert not (tmp_path / "MARKER").exists()
    assert "path.os.system" in output


@pytest.mark.parametrize("data", REFUSED.values(), ids=list(REFUSED))
def test_dotted_name_below_protocol_4_is_not_called_a_call(data: bytes) -> None:
    analysis = analyse(data)
    assert not of(analysis, "PKL001")
    refused = of(analysis, "PKL005")
    assert "dotted-name-below-protocol-4" in [f.subject for f in refused]
    assert all(f.effect is Effect.SUSPICIOUS and f.confidence is not Confidence.HIGH for f in refused)


def test_dotted_name_at_protocol_4_is_followed() -> None:
    data = b"\x80\x04" + sglob("os", "path.os.system") + const(("ls",)) + b"R."
    assert [f.subject for f in of(analyse(data), "PKL001")] == ["os.system"]
