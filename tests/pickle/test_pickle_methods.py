"""Methods called on objects the stream built: ``getattr(obj, 'm')(...)``, ``attrgetter``/``methodcaller``,
``obj(...)`` (``__call__``) and wrappers whose method runs a function they hold.

Benign files store bound-method references (``getattr(model, 'forward')``) but do not call them while
loading, so every such call is reported: PKL001 when the method is denied (joblib store ``load_item``
unpickles a file, ``PosixPath.touch`` writes one), PKL003 otherwise, and the function a wrapper forwards
to is reported as the call it is. Each attack fixture is proven in a fresh interpreter
(``pickle.loads`` touches a marker file).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pk import analyse, loads_in_subprocess, of, serious

from fixtures.pickle_exploits import call, glob, p2, p4, sbu, sglob, shell, tup
from modelsieve.model import BehaviourKind, Effect

_STORE = ("joblib._store_backends", "FileSystemStoreBackend")


def _attr(obj: bytes, name: str) -> bytes:
    return call(glob("builtins", "getattr"), obj, sbu(name))


def _list(*items: bytes) -> bytes:
    return pickle.EMPTY_LIST + pickle.MARK + b"".join(items) + pickle.APPENDS


def _store(tmp: Path) -> bytes:
    """``FileSystemStoreBackend()`` whose BUILD state points ``location`` at a directory holding ``item/output.pkl``,
    a pickle that runs the command (the file a cache would hold)."""
    location = tmp / "cache"
    (location / "item").mkdir(parents=True, exist_ok=True)
    (location / "item" / "output.pkl").write_bytes(p2(call(glob("os", "system"), sbu(shell(str(tmp / "MARKER"))))))
    state = pickle.EMPTY_DICT + sbu("location") + sbu(str(location)) + pickle.SETITEM
    return call(glob(*_STORE)) + state + pickle.BUILD


def store_load_item(tmp: Path) -> bytes:
    """``getattr(FileSystemStoreBackend(), 'load_item')(['item'])``: an allowed store object unpickles a file."""
    return p2(call(_attr(_store(tmp), "load_item"), _list(sbu("item"))))


def store_load_item_methodcaller(tmp: Path) -> bytes:
    """``operator.methodcaller('load_item', ['item'])(store)``."""
    caller = call(glob("operator", "methodcaller"), sbu("load_item"), _list(sbu("item")))
    return p2(call(caller, _store(tmp)))


def store_load_item_attrgetter(tmp: Path) -> bytes:
    """``operator.attrgetter('load_item')(store)(['item'])``."""
    method = call(call(glob("operator", "attrgetter"), sbu("load_item")), _store(tmp))
    return p2(call(method, _list(sbu("item"))))


def posix_path_touch(tmp: Path) -> bytes:
    """``getattr(PosixPath(marker), 'touch')()``: pathlib paths are allowed data, touch writes the file."""
    return p2(call(_attr(call(glob("pathlib", "PosixPath"), sbu(str(tmp / "MARKER"))), "touch")))


def posix_path_write_text_proto4(tmp: Path) -> bytes:
    """``PosixPath(marker).write_text('x')`` with STACK_GLOBAL."""
    path = call(sglob("pathlib", "PosixPath"), sbu(str(tmp / "MARKER")))
    return p4(call(call(sglob("builtins", "getattr"), path, sbu("write_text")), sbu("x")))


def not_memorized_func(tmp: Path) -> bytes:
    """``joblib.memory.NotMemorizedFunc(os.system)(cmd)``: calling the object calls the function it holds."""
    func = call(glob("joblib.memory", "NotMemorizedFunc"), glob("os", "system"))
    return p2(call(func, sbu(shell(str(tmp / "MARKER")))))


def memory_cache(tmp: Path) -> bytes:
    """``getattr(Memory(None), 'cache')(os.system)(cmd)``: a method of a built object returns the wrapper."""
    cached = call(_attr(call(glob("joblib.memory", "Memory"), pickle.NONE), "cache"), glob("os", "system"))
    return p2(call(cached, sbu(shell(str(tmp / "MARKER")))))


def func_wrapper_call(tmp: Path) -> bytes:
    """``sklearn.utils.parallel._FuncWrapper(os.system)(cmd)``."""
    wrapper = call(glob("sklearn.utils.parallel", "_FuncWrapper"), glob("os", "system"))
    return p2(call(wrapper, sbu(shell(str(tmp / "MARKER")))))


def parallel_dunder_call(tmp: Path) -> bytes:
    """``getattr(sklearn Parallel(), '__call__')([(os.system, (cmd,), {})])``: the runner runs every job."""
    job = tup(glob("os", "system"), tup(sbu(shell(str(tmp / "MARKER")))), pickle.EMPTY_DICT)
    runner = call(glob("sklearn.utils.parallel", "Parallel"))
    return p2(call(_attr(runner, "__call__"), _list(job)))


def function_transformer(tmp: Path) -> bytes:
    """``getattr(FunctionTransformer(os.system), 'transform')(cmd)``: an allowed sklearn class calls func(X)."""
    ft = call(glob("sklearn.preprocessing._function_transformer", "FunctionTransformer"), glob("os", "system"))
    return p2(call(_attr(ft, "transform"), sbu(shell(str(tmp / "MARKER")))))


@dataclass(frozen=True)
class Case:
    """An attack through a method call: the rule, subject and behaviour words modelsieve must report."""

    name: str
    builder: Callable[[Path], bytes]
    rule_id: str
    subject: str
    behaviour: str


_LOAD_ITEM = "joblib._store_backends.FileSystemStoreBackend.load_item"
CASES = [
    Case("store_load_item", store_load_item, "PKL001", _LOAD_ITEM, "loads a pickle from disk"),
    Case("store_load_item_methodcaller", store_load_item_methodcaller, "PKL001", _LOAD_ITEM, "loads a pickle"),
    Case("store_load_item_attrgetter", store_load_item_attrgetter, "PKL001", _LOAD_ITEM, "loads a pickle"),
    Case("posix_path_touch", posix_path_touch, "PKL001", "pathlib.PosixPath.touch", "writes (creates) file"),
    Case(
        "posix_path_write_text_proto4",
        posix_path_write_text_proto4,
        "PKL001",
        "pathlib.PosixPath.write_text",
        "writes `x` to file",
    ),
    Case("not_memorized_func", not_memorized_func, "PKL001", "os.system", "runs shell command `touch"),
    Case("memory_cache", memory_cache, "PKL001", "os.system", "runs shell command `touch"),
    Case("func_wrapper_call", func_wrapper_call, "PKL001", "os.system", "runs shell command `touch"),
    Case("parallel_dunder_call", parallel_dunder_call, "PKL001", "os.system", "runs shell command `touch"),
    Case("function_transformer", function_transformer, "PKL001", "os.system", "runs shell command `touch"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_real_loader_runs_it(case: Case, tmp_path: Path) -> None:
    output = loads_in_subprocess(case.builder(tmp_path), tmp_path)
    assert (tmp_path / "MARKER").exists(), f"{case.name}: pickle.loads did not reach the payload\n{output}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_modelsieve_reports_the_method_call(case: Case, tmp_path: Path) -> None:
    analysis = analyse(case.builder(tmp_path))
    assert not (tmp_path / "MARKER").exists()
    found = [f for f in of(analysis, case.rule_id) if f.subject == case.subject]
    assert found, f"{case.name}: no {case.rule_id} on {case.subject}: {analysis.findings}"
    assert found[0].effect is Effect.MALICIOUS
    assert found[0].behaviour is not None and case.behaviour in found[0].behaviour.description


def test_load_item_is_a_nested_load_from_disk(tmp_path: Path) -> None:
    (found,) = [f for f in of(analyse(store_load_item(tmp_path)), "PKL001") if f.subject == _LOAD_ITEM]
    assert found.behaviour is not None and found.behaviour.kind is BehaviourKind.LOADS_NESTED
    assert "cache entry `item`" in found.behaviour.description


def test_path_methods_under_the_313_module_name_are_denied_too() -> None:
    """Python 3.13 pickles paths as ``pathlib._local.PosixPath``."""
    path = call(sglob("pathlib._local", "PosixPath"), sbu("/tmp/x"))
    analysis = analyse(p4(call(call(sglob("builtins", "getattr"), path, sbu("unlink")))))
    (found,) = [f for f in of(analysis, "PKL001") if f.subject == "pathlib._local.PosixPath.unlink"]
    assert found.behaviour is not None and found.behaviour.description == "deletes /tmp/x"


def test_wrappers_report_the_forwarded_call_not_a_vague_dunder(tmp_path: Path) -> None:
    """The denied wrapper's construction and the forwarded os.system call are reported; its __call__ is not a
    second "executes code" finding with the command as if it were Python."""
    for builder in (func_wrapper_call, parallel_dunder_call):
        subjects = {f.subject for f in of(analyse(builder(tmp_path)), "PKL001")}
        assert "os.system" in subjects
        assert not any(s.endswith(".__call__") for s in subjects), subjects


# ---- methods that are not denied: PKL003 with the Class.method as subject
UNKNOWN_METHODS = {
    "sklearn_fit": (
        call(_attr(call(glob("sklearn.linear_model._base", "LinearRegression")), "fit"), sbu("x")),
        "sklearn.linear_model._base.LinearRegression.fit",
    ),
    "torch_module_call": (
        call(call(glob("torch.nn.modules.linear", "Linear"), sbu("x")), sbu("y")),
        "torch.nn.modules.linear.Linear.__call__",
    ),
    "store_unlisted_method": (
        call(_attr(call(glob(*_STORE)), "some_helper"), sbu("x")),
        "joblib._store_backends.FileSystemStoreBackend.some_helper",
    ),
    "path_exists": (
        call(_attr(call(glob("pathlib", "PosixPath"), sbu("/etc/passwd")), "exists")),
        "pathlib.PosixPath.exists",
    ),
    "ordered_dict_unlisted_method": (
        call(_attr(call(glob("collections", "OrderedDict")), "popitem")),
        "collections.OrderedDict.popitem",
    ),
    "method_of_a_method_result": (
        call(_attr(call(_attr(call(glob("collections", "OrderedDict")), "update"), pickle.EMPTY_DICT), "x")),
        "collections.OrderedDict.update.x",
    ),
}


@pytest.mark.parametrize("name", list(UNKNOWN_METHODS))
def test_method_not_on_the_allow_list_is_pkl003(name: str) -> None:
    body, subject = UNKNOWN_METHODS[name]
    analysis = analyse(p2(body))
    found = [f for f in of(analysis, "PKL003") if f.subject == subject]
    assert found, analysis.findings
    assert found[0].effect is not Effect.NONE
    assert "calls method" in found[0].message
    assert not of(analysis, "PKL001")


# ---- benign: references to methods, and pure container updates
BENIGN = {
    # YOLO/Lightning checkpoints: a bound method stored as a value (e.g. a hook), never called.
    "stored_bound_method": pickle.EMPTY_DICT
    + sbu("hook")
    + _attr(call(glob("torch.nn.modules.linear", "Linear"), pickle.NONE), "forward")
    + pickle.SETITEM,
    "stored_class_method_reference": _attr(glob("torch.nn.modules.linear", "Linear"), "forward"),
    "ordered_dict_update": call(
        _attr(call(glob("collections", "OrderedDict")), "update"),
        pickle.EMPTY_DICT + sbu("k") + sbu("v") + pickle.SETITEM,
    ),
    "list_extend": call(_attr(pickle.EMPTY_LIST, "extend"), _list(sbu("a"))),
    "str_method": call(_attr(sbu("a,b"), "split"), sbu(",")),
}


@pytest.mark.parametrize("name", list(BENIGN))
def test_method_references_and_pure_updates_stay_clean(name: str) -> None:
    analysis = analyse(p2(BENIGN[name]))
    assert not serious(analysis), analysis.findings


def test_real_bound_method_pickle_is_clean() -> None:
    """What ``pickle.dumps`` writes for a bound method of an allowed class: a reference, no call."""
    from collections import OrderedDict

    data = pickle.dumps({"cb": OrderedDict().keys, "upd": OrderedDict().update}, protocol=4)
    analysis = analyse(data)
    assert not serious(analysis), analysis.findings


def test_memorized_func_forwards_its_call() -> None:
    """``joblib.memory.MemorizedFunc(os.system, None)(cmd)`` runs os.system(cmd) (cached or not)."""
    func = call(glob("joblib.memory", "MemorizedFunc"), glob("os", "system"), pickle.NONE)
    analysis = analyse(p2(call(func, sbu("touch /tmp/x"))))
    assert [f.subject for f in of(analysis, "PKL001")] == ["os.system"]
    assert {f.subject for f in of(analysis, "PKL003")} == {"joblib.memory.MemorizedFunc.__call__"}
