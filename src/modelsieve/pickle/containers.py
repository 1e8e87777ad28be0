"""Values taken back out of containers the stream built: ``[f].pop()``, ``next(iter((f,)))``, ``{k: f}.popitem()``.

A callable hidden in a list or tuple and fetched back by a builtin is the same callable: the
emulation follows it whenever the container's items are known, and mutates the symbolic
container as the real one would be (``pop`` removes the item). Unknown containers give Unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from modelsieve.pickle.handlers import HANDLERS, MAX_INLINE_ITEMS, Handler, via_chain
from modelsieve.pickle.render import clip, render
from modelsieve.pickle.trace import PURE, RESOLVER, Note
from modelsieve.pickle.values import (
    Const,
    DictV,
    Global,
    Iter,
    ListV,
    Namespace,
    SetV,
    Site,
    Tuple,
    Unknown,
    Value,
    int_of,
    text_of,
)

if TYPE_CHECKING:
    from modelsieve.pickle.resolve import Resolver

#: A symbolic container stops growing past this many items (the opcode limit bounds the rest).
MAX_KEPT_ITEMS = 100_000
_MAX_CHARS = 4096

Kwargs = tuple[tuple[str, Value], ...]


def items_of(value: Value) -> Sequence[Value] | None:
    """The items iterating over ``value`` yields, when the emulation knows them (not a copy: read only)."""
    if isinstance(value, (Tuple, ListV, SetV)):
        return value.items
    if isinstance(value, DictV):
        return [k for k, _ in value.items]
    if isinstance(value, Iter):
        return value.items
    if isinstance(value, Const) and isinstance(value.value, str) and len(value.value) <= _MAX_CHARS:
        return [Const(c) for c in value.value]
    if isinstance(value, Const) and isinstance(value.value, bytes) and len(value.value) <= _MAX_CHARS:
        return [Const(b) for b in value.value]
    return None


def is_container(value: Value) -> bool:
    return isinstance(value, (Tuple, ListV, DictV, SetV, Iter))


def _all_const_keys(d: DictV) -> bool:
    return all(isinstance(k, Const) for k, _ in d.items)


def dict_find(d: DictV, key: Value) -> int | None:
    """Index of the last pair whose key is the known constant ``key``."""
    if not isinstance(key, Const):
        return None
    for i in range(len(d.items) - 1, -1, -1):
        k = d.items[i][0]
        # Equal keys are one key in a real dict (1, 1.0 and True too); str and bytes never are.
        if isinstance(k, Const) and k.value == key.value:
            return i
    return None


def _room(items: list[Value] | list[tuple[Value, Value]], more: int) -> bool:
    return len(items) + more <= MAX_KEPT_ITEMS


def kept(r: Resolver, items: Sequence[Value] | None) -> list[Value] | None:
    """A copy of ``items`` to keep in a new value, when the copy budget allows it; else None."""
    return list(items) if items is not None and r.charge(len(items)) else None


def _list_method(r: Resolver, obj: ListV, method: str, args: tuple[Value, ...]) -> Value | None:
    items = obj.items
    if method == "pop":
        idx = int_of(args[0]) if args else -1
        if idx is None or not -len(items) <= idx < len(items):
            return Unknown("list.pop of an unknown item")
        return items.pop(idx)
    if method == "append" and args and _room(items, 1):
        items.append(args[0])
        return Const(None)
    if method == "extend" and args:
        more = kept(r, items_of(args[0]))
        if more is not None and _room(items, len(more)):
            items.extend(more)
        return Const(None)
    if method == "insert" and len(args) >= 2:
        idx = int_of(args[0])
        if idx is not None and _room(items, 1):
            items.insert(idx, args[1])
        return Const(None)
    if method == "reverse":
        items.reverse()
        return Const(None)
    if method == "clear":
        items.clear()
        return Const(None)
    if method == "copy":
        copied = kept(r, items)
        return ListV(copied, obj.weight) if copied is not None else Unknown("copy of a list")
    return None


def _dict_method(r: Resolver, obj: DictV, method: str, args: tuple[Value, ...]) -> Value | None:
    key = args[0] if args else None
    found = dict_find(obj, key) if key is not None else None
    missing = found is None and key is not None and isinstance(key, Const) and _all_const_keys(obj)
    if method in ("get", "__getitem__", "pop", "setdefault") and key is not None:
        if found is not None:
            value = obj.items[found][1]
            if method == "pop":
                del obj.items[found]
            return value
        if missing and method in ("get", "pop", "setdefault"):
            default = args[1] if len(args) > 1 else Const(None)
            if method == "setdefault" and _room(obj.items, 1):
                obj.items.append((key, default))
            return default
        return Unknown("dict lookup")
    if method == "popitem":
        return Tuple(obj.items.pop()) if obj.items else Unknown("popitem of an empty dict")
    if method in ("keys", "values", "items", "copy", "update") and not r.charge(len(obj.items) + 1):
        return Unknown(f"dict.{method} of a large dict")
    if method in ("keys", "values", "items"):
        pick = {"keys": lambda kv: kv[0], "values": lambda kv: kv[1], "items": lambda kv: Tuple(kv)}[method]
        return Tuple(tuple(pick(kv) for kv in obj.items), obj.weight)
    if method == "__setitem__" and len(args) >= 2:
        if _room(obj.items, 1):
            obj.items.append((args[0], args[1]))
        return Const(None)
    if method == "update" and args and isinstance(args[0], DictV):
        if _room(obj.items, len(args[0].items)):
            obj.items.extend(args[0].items)
        return Const(None)
    if method == "copy":
        return DictV(list(obj.items), obj.weight)
    return None


def _next(it: Iter, default: Value | None) -> Value:
    if it.items:
        return it.items.pop(0)
    if it.items is not None and default is not None:
        return default
    return Unknown("next item of an iterator")


def container_method(
    r: Resolver, obj: Value, method: str, args: tuple[Value, ...], site: Site, via: str
) -> Value | None:
    """``obj.method(*args)`` on a container whose items are known; None when the method is not modelled."""
    result: Value | None = None
    if method == "__iter__":
        items = items_of(obj)
        result = obj if isinstance(obj, Iter) else Iter(kept(r, items), f"{type_name(obj)}.__iter__")
    elif isinstance(obj, Iter) and method == "__next__":
        result = _next(obj, None)
    elif isinstance(obj, (ListV, Tuple)) and method == "__getitem__" and args:
        result = r._getitem(obj, args[0], site, via)
    elif isinstance(obj, ListV):
        result = _list_method(r, obj, method, args)
    elif isinstance(obj, DictV):
        result = _dict_method(r, obj, method, args)
    elif isinstance(obj, SetV) and not obj.frozen and method == "pop":
        result = obj.items.pop() if len(obj.items) == 1 else Unknown("set.pop of an unknown item")
    elif isinstance(obj, SetV) and not obj.frozen and method == "add" and args and _room(obj.items, 1):
        obj.items.append(args[0])
        result = Const(None)
    elif isinstance(obj, SetV) and method == "copy":
        copied = kept(r, obj.items)
        result = SetV(copied, obj.frozen, obj.weight) if copied is not None else Unknown("copy of a set")
    if result is not None:
        r.record(f"builtins.{type_name(obj)}.{method}", args, (), site, PURE, via, result)
    return result


def type_name(value: Value) -> str:
    if isinstance(value, Tuple):
        return "tuple"
    if isinstance(value, ListV):
        return "list"
    if isinstance(value, DictV):
        return "dict"
    if isinstance(value, SetV):
        return "frozenset" if value.frozen else "set"
    return "iterator"


# --------------------------------------------------------------------- handlers
def _iter(r: Resolver, args: tuple[Value, ...], kwargs: Kwargs, site: Site, via: str) -> Value:
    if len(args) == 2:
        # iter(callable, sentinel) calls the callable until it returns the sentinel.
        result: Value = Iter(None, "builtins.iter")
        r.record("builtins.iter", args, kwargs, site, RESOLVER, via, result)
        label = via_chain(via, f"iter({render(args[0], 60)}, sentinel) calls it")
        r.invoke(args[0], (), (), site, "reduce", label, 1)
        return result
    items = kept(r, items_of(args[0])) if args and not isinstance(args[0], Iter) else None
    result = args[0] if args and isinstance(args[0], Iter) else Iter(items)
    r.record("builtins.iter", args, kwargs, site, PURE, via, result)
    return result


def _next_handler(r: Resolver, args: tuple[Value, ...], kwargs: Kwargs, site: Site, via: str) -> Value:
    default = args[1] if len(args) > 1 else None
    result: Value = Unknown("next item of an iterator")
    if args and isinstance(args[0], Iter):
        result = _next(args[0], default)
    elif args and isinstance(args[0], (Tuple, ListV)) and args[0].items:
        # The emulation returns sequences where the loader has iterators (reversed, map): take the first item.
        result = args[0].items[0]
    r.record("builtins.next", args, kwargs, site, PURE, via, result)
    return result


HANDLERS["builtins.iter"] = _iter
HANDLERS["builtins.next"] = _next_handler


def _make_unbound(kind: str, method: str) -> Handler:
    name = f"builtins.{kind}.{method}"

    def handler(r: Resolver, args: tuple[Value, ...], kwargs: Kwargs, site: Site, via: str) -> Value:
        if args and is_container(args[0]):
            result = container_method(r, args[0], method, args[1:], site, via)
            if result is not None:
                return result
        if args and method in ("__setitem__", "append", "extend", "add", "update") and not is_container(args[0]):
            r.mutate(args[0], method, args[1:], site)
            r.record(name, args, kwargs, site, RESOLVER, via)
            return Const(None)
        return r._default_call(Global("builtins", f"{kind}.{method}"), name, args, kwargs, site, "reduce", via)

    return handler


_UNBOUND = {
    "list": ("pop", "__getitem__", "copy", "append", "extend", "insert", "reverse", "clear", "__iter__"),
    "tuple": ("__getitem__", "__iter__"),
    "dict": ("pop", "popitem", "setdefault", "keys", "values", "items", "copy", "update", "__setitem__", "__iter__"),
    "set": ("pop", "add", "copy", "__iter__"),
    "frozenset": ("copy", "__iter__"),
}
for _kind, _methods in _UNBOUND.items():
    for _method in _methods:
        HANDLERS.setdefault(f"builtins.{_kind}.{_method}", _make_unbound(_kind, _method))


def _setitem(r: Resolver, args: tuple[Value, ...], kwargs: Kwargs, site: Site, via: str) -> Value:
    """``operator.setitem(obj, key, value)``: a dict the stream built, or a module's global state."""
    if len(args) >= 3:
        if isinstance(args[0], (DictV, ListV)):
            container_method(r, args[0], "__setitem__", args[1:3], site, via)
        else:
            r.mutate(args[0], "__setitem__", args[1:3], site)
    r.record("operator.setitem", args, kwargs, site, RESOLVER, via)
    return Const(None)


