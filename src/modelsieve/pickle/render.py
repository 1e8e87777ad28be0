"""Short, bounded text for symbolic values (arguments in reports, evidence).

Every walk here is bounded in depth and length: values can be cyclic or be
expansion bombs, and must never make rendering slow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelsieve.pickle.values import (
    Attr,
    Buffer,
    Code,
    Const,
    DictV,
    Downloaded,
    Getter,
    Global,
    Iter,
    LargeBytes,
    ListV,
    ModuleRef,
    Namespace,
    Obj,
    Partial,
    Persistent,
    SetV,
    Tuple,
    Unknown,
    Value,
    code_origin,
)

_MAX_DEPTH = 6
_MAX_ITEMS = 8


def name_of(value: Value) -> str | None:
    """Canonical dotted name of a callable value, or None when it is not known."""
    if isinstance(value, Global):
        return value.name
    if isinstance(value, ModuleRef):
        return value.module
    if isinstance(value, Attr):
        base = name_of(value.obj)
        return None if base is None else f"{base}.{value.name}"
    if isinstance(value, Obj):
        return None if value.target is None else f"{value.target}()"
    return None


def clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(value: Value, limit: int = 300) -> str:
    """``repr``-like text of a value, at most ``limit`` characters."""
    out: list[str] = []
    _render(value, out, 0, [limit * 2])
    return clip("".join(out), limit)


def render_args(args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...] = (), limit: int = 300) -> str:
    out: list[str] = ["("]
    budget = [limit * 2]
    for i, a in enumerate(args[:_MAX_ITEMS]):
        if i:
            out.append(", ")
        _render(a, out, 1, budget)
    if len(args) > _MAX_ITEMS:
        out.append(", …")
    for i, (k, v) in enumerate(kwargs[:_MAX_ITEMS]):
        if i or args:
            out.append(", ")
        out.append(f"{k}=")
        _render(v, out, 1, budget)
    out.append(")")
    return clip("".join(out), limit)


def _seq(
    items: list[Value] | tuple[Value, ...], open_: str, close: str, out: list[str], depth: int, budget: list[int]
) -> None:
    out.append(open_)
    for i, item in enumerate(items[:_MAX_ITEMS]):
        if i:
            out.append(", ")
        _render(item, out, depth + 1, budget)
    if len(items) > _MAX_ITEMS:
        out.append(f", … {len(items)} items")
    out.append(close)


def _render(value: Value, out: list[str], depth: int, budget: list[int]) -> None:
    if budget[0] <= 0 or depth > _MAX_DEPTH:
        out.append("…")
        return
    before = len(out)
    # One dict lookup instead of a chain of isinstance checks: every argument of every call is rendered.
    render_as = _RENDERERS.get(type(value))
    if render_as is None:
        out.append("<?>")
    else:
        render_as(value, out, depth, budget)
    # Leaves and separators appended at this level; nested values were charged when they were rendered.
    budget[0] -= 1 + (len(out[before]) if len(out) > before else 0)


def _const(value: Const, out: list[str], depth: int, budget: list[int]) -> None:
    v = value.value
    if isinstance(v, (str, bytes)) and len(v) > 160:
        out.append(repr(v[:160]) + f"…({len(v)} {'chars' if isinstance(v, str) else 'bytes'})")
    else:
        out.append(repr(v))


def _large(value: LargeBytes, out: list[str], depth: int, budget: list[int]) -> None:
    out.append(f"<{value.length} {'chars' if value.text else 'bytes'} at offset {value.offset}>")


def _named(value: Global | ModuleRef, out: list[str], depth: int, budget: list[int]) -> None:
    out.append(name_of(value) or "?")


def _namespace(value: Namespace, out: list[str], depth: int, budget: list[int]) -> None:
    out.append("sys.modules" if not value.module else f"vars({value.module})")


def _attr(value: Attr, out: list[str], depth: int, budget: list[int]) -> None:
    _render(value.obj, out, depth + 1, budget)
    out.append(f".{value.name}")


def _tuple(value: Tuple, out: list[str], depth: int, budget: list[int]) -> None:
    _seq(value.items, "(", ")", out, depth, budget)


def _list(value: ListV, out: list[str], depth: int, budget: list[int]) -> None:
    _seq(value.items, "[", "]", out, depth, budget)


def _set(value: SetV, out: list[str], depth: int, budget: list[int]) -> None:
    _seq(value.items, "frozenset({" if value.frozen else "{", "})" if value.frozen else "}", out, depth, budget)


def _dict(value: DictV, out: list[str], depth: int, budget: list[int]) -> None:
    out.append("{")
    for i, (key, val) in enumerate(value.items[:_MAX_ITEMS]):
        if i:
            out.append(", ")
        _render(key, out, depth + 1, budget)
        out.append(": ")
        _render(val, out, depth + 1, budget)
    if len(value.items) > _MAX_ITEMS:
        out.append(f", … {len(value.items)} items")
    out.append("}")


def _obj(value: Obj, out: list[str], depth: int, budget: list[int]) -> None:
    out.append(value.target or "<unresolved>")
    out.append(render_args(value.args, value.kwargs, 120) if depth < _MAX_DEPTH else "(…)")


def _partial(value: Partial, out: list[str], depth: int, budget: list[int]) -> None:
    out.append(f"{value.kind}(")
    _render(value.func, out, depth + 1, budget)
    out.append(", …)" if value.args else ")")


def _getter(value: Getter, out: list[str], depth: int, budget: list[int]) -> None:
    out.append(f"operator.{value.kind}(")
    _seq(value.names, "", ")", out, depth, budget)


def _code(value: Code, out: list[str], depth: int, budget: list[int]) -> None:
    out.append(f"<{'function' if value.function else 'code'} built from {code_origin(value)}>")


def _downloaded(value: Downloaded, out: list[str], depth: int, budget: list[int]) -> None:
    out.append(f"<data downloaded from {value.url}>")


def _persistent(value: Persistent, out: list[str], depth: int, budget: list[int]) -> None:
    out.append("<persistent ")
    _render(value.pid, out, depth + 1, budget)
    out.append(">")


def _buffer(value: Buffer, out: list[str], depth: int, budget: list[int]) -> None:
    out.append(f"<out-of-band buffer {value.number}>")


def _unknown(value: Unknown, out: list[str], depth: int, budget: list[int]) -> None:
    out.append(f"<{value.reason}>")


def _iter(value: Iter, out: list[str], depth: int, budget: list[int]) -> None:
    out.append(f"{value.origin}(")
    if value.items is None:
        out.append("<computed>)")
    else:
        _seq(value.items, "[", "])", out, depth, budget)


_RENDERERS: dict[type, Callable[[Any, list[str], int, list[int]], None]] = {
    Const: _const,
    LargeBytes: _large,
    Global: _named,
    ModuleRef: _named,
    Namespace: _namespace,
    Attr: _attr,
    Tuple: _tuple,
    ListV: _list,
    SetV: _set,
    DictV: _dict,
    Obj: _obj,
    Partial: _partial,
    Getter: _getter,
    Code: _code,
    Downloaded: _downloaded,
    Persistent: _persistent,
    Buffer: _buffer,
    Unknown: _unknown,
    Iter: _iter,
}


def texts_in(value: Value, limit: int = 64) -> list[str]:
    """Known text constants inside a value (arguments), bounded."""
    found: list[str] = []
    _texts(value, found, 0, limit)
    return found


def _texts(value: Value, found: list[str], depth: int, limit: int) -> None:
    if len(found) >= limit or depth > _MAX_DEPTH:
        return
    if isinstance(value, Const) and isinstance(value.value, (str, bytes)):
        found.append(value.value if isinstance(value.value, str) else value.value.decode("latin-1"))
    elif isinstance(value, LargeBytes):
        found.append(value.prefix.decode("latin-1"))
    elif isinstance(value, (Tuple, ListV, SetV)) or (isinstance(value, Iter) and value.items is not None):
        for item in list(value.items or ())[:limit]:
            _texts(item, found, depth + 1, limit)
    elif isinstance(value, DictV):
        for k, v in value.items[:limit]:
            _texts(k, found, depth + 1, limit)
            _texts(v, found, depth + 1, limit)
    elif isinstance(value, Obj):
        for a in value.args[:limit]:
            _texts(a, found, depth + 1, limit)
    elif isinstance(value, Code) and value.source:
        found.append(value.source)
    elif isinstance(value, Downloaded):
        found.append(value.url)
    elif isinstance(value, Partial):
        for a in value.args[:limit]:
            _texts(a, found, depth + 1, limit)
