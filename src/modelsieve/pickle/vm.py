"""The symbolic pickle machine: every opcode of protocols 0-5, as ``_pickle.c`` reads them.

Nothing is executed. Calls, imports, attribute setting and extension lookups are
handed to a ``Host`` (the resolver), which decides what value they produce. The
machine itself only knows the stream, the stack, the marks and the memo.
"""

from __future__ import annotations

import codecs
import struct
from collections.abc import Callable
from typing import Protocol

from modelsieve.limits import Limits
from modelsieve.pickle.reader import Reader, Truncated
from modelsieve.pickle.values import (
    Buffer,
    Const,
    DictV,
    LargeBytes,
    ListV,
    Obj,
    SetV,
    Site,
    Tuple,
    Unknown,
    Value,
    text_of,
)

#: Shared constants for the values real pickles push most (small ints from BININT1/BININT2, None, True,
#: False): making a frozen dataclass costs more than interpreting the opcode. Constants are immutable, so
#: sharing them is invisible, except that putting an equal shared constant into a memo slot again is not
#: reported as an overwrite (it changes nothing).
_SMALL_INTS = tuple(Const(i) for i in range(256))
_NONE, _TRUE, _FALSE = Const(None), Const(True), Const(False)
_INTS: dict[int, Const] = {}
_MAX_SHARED_INTS = 65536


def _int_const(value: int) -> Const:
    found = _INTS.get(value)
    if found is None:
        found = Const(value)
        if len(_INTS) < _MAX_SHARED_INTS:
            _INTS[value] = found
    return found


#: Payloads above this size are skipped and kept only as offset, length and prefix (read back
#: on demand when a decode/decompress needs them): tensor data must not accumulate in memory.
LARGE_PAYLOAD = 64 * 1024
#: How much of a skipped payload is kept to show and to search for indicators.
PREFIX_KEEP = 4096
_LINE_KEEP = 1024 * 1024
_HUGE_INT_BYTES = 4096