for _name in ("operator.setitem", "operator.__setitem__"):
    HANDLERS[_name] = _setitem


def first_items(items: Sequence[Value] | None) -> list[Value]:
    """Items a higher-order call is followed with: the known ones (bounded), or one unknown item."""
    return list(items[:MAX_INLINE_ITEMS]) if items is not None else [Unknown("item")]


def namespace_store(r: Resolver, ns: Namespace, key: Value, value: Value, site: Site, how: str) -> None:
    """``sys.modules[name] = v`` / ``vars(module)[name] = v``: later lookups of that name get ``v``."""
    name = text_of(key)
    shown = render(value, 120)
    if name is None:
        where = "sys.modules" if not ns.module else f"{ns.module}.__dict__"
        r.trace.note(Note("PKL014", site, f"{how} writes an entry computed at load time into {where}", where, shown))
        return
    if not ns.module:
        r.module_hijacks[name] = value
        r.trace.note(
            Note(
                "PKL014",
                site,
                f"{how} puts {clip(shown, 80)} into sys.modules[{name!r}]: every later import of {name} gets it",
                f"sys.modules.{name}",
                shown,
            )
        )
        return
    r.patch(ns.module, name, value)
    r.trace.note(
        Note(
            "PKL014",
            site,
            f"{how} sets {ns.module}.{name} = {clip(shown, 80)} through {ns.module}.__dict__",
            f"{ns.module}.{name}",
            shown,
        )
    )


