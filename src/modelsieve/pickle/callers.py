"""Callables that call a function they are given: key functions, call-forwarding wrappers,
callback registries run later, and classes made at load time with ``type(name, bases, dict)``.

The tables are data: adding a higher-order function is one entry saying where its function
argument sits and which items it is called with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelsieve.pickle.containers import first_items, items_of, kept
from modelsieve.pickle.handlers import HANDLERS, MAX_INLINE_ITEMS, Handler, via_chain
from modelsieve.pickle.render import render
from modelsieve.pickle.trace import CALL, METHOD, PURE, RESOLVER
from modelsieve.pickle.values import (
    Attr,
    Const,
    DictV,
    Global,
    Iter,
    LargeBytes,
    ListV,
    Obj,
    Partial,
    SetV,
    Site,
    Tuple,
    Unknown,
    Value,
    int_of,
    sequence_of,
    text_of,
)

if TYPE_CHECKING:
    from modelsieve.pickle.resolve import Resolver

Kwargs = tuple[tuple[str, Value], ...]
#: Implicit special-method calls followed per instance of a class made at load time.
MAX_DUNDERS = 16
#: Constant items compared to compute min/max/sorted; larger sequences give an unknown order.
MAX_CONST_ITEMS = 4096


@dataclass(frozen=True)
class Caller:
    """How one higher-order callable calls its function argument.

    ``func``/``keyword``: positional index (``None``: keyword-only) and keyword name of the function.
    ``items``: positional index of the iterable whose elements the function receives; ``None``: the
    ``min``/``max`` form (one positional iterable, or every positional argument is an item);
    ``-1``: no iterable, the function receives one value the stream does not give (``given``).
    ``spread``: every positional argument is an iterable (``heapq.merge``). ``arity``: 1 for
    ``key(item)``, 2 for ``func(acc, item)``. ``returns``: ``item`` (one of the items), ``items``
    (the items as a list), ``none`` or ``unknown``.
    """

    func: int | None
    keyword: str
    items: int | None
    arity: int = 1
    returns: str = "unknown"
    given: str = ""
    spread: bool = False


CALLERS: dict[str, Caller] = {
    "builtins.sorted": Caller(None, "key", 0, returns="items"),
    "builtins.min": Caller(None, "key", None, returns="item"),
    "builtins.max": Caller(None, "key", None, returns="item"),
    "builtins.list.sort": Caller(None, "key", 0, returns="none"),
    "heapq.nsmallest": Caller(2, "key", 1, returns="items"),
    "heapq.nlargest": Caller(2, "key", 1, returns="items"),
    "heapq.merge": Caller(None, "key", None, spread=True),
    "itertools.groupby": Caller(1, "key", 0),
    "itertools.takewhile": Caller(0, "predicate", 1),
    "itertools.dropwhile": Caller(0, "predicate", 1),
    "itertools.filterfalse": Caller(0, "function", 1),
    "itertools.accumulate": Caller(1, "func", 0, arity=2),
    "bisect.insort": Caller(None, "key", 0, returns="none"),
    "bisect.insort_left": Caller(None, "key", 0, returns="none"),
    "bisect.insort_right": Caller(None, "key", 0, returns="none"),
    "bisect.bisect": Caller(None, "key", 0),
    "bisect.bisect_left": Caller(None, "key", 0),
    "bisect.bisect_right": Caller(None, "key", 0),
    "re.sub": Caller(1, "repl", -1, given="match object"),
    "re.subn": Caller(1, "repl", -1, given="match object"),
    "types.new_class": Caller(3, "exec_body", -1, given="class namespace"),
    # The callback runs with the weak reference as soon as the referent is freed (at once for a temporary).
    "weakref.ref": Caller(1, "callback", -1, given="weak reference"),
}


def _arg(args: tuple[Value, ...], kwargs: Kwargs, pos: int | None, keyword: str) -> Value | None:
    if pos is not None and len(args) > pos:
        return args[pos]
    for k, v in kwargs:
        if k == keyword:
            return v
    return None


def _items(spec: Caller, args: tuple[Value, ...]) -> Sequence[Value] | None:
    if spec.items == -1:
        return [Unknown(spec.given)]
    if spec.spread:
        out: list[Value] = []
        for a in args:
            got = items_of(a)
            if got is None:
                return None
            out.extend(got[:MAX_CONST_ITEMS])
        return out
    if spec.items is None:
        return items_of(args[0]) if len(args) == 1 else list(args)
    return items_of(args[spec.items]) if len(args) > spec.items else None


def _sorted_consts(items: Sequence[Value]) -> list[Value] | None:
    """The items in sorted order when they are comparable constants (a bounded number of them)."""
    if len(items) > MAX_CONST_ITEMS:
        return None
    consts = [i for i in items if isinstance(i, Const)]
    if len(consts) != len(items):
        return None
    try:
        ordered = sorted(consts, key=_const_key)
    except TypeError:
        return None
    return list[Value](ordered)


def _const_key(c: Const) -> Any:
    return c.value


def _result(name: str, spec: Caller, args: tuple[Value, ...], kwargs: Kwargs, items: Sequence[Value] | None) -> Value:
    keyed = _arg(args, kwargs, spec.func, spec.keyword) is not None
    ordered = None if keyed or items is None else _sorted_consts(items)
    if spec.returns == "none":
        return Const(None)
    if spec.returns == "item" and items is not None:
        if len(items) == 1:
            return items[0]
        if not items:
            return _arg((), kwargs, None, "default") or Unknown(f"{name} of an empty sequence")
        if ordered is not None:
            return ordered[-1] if name.endswith("max") else ordered[0]
    if spec.returns == "items" and items is not None:
        chosen = ordered if ordered is not None else items
        if name.startswith("heapq."):
            n = int_of(args[0]) if args else None
            if ordered is not None and name.endswith("nlargest"):
                chosen = ordered[::-1]
            if n is None or (ordered is None and n < len(items)):
                return Unknown(f"result of {name}")
            chosen = chosen[: max(n, 0)]
        return ListV(list(chosen))
    return Unknown(f"result of {name}")


def _calls(spec: Caller, items: Sequence[Value] | None) -> list[tuple[Value, ...]]:
    if spec.arity == 2:
        if items is None:
            return [(Unknown("accumulated value"), Unknown("item"))]
        return [(items[0], items[1])] if len(items) >= 2 else []
    return [(item,) for item in first_items(items)]


def _make_caller(name: str) -> Handler:
    spec = CALLERS[name]

    def handler(r: Resolver, args: tuple[Value, ...], kwargs: Kwargs, site: Site, via: str) -> Value:
        func = _arg(args, kwargs, spec.func, spec.keyword)
        if isinstance(func, Const) and func.value is None:
            func = None
        items = _items(spec, args)
        result = _result(name, spec, args, kwargs, kept(r, items) if spec.returns == "items" else items)
        r.record(name, args, kwargs, site, PURE if func is None else RESOLVER, via, result)
        if func is not None:
            label = via_chain(via, f"{name} calls {render(func, 60)}")
            for call_args in _calls(spec, items):
                r.invoke(func, call_args, (), site, "reduce", label, 1)
        return result

    return handler


for _name in CALLERS:
    HANDLERS[_name] = _make_caller(_name)


# ---------------------------------------------------------------- map, reduce and deferred runners
#: Steps of ``functools.reduce`` followed (each step is one call of the function).
MAX_FOLD_STEPS = 16


def _make_invoker(name: str) -> Handler:
    def handler(
        r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
    ) -> Value:
        r.record(name, args, kwargs, site, RESOLVER, via)
        if not args:
            return Unknown(f"result of {name}")
        func, rest = args[0], args[1:]
        label = via_chain(via, f"{name}({render(func, 60)}, …)")
        if name == "functools.reduce":
            return _fold(r, func, rest, site, label)
        calls: list[tuple[Value, ...]] = []
        exact = True
        if name in ("operator.call", "atexit.register"):
            calls.append(rest)
        elif name == "builtins.apply":
            calls.append(tuple(sequence_of(rest[0]) or (Unknown("arguments"),)) if rest else ())
        elif name == "itertools.starmap":
            items = sequence_of(rest[0]) if rest else None
            exact = items is not None and len(items) <= MAX_INLINE_ITEMS
            for item in (items or [Unknown("items")])[:MAX_INLINE_ITEMS]:
                given = sequence_of(item)
                exact = exact and given is not None
                calls.append(tuple(given or [item]))
        else:
            seqs = [sequence_of(s) for s in rest]
            count = min([len(s) for s in seqs if s is not None] or [1])
            exact = all(s is not None for s in seqs) and count <= MAX_INLINE_ITEMS
            for i in range(min(count, MAX_INLINE_ITEMS)):
                calls.append(tuple(s[i] if s is not None else Unknown("item") for s in seqs))
        results = [r.invoke(func, call_args, (), site, "reduce", label, 1) for call_args in calls]
        if name == "atexit.register":
            return func
        if name in ("operator.call", "builtins.apply"):
            return results[0]
        if exact and name in ("builtins.map", "itertools.starmap"):
            # A lazy map over known items: the values it yields are the results of the calls, in order.
            return Iter(results, name)
        return Unknown(f"result of {name}")

    return handler


def _fold(r: Resolver, func: Value, rest: tuple[Value, ...], site: Site, label: str) -> Value:
    """``functools.reduce(func, items[, initial])``: ``acc = func(acc, item)`` over the known items."""
    items = sequence_of(rest[0]) if rest else None
    if items is None:
        r.invoke(func, (Unknown("accumulated value"), Unknown("item")), (), site, "reduce", label, 1)
        return Unknown("result of functools.reduce")
    if len(rest) > 1:
        acc, todo = rest[1], items
    elif items:
        acc, todo = items[0], items[1:]
    else:
        return Unknown("functools.reduce of an empty sequence")
    for item in todo[:MAX_FOLD_STEPS]:
        acc = r.invoke(func, (acc, item), (), site, "reduce", label, 1)
    return acc if len(todo) <= MAX_FOLD_STEPS else Unknown("result of functools.reduce")


for _name in (
    "builtins.map",
    "builtins.filter",
    "itertools.starmap",
    "functools.reduce",
    "operator.call",
    "atexit.register",
    "builtins.apply",
):
    HANDLERS[_name] = _make_invoker(_name)


#: Callables that run a function they are given, later or at once: name -> (function position, arguments position,
#: keyword names). ``None`` as arguments position means "the remaining positional arguments".
_DEFERRED: dict[str, tuple[int, int | None, tuple[str, str]]] = {
    "threading.Thread": (1, 2, ("target", "args")),
    "threading.Timer": (1, 2, ("function", "args")),
    "multiprocessing.Process": (1, 2, ("target", "args")),
    "multiprocessing.context.Process": (1, 2, ("target", "args")),
    "multiprocessing.util.Finalize": (1, 2, ("callback", "args")),
    "weakref.finalize": (1, None, ("func", "args")),
}


def _make_deferred(name: str) -> Handler:
    func_pos, args_pos, (func_kw, args_kw) = _DEFERRED[name]

    def handler(
        r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
    ) -> Value:
        result = Obj(Global(*name.rsplit(".", 1)), args, kwargs, name, site)
        r.record(name, args, kwargs, site, CALL, via, result)
        func = args[func_pos] if len(args) > func_pos else _arg((), kwargs, None, func_kw)
        if func is None or (isinstance(func, Const) and func.value is None):
            return result
        if args_pos is None:
            call_args: tuple[Value, ...] = args[func_pos + 1 :]
        else:
            given = args[args_pos] if len(args) > args_pos else _arg((), kwargs, None, args_kw)
            call_args = tuple(sequence_of(given) or ()) if given is not None else ()
        r.invoke(func, call_args, (), site, "reduce", via_chain(via, f"{name} runs {render(func, 60)}"), 1)
        return result

    return handler


for _name in _DEFERRED:
    HANDLERS[_name] = _make_deferred(_name)


# ---------------------------------------------------------------- call-forwarding wrappers
def callable_like(value: Value) -> bool:
    """Whether a value may be a function (data values such as numbers and containers are not)."""
    return not isinstance(value, (Const, LargeBytes, Tuple, ListV, DictV, SetV))


#: Objects that, called, call the function they wrap with the same arguments: name -> (positions, keywords)
#: where that function may be given.
WRAPPERS: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    "builtins.staticmethod": ((0,), ()),
    "functools.cache": ((0,), ("user_function",)),
    "functools.lru_cache": ((0,), ("maxsize",)),
    "functools.singledispatch": ((0,), ("func",)),
    # _GeneratorContextManager.__init__ calls func(*args) at once to make the generator.
    "contextlib.contextmanager": ((0,), ("func",)),
    "contextlib.asynccontextmanager": ((0,), ("func",)),
    "unittest.mock.Mock": ((1, 3), ("side_effect", "wraps")),
    "unittest.mock.MagicMock": ((1, 3), ("side_effect", "wraps")),
}

#: Callables that return one of their arguments unchanged: name -> its position.
IDENTITY: dict[str, int] = {
    "copy.copy": 0,
    "copy.deepcopy": 0,
    "typing.cast": 1,
    "functools.update_wrapper": 0,
    "functools.total_ordering": 0,
    "abc.abstractmethod": 0,
    "typing.final": 0,
    "typing.no_type_check": 0,
}


def _make_wrapper(name: str) -> Handler:
    positions, keywords = WRAPPERS[name]

    def handler(r: Resolver, args: tuple[Value, ...], kwargs: Kwargs, site: Site, via: str) -> Value:
        wrapped = next((args[p] for p in positions if len(args) > p and callable_like(args[p])), None)
        if wrapped is None:
            wrapped = next((v for k, v in kwargs if k in keywords and callable_like(v)), None)
        result: Value
        if wrapped is not None:
            result = Partial(wrapped, (), (), kind=name)
        elif name == "functools.lru_cache":
            # lru_cache(maxsize) is a decorator: lru_cache(128)(func) wraps func.
            result = Partial(Global("functools", "lru_cache"), (), (), kind=name)
        else:
            return r._default_call(Global(*name.rsplit(".", 1)), name, args, kwargs, site, "reduce", via)
        r.record(name, args, kwargs, site, RESOLVER, via, result)
        return result

    return handler


def _make_identity(name: str) -> Handler:
    pos = IDENTITY[name]

    def handler(r: Resolver, args: tuple[Value, ...], kwargs: Kwargs, site: Site, via: str) -> Value:
        result = args[pos] if len(args) > pos else Unknown(f"result of {name}")
        r.record(name, args, kwargs, site, PURE, via, result)
        return result

    return handler


def _wraps(r: Resolver, args: tuple[Value, ...], kwargs: Kwargs, site: Site, via: str) -> Value:
    """``functools.wraps(wrapped)`` is a decorator returning the function it decorates."""
    result = Partial(Global("functools", "update_wrapper"), (), (), kind="functools.wraps")
    r.record("functools.wraps", args, kwargs, site, RESOLVER, via, result)
    return result


for _name in WRAPPERS:
    HANDLERS[_name] = _make_wrapper(_name)
for _name in IDENTITY:
    HANDLERS[_name] = _make_identity(_name)
HANDLERS["functools.wraps"] = _wraps


# ---------------------------------------------------------------- callbacks registered now, run later
_EXIT_ARGS: tuple[Value, ...] = (Const(None), Const(None), Const(None))
_STACK = "contextlib.ExitStack"
_SCHED = "sched.scheduler"
#: (class, method) pairs that register or run callbacks kept on the object.
REGISTRY_METHODS = frozenset(
    {
        (_STACK, "callback"),
        (_STACK, "push"),
        (_STACK, "enter_context"),
        (_STACK, "close"),
        (_STACK, "__exit__"),
        (_STACK, "__enter__"),
        (_STACK, "pop_all"),
        (_SCHED, "enter"),
        (_SCHED, "enterabs"),
        (_SCHED, "run"),
    }
)


def registry_method(
    r: Resolver, obj: Obj, method: str, args: tuple[Value, ...], kwargs: Kwargs, site: Site, via: str
) -> Value | None:
    """Register a callback on ``obj`` or run the registered ones; None when ``method`` is not such a method."""
    key = (obj.target or "", method)
    if key not in REGISTRY_METHODS:
        return None
    result: Value = Const(None)
    if key == (_STACK, "callback") and args:
        obj.pending.append((args[0], args[1:], kwargs))
        result = args[0]
    elif key == (_STACK, "push") and args:
        obj.pending.append((args[0], _EXIT_ARGS, ()))
        result = args[0]
    elif key == (_STACK, "enter_context") and args:
        label = via_chain(via, f"{_STACK}.enter_context enters {render(args[0], 60)}")
        result = r.invoke(Attr(args[0], "__enter__"), (), (), site, "reduce", label, 1)
        obj.pending.append((Attr(args[0], "__exit__"), _EXIT_ARGS, ()))
    elif key in ((_SCHED, "enter"), (_SCHED, "enterabs")):
        action = _arg(args, kwargs, 2, "action")
        given = _arg(args, kwargs, 3, "argument")
        named = _arg(args, kwargs, 4, "kwargs")
        call_kwargs = tuple((text_of(k) or "?", v) for k, v in named.items) if isinstance(named, DictV) else ()
        if action is not None:
            obj.pending.append((action, tuple(sequence_of(given) or ()) if given is not None else (), call_kwargs))
        result = Unknown("scheduled event")
    elif key == (_STACK, "pop_all"):
        moved = Obj(obj.func, (), (), obj.target, site)
        moved.pending, obj.pending = obj.pending, []
        result = moved
    elif key == (_STACK, "__enter__"):
        result = obj
    elif method in ("close", "__exit__", "run"):
        callbacks = obj.pending[::-1] if obj.target == _STACK else list(obj.pending)
        obj.pending = []
        label = via_chain(via, f"{obj.target}.{method} runs a callback registered earlier")
        for func, call_args, call_kwargs in callbacks[:MAX_DUNDERS]:
            r.invoke(func, call_args, call_kwargs, site, "reduce", label, 1)
    r.record(f"{obj.target}.{method}", args, kwargs, site, METHOD, via, result)
    return result


# ---------------------------------------------------------------- classes made with type(name, bases, dict)
#: Special methods that receive one value besides the instance.
_TAKES_OTHER = frozenset(
    {
        "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__contains__", "__getitem__", "__delitem__",
        "__getattr__", "__getattribute__", "__delattr__", "__format__", "__setstate__", "__reduce_ex__",
        "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__mod__", "__rmod__", "__or__",
        "__ror__", "__and__", "__rand__", "__xor__", "__rxor__", "__truediv__", "__floordiv__", "__pow__",
        "__iadd__", "__ior__", "__missing__", "__instancecheck__", "__subclasscheck__",
    }
)  # fmt: skip
#: Entries of a class body that are data, not methods.
_DATA_DUNDERS = frozenset(
    {"__module__", "__qualname__", "__doc__", "__slots__", "__annotations__", "__dict__", "__weakref__"}
)


def dunder_args(dunder: str, args: tuple[Value, ...], kwargs: Kwargs = ()) -> tuple[Value, ...]:
    """What an implicitly called special method receives, as far as the emulation can tell.

    Construction hooks get the constructor's arguments; the others get the instance, which for the str,
    bytes and int subclasses these gadgets use equals the first constructor argument.
    """
    if dunder in ("__new__", "__init__", "__call__", "__init_subclass__"):
        return args
    instance = args[0] if args else Unknown("the instance")
    if dunder in _TAKES_OTHER:
        return (instance, Unknown("other operand"))
    if dunder in ("__setattr__", "__setitem__"):
        return (instance, Unknown("name"), Unknown("value"))
    return (instance,)


def is_dynamic_class(value: Value) -> bool:
    """A class the stream made with ``type(name, bases, namespace)``."""
    return isinstance(value, Obj) and value.target == "builtins.type" and len(value.args) == 3


def _make_type(r: Resolver, args: tuple[Value, ...], kwargs: Kwargs, site: Site, via: str) -> Value:
    if len(args) != 3:
        return r._default_call(Global("builtins", "type"), "builtins.type", args, kwargs, site, "reduce", via)
    cls = Obj(Global("builtins", "type"), args, kwargs, "builtins.type", site)
    for base in sequence_of(args[1]) or ():
        if is_dynamic_class(base) and isinstance(base, Obj):
            cls.attrs.update(base.attrs)
            hook = base.attrs.get("__init_subclass__")
            if hook is not None and callable_like(hook):
                # Creating a subclass calls the base's __init_subclass__ with the class keywords.
                label = via_chain(via, "builtins.type runs __init_subclass__ of a base made at load time")
                r.invoke(hook, (), kwargs, site, "reduce", label, 1)
    if isinstance(args[2], DictV):
        for k, v in args[2].items[:10_000]:
            key = text_of(k)
            if key is not None:
                cls.attrs[key] = v
    r.record("builtins.type", args, kwargs, site, CALL, via, cls)
    return cls


def _metaclass_new(r: Resolver, args: tuple[Value, ...], kwargs: Kwargs, site: Site, via: str) -> Value:
    """``type.__new__(type, name, bases, ns)``: the metaclass comes first."""
    return _make_type(r, args[1:], kwargs, site, via)


HANDLERS["builtins.type"] = _make_type
HANDLERS["abc.ABCMeta"] = _make_type
HANDLERS["builtins.type.__new__"] = _metaclass_new
HANDLERS["abc.ABCMeta.__new__"] = _metaclass_new


def _property(r: Resolver, args: tuple[Value, ...], kwargs: Kwargs, site: Site, via: str) -> Value:
    """``property(fget)``: reading the attribute on an instance calls ``fget(instance)``."""
    fget = _arg(args, kwargs, 0, "fget")
    if fget is None or not callable_like(fget):
        return r._default_call(Global("builtins", "property"), "builtins.property", args, kwargs, site, "reduce", via)
    result = Partial(fget, (), (), kind="builtins.property")
    r.record("builtins.property", args, kwargs, site, RESOLVER, via, result)
    return result


HANDLERS["builtins.property"] = _property
HANDLERS["functools.cached_property"] = _property


def read_property(r: Resolver, instance: Obj, name: str, prop: Partial, site: Site) -> Value:
    """``instance.name`` where the class holds ``property(fget)``: the getter runs with the instance."""
    label = f"reading {name} runs the property getter {render(prop.func, 60)}"
    return r.invoke(prop.func, dunder_args("__get__", instance.args), (), site, "reduce", label, 1)


def instantiate(
    r: Resolver, cls: Obj, args: tuple[Value, ...], kwargs: Kwargs, site: Site, via: str, depth: int
) -> Value:
    """An instance of a class made at load time: its special methods run implicitly (init, del, hash, repr ...)."""
    name = text_of(cls.args[0]) or "<computed name>"
    instance = Obj(cls, args, kwargs, None, site)
    hooks: list[tuple[str, Value]] = []
    for attr, value in cls.attrs.items():
        if isinstance(value, Partial) and value.kind == "builtins.property":
            instance.attrs[attr] = value
        elif attr.startswith("__") and attr.endswith("__") and attr != "__call__":
            if attr not in _DATA_DUNDERS and callable_like(value):
                hooks.append((attr, value))
        else:
            instance.attrs[attr] = value
    for dunder, func in hooks[:MAX_DUNDERS]:
        label = via_chain(via, f"class {name} made by builtins.type runs {dunder} on its instance")
        r.invoke(func, dunder_args(dunder, args, kwargs), (), site, "reduce", label, depth + 1)
    return instance


# ---------------------------------------------------------------- objects whose methods run what they hold
#: ``(class, method)`` pairs that call a function the object holds with the method's own arguments:
#: -> (attribute holding it, constructor positions, constructor keywords). ``__call__`` is calling the object.
FORWARDERS: dict[tuple[str, str], tuple[str, tuple[int, ...], tuple[str, ...]]] = {
    ("sklearn.utils.parallel._FuncWrapper", "__call__"): ("function", (0,), ("function",)),
    ("sklearn.utils.fixes._FuncWrapper", "__call__"): ("function", (0,), ("function",)),
    ("joblib._parallel_backends.SafeFunction", "__call__"): ("func", (0,), ("func",)),
    ("joblib.memory.MemorizedFunc", "__call__"): ("func", (0,), ("func",)),
    ("joblib.memory.NotMemorizedFunc", "__call__"): ("func", (0,), ("func",)),
    ("joblib.memory.AsyncMemorizedFunc", "__call__"): ("func", (0,), ("func",)),
    # What Memory(...).cache(func) returns: a (Not)MemorizedFunc of func (the method call's own arguments).
    ("joblib.memory.Memory.cache", "__call__"): ("func", (0,), ("func",)),
    # FunctionTransformer(func, inverse_func): transform(X) is func(X) (validate=False passes X through).
    ("sklearn.preprocessing._function_transformer.FunctionTransformer", "transform"): ("func", (0,), ("func",)),
    ("sklearn.preprocessing._function_transformer.FunctionTransformer", "fit_transform"): ("func", (0,), ("func",)),
    ("sklearn.preprocessing._function_transformer.FunctionTransformer", "inverse_transform"): (
        "inverse_func",
        (1,),
        ("inverse_func",),
    ),
}
#: Classes whose instances, called, run every ``(function, args, kwargs)`` job of an iterable:
#: class -> where the jobs are (the call's first argument, or the constructor's first argument).
RUNNERS: dict[str, str] = {
    "sklearn.utils.parallel.Parallel": "call",
    "sklearn.utils.fixes.Parallel": "call",
    "joblib.Parallel": "call",
    "joblib.parallel.Parallel": "call",
    "joblib.parallel.BatchedCalls": "init",
}


def _held(obj: Obj, attribute: str, positions: tuple[int, ...], keywords: tuple[str, ...]) -> Value | None:
    found = obj.attrs.get(attribute)
    if found is None:
        found = next((obj.args[p] for p in positions if len(obj.args) > p), None)
    if found is None:
        found = next((v for k, v in obj.kwargs if k in keywords), None)
    return found if found is not None and callable_like(found) else None


def forward_call(
    r: Resolver, obj: Obj, method: str, args: tuple[Value, ...], kwargs: Kwargs, site: Site, via: str, depth: int
) -> Value | None:
    """Run what ``obj.method(*args, **kwargs)`` runs when it forwards to a function ``obj`` holds or runs a list of
    jobs; None when the pair is not such a method."""
    cls = obj.target or ""
    forwarder = FORWARDERS.get((cls, method))
    if forwarder is not None:
        func = _held(obj, *forwarder)
        if func is None or (method != "__call__" and not args):
            return None
        label = via_chain(via, f"{cls}.{method} forwards to {render(func, 60)}")
        # Methods of a transformer take one value (X); only __call__ passes its arguments on unchanged.
        call_args, call_kwargs = (args, kwargs) if method == "__call__" else (args[:1], ())
        return r.invoke(func, call_args, call_kwargs, site, "reduce", label, depth + 1)
    where = RUNNERS.get(cls) if method == "__call__" else None
    if where is None:
        return None
    source = (args[0] if args else None) if where == "call" else (obj.args[0] if obj.args else None)
    jobs = items_of(source) if source is not None else None
    if not jobs:
        return None
    results: list[Value] = []
    for job in list(jobs)[:MAX_DUNDERS]:
        parts = sequence_of(job)
        if not parts:
            continue
        call_args = tuple(sequence_of(parts[1]) or ()) if len(parts) > 1 else ()
        named = parts[2] if len(parts) > 2 else None
        call_kwargs = tuple((text_of(k) or "?", v) for k, v in named.items) if isinstance(named, DictV) else ()
        label = via_chain(via, f"{cls} runs the job {render(parts[0], 60)}")
        results.append(r.invoke(parts[0], call_args, call_kwargs, site, "reduce", label, depth + 1))
    return ListV(results)