class ParseError(Exception):
    """The real unpickler would fail here (truncation, bad opcode, bad argument, underflow)."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


class LimitError(Exception):
    """An analysis bound was reached; ``kind`` names the bound (stable, used as the finding subject)."""

    def __init__(self, offset: int, what: str, kind: str = "limit") -> None:
        super().__init__(what)
        self.offset = offset
        self.what = what
        self.kind = kind


class Host(Protocol):
    """What the machine asks of the resolver."""

    def find_class(self, module: str, name: str, site: Site, proto: int | None = None) -> Value: ...

    def call(
        self, func: Value, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, how: str
    ) -> Value: ...

    def build(self, obj: Value, state: Value, site: Site) -> None: ...

    def extension(self, code: int, site: Site, proto: int | None = None) -> Value: ...

    def persistent(self, pid: Value, site: Site) -> Value: ...

    def mutate(self, obj: Value, method: str, args: tuple[Value, ...], site: Site) -> None: ...

    def string(self, value: Const | LargeBytes, site: Site) -> None: ...

    def anomaly(self, rule_id: str, site: Site, message: str, subject: str, evidence: str = "") -> None: ...

    def after_build(self, obj: Value, machine: Machine, site: Site) -> Value | None: ...


#: The value types whose ``size`` is their ``weight``; every other value counts 1.
_WEIGHTED = frozenset({Tuple, ListV, DictV, SetV, Obj})


def _weight(items: list[Value] | tuple[Value, ...]) -> int:
    # Same as 1 + sum(v.size ...), without a property call per item: this runs for every container opcode.
    total = 1
    for v in items:
        total += v.weight if type(v) in _WEIGHTED else 1  # type: ignore[attr-defined]
    return total


class Machine:
    """One pickle, from its first opcode to STOP. ``run`` returns the unpickled value."""

    def __init__(self, reader: Reader, host: Host, limits: Limits, *, opcode_base: int = 0) -> None:
        self.reader = reader
        self.host = host
        self.limits = limits
        self.stack: list[Value] = []
        self.metastack: list[list[Value]] = []
        self.memo: dict[int, Value] = {}
        self.proto = 0
        self.index = opcode_base
        self.op_offset = reader.tell()
        self.frame_end: int | None = None
        self.frame_divergence = False
        #: End of the current opcode when a hook read more data after it (joblib arrays sit outside frames).
        self.op_end: int | None = None
        self.check_time: Callable[[], None] = lambda: None

    # ----------------------------------------------------------------- helpers
    @property
    def site(self) -> Site:
        # tuple.__new__ directly: the named tuple's own __new__ (a Python function) costs twice as much.
        return _new_site(Site, (self.op_offset, self.index, None))

    def fail(self, message: str) -> ParseError:
        return ParseError(self.op_offset, message)

    def pop(self) -> Value:
        if not self.stack:
            raise self.fail("unpickling stack underflow")
        return self.stack.pop()

    def top(self) -> Value:
        if not self.stack:
            raise self.fail("unpickling stack underflow")
        return self.stack[-1]

    def push(self, value: Value) -> None:
        self.stack.append(value)

    def pop_mark(self) -> list[Value]:
        if not self.metastack:
            raise self.fail("could not find MARK")
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def _check_weight(self, weight: int) -> int:
        if weight > self.limits.max_value_nodes:
            raise LimitError(
                self.op_offset,
                f"value expansion exceeds {self.limits.max_value_nodes} nodes (DUP/GET bomb)",
                "value-nodes",
            )
        return weight

    def _line(self) -> bytes:
        line, total = self.reader.readline(_LINE_KEEP)
        if total > len(line):
            raise self.fail(f"text argument of {total} bytes is too long to analyse")
        return line

    def _payload(self, n: int, *, text: bool) -> Const | LargeBytes:
        if n < 0:
            raise self.fail("negative byte count")
        reader = self.reader
        # Reader.read() inlined for the usual case, a short payload already in the buffer.
        i = reader._i
        if n <= LARGE_PAYLOAD and i + n <= len(reader._buf):
            reader._i = i + n
            data = reader._buf[i : i + n]
        elif n > LARGE_PAYLOAD:
            offset = reader.tell()
            prefix = reader.peek(PREFIX_KEEP)
            reader.skip(n)
            return LargeBytes(offset, n, prefix, text)
        else:
            data = reader.read(n)
        if text:
            return Const(data.decode("utf-8", "surrogatepass"))
        return Const(data)

    def _uint(self, n: int) -> int:
        return self.reader.uint(n)

    def _const(self, value: Const | LargeBytes) -> None:
        if isinstance(value, LargeBytes) or (isinstance(value.value, (str, bytes)) and len(value.value) >= 6):
            self.host.string(value, self.site)
        self.stack.append(value)

    # --------------------------------------------------------------------- run
    def run(self) -> Value:
        """Interpret opcodes until STOP; raises ParseError / LimitError / Truncated-as-ParseError."""
        reader = self.reader
        limits = self.limits
        max_depth = limits.max_stack_depth
        max_memo = limits.max_memo_entries
        memo = self.memo
        ops = _OPS
        while True:
            # Reader.tell() and read1() inlined: they are the two calls every opcode makes.
            i = reader._i
            buf = reader._buf
            offset = reader._base + i
            self.op_offset = offset
            frame_end = self.frame_end
            if frame_end is not None and offset >= frame_end:
                self.frame_end = frame_end = None
            if i < len(buf):
                reader._i = i + 1
                code = buf[i]
            else:
                code = reader.read1()
            # BINPUT, LONG_BINPUT, BINGET and BININT1 make up over half the opcodes of real pickles: done here
            # without a call when their argument is in the buffer and nothing unusual happens; anything else
            # (a memo overwrite, an unset slot, a limit, an argument across a buffer refill) goes to the
            # general handler, which reports it.
            j = reader._i
            buf = reader._buf
            stack = self.stack
            if code == 0x71 and j < len(buf) and stack and buf[j] not in memo and len(memo) < max_memo:
                memo[buf[j]] = stack[-1]
                reader._i = j + 1
            elif code == 0x68 and j < len(buf) and buf[j] in memo:
                stack.append(memo[buf[j]])
                reader._i = j + 1
            elif code == 0x4B and j < len(buf):
                stack.append(_SMALL_INTS[buf[j]])
                reader._i = j + 1
            elif (
                code == 0x72
                and j + 4 <= len(buf)
                and stack
                and (slot := int.from_bytes(buf[j : j + 4], "little")) not in memo
                and len(memo) < max_memo
            ):
                memo[slot] = stack[-1]
                reader._i = j + 4
            else:
                handler = ops[code] if code >= 0 else None
                if handler is None:
                    if code < 0:
                        raise self.fail("pickle data was truncated (no STOP opcode)")
                    raise self.fail(f"invalid load key {bytes([code])!r}")
                try:
                    if handler(self):
                        return self.pop()
                except Truncated:
                    raise self.fail("pickle data was truncated") from None
                except (ValueError, OverflowError, UnicodeDecodeError, struct.error) as exc:
                    raise self.fail(f"bad argument to opcode {bytes([code])!r}: {exc}") from None
            frame_end = self.frame_end
            if frame_end is not None or self.op_end is not None:
                op_end = self.op_end if self.op_end is not None else reader.tell()
                self.op_end = None
                if frame_end is not None and op_end > frame_end and not self.frame_divergence:
                    self._diverged(f"opcode at offset {self.op_offset} crosses the end of its FRAME")
            index = self.index = self.index + 1
            # The metastack only grows at MARK, which checks it; the stack can grow at any opcode.
            if len(self.stack) > max_depth:
                raise LimitError(self.op_offset, f"stack deeper than {max_depth}", "stack-depth")
            if not index & 4095:
                if index > limits.max_opcodes:
                    raise LimitError(self.op_offset, f"more than {limits.max_opcodes} opcodes", "opcodes")
                self.check_time()

    def _diverged(self, message: str) -> None:
        self.frame_divergence = True
        self.host.anomaly("PKL009", self.site, message, "frame")

    # ----------------------------------------------------------------- opcodes
    def op_mark(self) -> None:
        self.metastack.append(self.stack)
        self.stack = []
        if len(self.metastack) > self.limits.max_stack_depth:
            raise LimitError(self.op_offset, f"stack deeper than {self.limits.max_stack_depth}", "stack-depth")

    def op_stop(self) -> bool:
        return True

    def op_pop(self) -> None:
        if self.stack:
            self.stack.pop()
        else:
            self.pop_mark()

    def op_pop_mark(self) -> None:
        self.pop_mark()

    def op_dup(self) -> None:
        self.push(self.top())

    def op_float(self) -> None:
        self.push(Const(float(self._line())))

    def op_int(self) -> None:
        line = self._line()
        if line == b"00":
            self.push(Const(False))
        elif line == b"01":
            self.push(Const(True))
        else:
            self.push(Const(_c_int(line)))

    def op_binint(self) -> None:
        self.push(Const(int.from_bytes(self.reader.read(4), "little", signed=True)))

    def op_binint1(self) -> None:
        self.push(_SMALL_INTS[self.reader.byte()])

    def op_binint2(self) -> None:
        self.push(_int_const(self._uint(2)))

    def op_long(self) -> None:
        line = self._line()
        if line.endswith(b"L"):
            line = line[:-1]
        if len(line) > _HUGE_INT_BYTES:
            self.push(Unknown("huge integer"))
            return
        self.push(Const(int(line, 0)))

    def _long_n(self, n: int) -> None:
        if n < 0:
            raise self.fail("LONG pickle has negative byte count")
        if n > _HUGE_INT_BYTES:
            self.reader.skip(n)
            self.push(Unknown("huge integer"))
            return
        self.push(Const(int.from_bytes(self.reader.read(n), "little", signed=True)))

    def op_long1(self) -> None:
        self._long_n(self.reader.byte())

    def op_long4(self) -> None:
        self._long_n(int.from_bytes(self.reader.read(4), "little", signed=True))

    def op_binfloat(self) -> None:
        self.push(Const(struct.unpack(">d", self.reader.read(8))[0]))

    def op_none(self) -> None:
        self.stack.append(_NONE)

    def op_newtrue(self) -> None:
        self.stack.append(_TRUE)

    def op_newfalse(self) -> None:
        self.stack.append(_FALSE)

    def _text_line(self) -> bytes | LargeBytes:
        """A protocol-0 string argument; huge ones (numpy arrays in protocol 0) stay symbolic."""
        offset = self.reader.tell()
        line, total = self.reader.readline(_LINE_KEEP)
        if total > len(line):
            return LargeBytes(offset, total, line[:PREFIX_KEEP], text=True)
        return line

    def op_string(self) -> None:
        line = self._text_line()
        if isinstance(line, LargeBytes):
            self._const(line)
            return
        if len(line) >= 2 and line[0] == line[-1] and line[:1] in (b"'", b'"'):
            data = codecs.escape_decode(line[1:-1])[0]
        else:
            raise self.fail("the STRING opcode argument must be quoted")
        self._const(Const(data.decode("latin-1")))

    def op_binstring(self) -> None:
        n = int.from_bytes(self.reader.read(4), "little", signed=True)
        if n < 0:
            raise self.fail("BINSTRING pickle has negative byte count")
        self._const(_latin1(self._payload(n, text=False)))

    def op_short_binstring(self) -> None:
        self._const(_latin1(self._payload(self.reader.byte(), text=False)))

    def op_unicode(self) -> None:
        line = self._text_line()
        if isinstance(line, LargeBytes):
            self._const(line)
            return
        self._const(Const(line.decode("raw-unicode-escape")))

    def op_binunicode(self) -> None:
        self._const(self._payload(self._uint(4), text=True))

    def op_short_binunicode(self) -> None:
        self._const(self._payload(self.reader.byte(), text=True))

    def op_binunicode8(self) -> None:
        self._const(self._payload(self._uint(8), text=True))

    def op_binbytes(self) -> None:
        self._const(self._payload(self._uint(4), text=False))

    def op_short_binbytes(self) -> None:
        self._const(self._payload(self.reader.byte(), text=False))

    def op_binbytes8(self) -> None:
        self._const(self._payload(self._uint(8), text=False))

    def op_bytearray8(self) -> None:
        self._const(self._payload(self._uint(8), text=False))

    def op_next_buffer(self) -> None:
        self.push(Buffer(self.index))

    def op_readonly_buffer(self) -> None:
        top = self.top()
        if isinstance(top, Buffer):
            self.stack[-1] = Buffer(top.number, readonly=True)

    # containers
    def op_empty_tuple(self) -> None:
        self.stack.append(Tuple(()))

    def _tuple(self, items: list[Value]) -> Tuple:
        return Tuple(tuple(items), self._check_weight(_weight(items)))

    def op_tuple(self) -> None:
        self.push(self._tuple(self.pop_mark()))

    def op_tuple1(self) -> None:
        a = self.pop()
        self.stack.append(self._tuple([a]))

    def op_tuple2(self) -> None:
        b = self.pop()
        a = self.pop()
        self.stack.append(self._tuple([a, b]))

    def op_tuple3(self) -> None:
        c = self.pop()
        b = self.pop()
        a = self.pop()
        self.stack.append(self._tuple([a, b, c]))

    def op_empty_list(self) -> None:
        self.stack.append(ListV())

    def op_list(self) -> None:
        items = self.pop_mark()
        self.push(ListV(items, self._check_weight(_weight(items))))

    def _append(self, target: Value, items: list[Value], method: str) -> None:
        if isinstance(target, ListV):
            target.items.extend(items)
            target.weight = self._check_weight(target.weight + sum(v.size for v in items))
        else:
            self.host.mutate(target, method, tuple(items), self.site)
            if isinstance(target, Obj):
                target.weight = self._check_weight(target.weight + sum(v.size for v in items))

    def op_append(self) -> None:
        value = self.pop()
        self._append(self.top(), [value], "append")

    def op_appends(self) -> None:
        items = self.pop_mark()
        self._append(self.top(), items, "extend")

    def op_empty_dict(self) -> None:
        self.stack.append(DictV())

    def _pairs(self, items: list[Value]) -> list[tuple[Value, Value]]:
        if len(items) % 2:
            raise self.fail("odd number of items for DICT/SETITEMS")
        return list(zip(items[::2], items[1::2], strict=True))

    def op_dict(self) -> None:
        items = self.pop_mark()
        self.push(DictV(self._pairs(items), self._check_weight(_weight(items))))

    def _setitems(self, target: Value, pairs: list[tuple[Value, Value]]) -> None:
        added = sum(k.size + v.size for k, v in pairs)
        if isinstance(target, DictV):
            target.items.extend(pairs)
            target.weight = self._check_weight(target.weight + added)
            return
        for k, v in pairs:
            self.host.mutate(target, "__setitem__", (k, v), self.site)
        if isinstance(target, Obj):
            target.weight = self._check_weight(target.weight + added)

    def op_setitem(self) -> None:
        value = self.pop()
        key = self.pop()
        self._setitems(self.top(), [(key, value)])

    def op_setitems(self) -> None:
        items = self.pop_mark()
        self._setitems(self.top(), self._pairs(items))

    def op_empty_set(self) -> None:
        self.push(SetV())

    def op_additems(self) -> None:
        items = self.pop_mark()
        target = self.top()
        if isinstance(target, SetV):
            target.items.extend(items)
            target.weight = self._check_weight(target.weight + sum(v.size for v in items))
        else:
            self.host.mutate(target, "add", tuple(items), self.site)

    def op_frozenset(self) -> None:
        items = self.pop_mark()
        self.push(SetV(items, frozen=True, weight=self._check_weight(_weight(items))))

    # memo
    def _get(self, idx: int) -> None:
        value = self.memo.get(idx)
        if value is None:
            self.host.anomaly("PKL010", self.site, f"GET of memo slot {idx} that was never set", "memo-get-unset")
            raise self.fail(f"memo value not found at index {idx}")
        self.stack.append(value)

    def _put(self, idx: int) -> None:
        if idx < 0:
            raise self.fail("negative PUT argument")
        if not self.stack:
            raise self.fail("unpickling stack underflow")
        value = self.stack[-1]
        old = self.memo.get(idx)
        if old is not None and old is not value:
            self.host.anomaly(
                "PKL010", self.site, f"memo slot {idx} overwritten with a different value", "memo-overwrite"
            )
        self.memo[idx] = value
        if len(self.memo) > self.limits.max_memo_entries:
            raise LimitError(self.op_offset, f"more than {self.limits.max_memo_entries} memo entries", "memo-entries")

    def op_get(self) -> None:
        self._get(int(self._line(), 10))

    def op_binget(self) -> None:
        self._get(self.reader.byte())

    def op_long_binget(self) -> None:
        self._get(self._uint(4))

    def op_put(self) -> None:
        self._put(int(self._line(), 10))

    def op_binput(self) -> None:
        self._put(self.reader.byte())

    def op_long_binput(self) -> None:
        self._put(self._uint(4))

    def op_memoize(self) -> None:
        self._put(len(self.memo))

    # framing and protocol
    def op_proto(self) -> None:
        proto = self.reader.byte()
        if proto > 5:
            raise self.fail(f"unsupported pickle protocol: {proto}")
        self.proto = proto

    def op_frame(self) -> None:
        length = self._uint(8)
        start = self.reader.tell()
        if self.frame_end is not None and start - 9 < self.frame_end and not self.frame_divergence:
            self._diverged(f"FRAME at offset {self.op_offset} starts inside the previous frame")
        if length > self.reader.remaining():
            raise self.fail(f"pickle data was truncated: FRAME of {length} bytes runs past the end of the data")
        self.frame_end = start + length

    # globals and calls
    def _name_line(self) -> str:
        return self._line().decode("utf-8")

    def op_global(self) -> None:
        module = self._name_line()
        name = self._name_line()
        self.push(self.host.find_class(module, name, self.site, self.proto))

    def op_stack_global(self) -> None:
        name = self.pop()
        module = self.pop()
        names = []
        for part, what in ((module, "module"), (name, "name")):
            text = text_of(part)
            if text is None:
                self.host.anomaly(
                    "PKL005", self.site, f"STACK_GLOBAL {what} is computed at load time", "stack-global-computed"
                )
                self.push(Unknown("computed global"))
                return
            if not (isinstance(part, Const) and isinstance(part.value, str)):
                self.host.anomaly(
                    "PKL010", self.site, f"STACK_GLOBAL {what} operand is not a str ({text!r})", "stack-global-type"
                )
            names.append(text)
        self.push(self.host.find_class(names[0], names[1], self.site, self.proto))

    def op_inst(self) -> None:
        if not self.metastack:
            raise self.fail("could not find MARK")
        module = self._name_line()
        name = self._name_line()
        cls = self.host.find_class(module, name, self.site, self.proto)
        args = self.pop_mark()
        self.push(self.host.call(cls, tuple(args), (), self.site, "inst"))

    def op_obj(self) -> None:
        items = self.pop_mark()
        if not items:
            raise self.fail("unpickling stack underflow")
        self.push(self.host.call(items[0], tuple(items[1:]), (), self.site, "obj"))

    def op_reduce(self) -> None:
        args = self.pop()
        func = self.pop()
        result = self.host.call(func, _args_of(args), (), self.site, "reduce")
        self.stack.append(result)

    def op_newobj(self) -> None:
        args = self.pop()
        cls = self.pop()
        self.push(self.host.call(cls, _args_of(args), (), self.site, "newobj"))

    def op_newobj_ex(self) -> None:
        kwargs = self.pop()
        args = self.pop()
        cls = self.pop()
        kw: tuple[tuple[str, Value], ...] = ()
        if isinstance(kwargs, DictV):
            kw = tuple((text_of(k) or "?", v) for k, v in kwargs.items)
        self.push(self.host.call(cls, _args_of(args), kw, self.site, "newobj"))

    def op_build(self) -> None:
        state = self.pop()
        obj = self.top()
        self.host.build(obj, state, self.site)
        self.op_end = self.reader.tell()
        replaced = self.host.after_build(obj, self, self.site)
        if replaced is not None:
            self.stack[-1] = replaced

    def _ext(self, code: int) -> None:
        if code <= 0:
            raise self.fail("EXT specifies code <= 0")
        self.push(self.host.extension(code, self.site, self.proto))

    def op_ext1(self) -> None:
        self._ext(self.reader.byte())

    def op_ext2(self) -> None:
        self._ext(self._uint(2))

    def op_ext4(self) -> None:
        self._ext(int.from_bytes(self.reader.read(4), "little", signed=True))

    def op_persid(self) -> None:
        pid = Const(self._line().decode("ascii"))
        self.push(self.host.persistent(pid, self.site))

    def op_binpersid(self) -> None:
        self.push(self.host.persistent(self.pop(), self.site))


def _latin1(value: Const | LargeBytes) -> Const | LargeBytes:
    """Protocol-0/1 strings become str (the unpickler decodes them; latin-1 never fails)."""
    if isinstance(value, Const) and isinstance(value.value, bytes):
        return Const(value.value.decode("latin-1"))
    if isinstance(value, LargeBytes):
        return LargeBytes(value.offset, value.length, value.prefix, text=True)
    return value


def _args_of(value: Value) -> tuple[Value, ...]:
    if isinstance(value, Tuple):
        return value.items
    if isinstance(value, ListV):
        return tuple(value.items)
    return (Unknown("arguments computed at load time"),)


def _c_int(line: bytes) -> int:
    """INT as ``_pickle.c`` reads it: ``strtol(s, &end, 0)``, so ``010`` is octal 8 and ``0x10`` is 16."""
    text = line.decode("ascii").strip()
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body[:2].lower() == "0x":
        return sign * int(body[2:], 16)
    if len(body) > 1 and body.startswith("0") and body.isdigit():
        return sign * int(body, 8)
    return int(text, 0)


_new_site = tuple.__new__

_OP_TABLE: dict[int, Callable[[Machine], bool | None]] = {
    ord(k): v
    for k, v in {
        "(": Machine.op_mark,
        ".": Machine.op_stop,
        "0": Machine.op_pop,
        "1": Machine.op_pop_mark,
        "2": Machine.op_dup,
        "F": Machine.op_float,
        "I": Machine.op_int,
        "J": Machine.op_binint,
        "K": Machine.op_binint1,
        "M": Machine.op_binint2,
        "L": Machine.op_long,
        "N": Machine.op_none,
        "P": Machine.op_persid,
        "Q": Machine.op_binpersid,
        "R": Machine.op_reduce,
        "S": Machine.op_string,
        "T": Machine.op_binstring,
        "U": Machine.op_short_binstring,
        "V": Machine.op_unicode,
        "X": Machine.op_binunicode,
        "a": Machine.op_append,
        "b": Machine.op_build,
        "c": Machine.op_global,
        "d": Machine.op_dict,
        "}": Machine.op_empty_dict,
        "e": Machine.op_appends,
        "g": Machine.op_get,
        "h": Machine.op_binget,
        "i": Machine.op_inst,
        "j": Machine.op_long_binget,
        "l": Machine.op_list,
        "]": Machine.op_empty_list,
        "o": Machine.op_obj,
        "p": Machine.op_put,
        "q": Machine.op_binput,
        "r": Machine.op_long_binput,
        "s": Machine.op_setitem,
        "t": Machine.op_tuple,
        ")": Machine.op_empty_tuple,
        "u": Machine.op_setitems,
        "G": Machine.op_binfloat,
        "\x80": Machine.op_proto,
        "\x81": Machine.op_newobj,
        "\x82": Machine.op_ext1,
        "\x83": Machine.op_ext2,
        "\x84": Machine.op_ext4,
        "\x85": Machine.op_tuple1,
        "\x86": Machine.op_tuple2,
        "\x87": Machine.op_tuple3,
        "\x88": Machine.op_newtrue,
        "\x89": Machine.op_newfalse,
        "\x8a": Machine.op_long1,
        "\x8b": Machine.op_long4,
        "B": Machine.op_binbytes,
        "C": Machine.op_short_binbytes,
        "\x8c": Machine.op_short_binunicode,
        "\x8d": Machine.op_binunicode8,
        "\x8e": Machine.op_binbytes8,
        "\x8f": Machine.op_empty_set,
        "\x90": Machine.op_additems,
        "\x91": Machine.op_frozenset,
        "\x92": Machine.op_newobj_ex,
        "\x93": Machine.op_stack_global,
        "\x94": Machine.op_memoize,
        "\x95": Machine.op_frame,
        "\x96": Machine.op_bytearray8,
        "\x97": Machine.op_next_buffer,
        "\x98": Machine.op_readonly_buffer,
    }.items()
}

#: Handler by opcode byte (None: the real unpickler refuses the byte); a list indexes faster than a dict.
_OPS: list[Callable[[Machine], bool | None] | None] = [_OP_TABLE.get(code) for code in range(256)]

#: Opcodes a pickle may start with (used to sniff protocol 0/1 streams).
OPCODES = frozenset(_OP_TABLE)
