"""Symbolic values of the pickle machine.

Immutable things (constants, globals, tuples, attribute references) are frozen
dataclasses. Lists, dicts, sets and constructed objects are mutable on purpose:
the unpickler mutates them in place (APPENDS, SETITEMS, BUILD) after they may
already sit in the memo, and every alias must see the change. They compare by
identity, like the objects they stand for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

ConstValue = int | float | complex | str | bytes | bool | None


class Site(NamedTuple):
    """Where in the stream a value was made: byte offset and opcode number.

    A named tuple rather than a frozen dataclass: the machine makes one for most opcodes, and a
    tuple is made several times faster.
    """

    offset: int
    index: int  # type: ignore[assignment]  # shadows tuple.index on purpose: the opcode number
    detail: str | None = None


class Value:
    """Base of every symbolic value; ``size`` approximates the expanded node count."""

    __slots__ = ()

    @property
    def size(self) -> int:
        return 1


@dataclass(frozen=True)
class Const(Value):
    """A constant: int, float, str, bytes, bool, None."""

    value: ConstValue


@dataclass(frozen=True)
class LargeBytes(Value):
    """A byte or text payload too large to keep: where it is and how it starts."""

    offset: int
    length: int
    prefix: bytes
    text: bool = False


@dataclass(frozen=True)
class Global(Value):
    """An importable object ``module.qualname`` (canonical names, aliases resolved)."""

    module: str
    qualname: str
    #: The module as the stream wrote it when an alias was resolved (``posix`` for ``os``); for messages only.
    alias: str | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return f"{self.module}.{self.qualname}" if self.qualname else self.module

    @property
    def display(self) -> str:
        """The name as written in the stream (``posix.system``), or the canonical name."""
        if self.alias is None:
            return self.name
        return f"{self.alias}.{self.qualname}" if self.qualname else self.alias


@dataclass(frozen=True)
class ModuleRef(Value):
    """A module object (from __import__, import_module, sys.modules, ``glob.os``)."""

    module: str


@dataclass(frozen=True)
class Namespace(Value):
    """A module's ``__dict__`` or ``vars(module)``; ``sys.modules`` when ``module`` is empty."""

    module: str


@dataclass(frozen=True)
class Attr(Value):
    """An attribute of a value that is not itself importable (method of a built object, ...)."""

    obj: Value
    name: str


@dataclass(frozen=True)
class Unknown(Value):
    """A value the emulation cannot know (result of unknown code, unresolvable input)."""

    reason: str


@dataclass(frozen=True)
class Persistent(Value):
    """A persistent reference resolved by the loader (torch storages)."""

    pid: Value


@dataclass(frozen=True)
class Buffer(Value):
    """An out-of-band buffer (NEXT_BUFFER), optionally made read-only."""

    number: int
    readonly: bool = False


@dataclass(eq=False)
class Partial(Value):
    """``functools.partial(func, *args, **kwargs)`` (mutable: BUILD fills it in after the memo saw it)."""

    func: Value
    args: tuple[Value, ...]
    kwargs: tuple[tuple[str, Value], ...] = ()
    #: What made the forwarder (``functools.partial``, ``builtins.staticmethod``, ``functools.cache`` ...).
    kind: str = "functools.partial"


@dataclass(frozen=True)
class Getter(Value):
    """``operator.attrgetter`` / ``itemgetter`` / ``methodcaller`` objects."""

    kind: str
    names: tuple[Value, ...]
    args: tuple[Value, ...] = ()
    kwargs: tuple[tuple[str, Value], ...] = ()


@dataclass(frozen=True)
class Code(Value):
    """A code object or function built from source or marshalled bytecode."""

    source: str | None
    origin: str
    function: bool = False
    payload: Value | None = None


@dataclass(frozen=True)
class Downloaded(Value):
    """Data fetched from the network (``urlopen(url).read()``, ``requests.get(url).text``)."""

    url: str


@dataclass(frozen=True, eq=False)
class Tuple(Value):
    """A tuple; its expanded size is fixed when it is made."""

    items: tuple[Value, ...]
    weight: int = 1

    @property
    def size(self) -> int:
        return self.weight


@dataclass(eq=False)
class ListV(Value):
    """A list (mutable: APPEND/APPENDS/EXTEND act on it in place)."""

    items: list[Value] = field(default_factory=list)
    weight: int = 1

    @property
    def size(self) -> int:
        return self.weight


@dataclass(eq=False)
class DictV(Value):
    """A dict as ordered key/value pairs (mutable: SETITEM(S))."""

    items: list[tuple[Value, Value]] = field(default_factory=list)
    weight: int = 1

    @property
    def size(self) -> int:
        return self.weight

    def get(self, key: str) -> Value | None:
        for k, v in reversed(self.items):
            if isinstance(k, Const) and k.value == key:
                return v
        return None


@dataclass(eq=False)
class SetV(Value):
    """A set or frozenset."""

    items: list[Value] = field(default_factory=list)
    frozen: bool = False
    weight: int = 1

    @property
    def size(self) -> int:
        return self.weight


@dataclass(eq=False)
class Obj(Value):
    """An object made by calling something (REDUCE/NEWOBJ/OBJ/INST), with attributes set by BUILD.

    ``target`` is the canonical name of what was called (``None`` when unresolved),
    ``new`` is true for NEWOBJ (``cls.__new__`` only, no ``__init__``).
    """

    func: Value
    args: tuple[Value, ...]
    kwargs: tuple[tuple[str, Value], ...]
    target: str | None
    site: Site
    new: bool = False
    attrs: dict[str, Value] = field(default_factory=dict)
    state: list[Value] = field(default_factory=list)
    weight: int = 1
    #: Callbacks registered on the object to run later (``ExitStack.callback``, ``scheduler.enter``).
    pending: list[tuple[Value, tuple[Value, ...], tuple[tuple[str, Value], ...]]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return self.weight


@dataclass(eq=False)
class Iter(Value):
    """An iterator over known items (``iter(x)``); ``next`` takes them from the front. ``None``: items unknown."""

    items: list[Value] | None
    origin: str = "builtins.iter"


def code_origin(code: Code) -> str:
    """Where a code object ultimately came from (``marshal.loads``, ``builtins.compile`` ...)."""
    seen = 0
    while isinstance(code.payload, Code) and seen < 8:
        code = code.payload
        seen += 1
    return code.origin


def text_of(value: Value) -> str | None:
    """The value as text when it is a known str/bytes constant (bytes read as latin-1)."""
    if isinstance(value, Const):
        if isinstance(value.value, str):
            return value.value
        if isinstance(value.value, bytes):
            return value.value.decode("latin-1")
    return None


def bytes_of(value: Value) -> bytes | None:
    """The value as bytes when it is a known str/bytes constant (str encoded as latin-1 when possible)."""
    if isinstance(value, Const):
        if isinstance(value.value, bytes):
            return value.value
        if isinstance(value.value, str):
            try:
                return value.value.encode("latin-1")
            except UnicodeEncodeError:
                return value.value.encode("utf-8", "surrogatepass")
    return None


def int_of(value: Value) -> int | None:
    if isinstance(value, Const) and isinstance(value.value, int) and not isinstance(value.value, bool):
        return value.value
    return None


def sequence_of(value: Value) -> list[Value] | None:
    """Items of a tuple, list or known iterator value."""
    if isinstance(value, Tuple):
        return list(value.items)
    if isinstance(value, ListV):
        return list(value.items)
    if isinstance(value, Iter) and value.items is not None:
        return list(value.items)
    return None
