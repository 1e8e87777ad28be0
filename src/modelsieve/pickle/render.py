"""Short, bounded text for symbolic values (arguments in reports, evidence).

Every walk here is bounded in depth and length: values can be cyclic or be
expansion bombs, and must never make rendering slow.
"""

from __future__ import annotations

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
    if isinstance(value, Const):
        v = value.value
        text = repr(v if not isinstance(v, (str, bytes)) or len(v) <= 160 else v[:160])
        if isinstance(v, (str, bytes)) and len(v) > 160:
            text += f"…({len(v)} {'chars' if isinstance(v, str) else 'bytes'})"
        out.append(text)
    elif isinstance(value, LargeBytes):
        out.append(f"<{value.length} {'chars' if value.text else 'bytes'} at offset {value.offset}>")
    elif isinstance(value, (Global, ModuleRef)):
        out.append(name_of(value) or "?")
    elif isinstance(value, Namespace):
        out.append("sys.modules" if not value.module else f"vars({value.module})")
    elif isinstance(value, Attr):
        _render(value.obj, out, depth + 1, budget)
        out.append(f".{value.name}")
    elif isinstance(value, Tuple):
        _seq(value.items, "(", ")", out, depth, budget)
    elif isinstance(value, ListV):
        _seq(value.items, "[", "]", out, depth, budget)
    elif isinstance(value, SetV):
        _seq(value.items, "frozenset({" if value.frozen else "{", "})" if value.frozen else "}", out, depth, budget)
    elif isinstance(value, DictV):
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
    elif isinstance(value, Obj):
        out.append(value.target or "<unresolved>")
        out.append(render_args(value.args, value.kwargs, 120) if depth < _MAX_DEPTH else "(…)")
    elif isinstance(value, Partial):
        out.append(f"{value.kind}(")
        _render(value.func, out, depth + 1, budget)
        out.append(", …)" if value.args else ")")
    elif isinstance(value, Getter):
        out.append(f"operator.{value.kind}(")
        _seq(value.names, "", ")", out, depth, budget)
    elif isinstance(value, Code):
        out.append(f"<{'function' if value.function else 'code'} built from {code_origin(value)}>")
    elif isinstance(value, Downloaded):
        out.append(f"<data downloaded from {value.url}>")
    elif isinstance(value, Persistent):
        out.append("<persistent ")
        _render(value.pid, out, depth + 1, budget)
        out.append(">")
    elif isinstance(value, Buffer):
        out.append(f"<out-of-band buffer {value.number}>")
    elif isinstance(value, Unknown):
        out.append(f"<{value.reason}>")
    elif isinstance(value, Iter):
        out.append(f"{value.origin}(")
        if value.items is None:
            out.append("<computed>)")
        else:
            _seq(value.items, "[", "])", out, depth, budget)
    else:
        out.append("<?>")
    # Leaves and separators appended at this level; nested values were charged when they were rendered.
    budget[0] -= 1 + (len(out[before]) if len(out) > before else 0)


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