def _dict(r: Resolver, args: tuple[Value, ...], kwargs: Kwargs, site: Site, via: str) -> Value:
    """``dict(pairs, **kw)`` / ``dict.fromkeys(keys, value)`` over known items: a dict the emulation can read."""
    pairs: list[tuple[Value, Value]] | None = []
    if args and isinstance(args[0], DictV):
        pairs = kept_pairs(r, args[0].items)
    elif args:
        source = items_of(args[0])
        pairs = None
        if source is not None and r.charge(len(source)):
            found = [items_of(p) for p in source]
            if all(p is not None and len(p) == 2 for p in found):
                pairs = [(p[0], p[1]) for p in found if p is not None]
    if pairs is None or len(args) > 1:
        return r._default_call(Global("builtins", "dict"), "builtins.dict", args, kwargs, site, "reduce", via)
    result = DictV(pairs + [(Const(k), v) for k, v in kwargs])
    r.record("builtins.dict", args, kwargs, site, PURE, via, result)
    return result


def _fromkeys(r: Resolver, args: tuple[Value, ...], kwargs: Kwargs, site: Site, via: str) -> Value:
    keys = kept(r, items_of(args[0])) if args else None
    if keys is None:
        target = "builtins.dict.fromkeys"
        return r._default_call(Global("builtins", "dict.fromkeys"), target, args, kwargs, site, "reduce", via)
    value = args[1] if len(args) > 1 else Const(None)
    result = DictV([(k, value) for k in keys])
    r.record("builtins.dict.fromkeys", args, kwargs, site, PURE, via, result)
    return result


def kept_pairs(r: Resolver, pairs: list[tuple[Value, Value]]) -> list[tuple[Value, Value]] | None:
    return list(pairs) if r.charge(len(pairs)) else None


HANDLERS["builtins.dict"] = _dict
HANDLERS["builtins.dict.fromkeys"] = _fromkeys


def _zip(r: Resolver, args: tuple[Value, ...], kwargs: Kwargs, site: Site, via: str) -> Value:
    """``zip(a, b, ...)`` over known sequences: an iterator of tuples."""
    seqs = [items_of(a) for a in args]
    result: Value = Iter(None, "builtins.zip")
    if seqs and all(s is not None for s in seqs):
        count = min(len(s) for s in seqs if s is not None)
        if r.charge(count * (len(seqs) + 1)):
            result = Iter([Tuple(tuple(s[i] for s in seqs if s is not None)) for i in range(count)], "builtins.zip")
    r.record("builtins.zip", args, kwargs, site, PURE, via, result)
    return result


def _enumerate(r: Resolver, args: tuple[Value, ...], kwargs: Kwargs, site: Site, via: str) -> Value:
    items = items_of(args[0]) if args else None
    start = int_of(args[1]) if len(args) > 1 else 0
    result: Value = Iter(None, "builtins.enumerate")
    if items is not None and start is not None and r.charge(len(items) * 3):
        result = Iter([Tuple((Const(start + i), x)) for i, x in enumerate(items)], "builtins.enumerate")
    r.record("builtins.enumerate", args, kwargs, site, PURE, via, result)
    return result


HANDLERS["builtins.zip"] = _zip
HANDLERS["builtins.enumerate"] = _enumerate
