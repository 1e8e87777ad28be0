"""Decode and disassemble marshalled bytecode in a child process (stdlib only, never executes it).

``marshal.loads`` on hostile bytes can build code objects whose later use or
garbage collection crashes CPython, so the parent (``codeinspect``) runs this
file as ``python -I -S _codeworker.py`` and reads one JSON line per input.
A crash or limit in the child costs only that input. The child reads
length-prefixed blobs on stdin and writes one JSON object per blob.

The stack emulation pairs callables with their constant arguments, so
``__import__('os').system('touch x')`` becomes the call ``os.system('touch x')``.
"""

from __future__ import annotations

import builtins
import json
import sys
from dataclasses import dataclass

MAX_INSTRUCTIONS = 200_000
MAX_CODE_DEPTH = 16
_MAX_STACK = 1024
_MAX_ARG_TEXT = 200
_BUILTIN_NAMES = frozenset(dir(builtins))
_MEMORY_LIMIT = 1 << 30
_CPU_SECONDS = 20


class _Malformed(Exception):
    """The marshal stream is not a well-formed code object for this interpreter."""


_MARSHAL_MAX_DEPTH = 200
_MARSHAL_MAX_NODES = 1_000_000
_FIXED_SIZES = {
    ord("0"): 0,
    ord("N"): 0,
    ord("F"): 0,
    ord("T"): 0,
    ord("S"): 0,
    ord("."): 0,
    ord("i"): 4,
    ord("I"): 8,
    ord("g"): 8,
    ord("y"): 16,
    ord("r"): 4,
}
_SIZED_STRINGS = frozenset(ord(c) for c in "stuaA")
_SHORT_STRINGS = frozenset(ord(c) for c in "zZ")
_SIZED_CONTAINERS = frozenset(ord(c) for c in "([<>")


def marshal_sane(raw: bytes) -> bool:
    """Walk the marshal structure before ``marshal.loads`` sees it.

    CPython preallocates tuples, lists and sets at their declared size, so a
    12-byte stream declaring two billion items would ask for 16 GB. Every
    declared size is checked against the bytes that remain (each item needs at
    least one), and the code-object layout of this interpreter is enforced.
    """
    import sys

    layout_311 = sys.version_info >= (3, 11)
    nodes = 0

    def u32(pos: int) -> int:
        if pos + 4 > len(raw):
            raise _Malformed
        return int.from_bytes(raw[pos : pos + 4], "little", signed=True)

    def walk(pos: int, depth: int) -> int:
        nonlocal nodes
        nodes += 1
        if depth > _MARSHAL_MAX_DEPTH or nodes > _MARSHAL_MAX_NODES or pos >= len(raw):
            raise _Malformed
        code = raw[pos] & 0x7F
        pos += 1
        if code in _FIXED_SIZES:
            return pos + _FIXED_SIZES[code]
        if code in _SIZED_STRINGS:
            n = u32(pos)
            if n < 0 or pos + 4 + n > len(raw):
                raise _Malformed
            return pos + 4 + n
        if code in _SHORT_STRINGS:
            if pos >= len(raw):
                raise _Malformed
            return pos + 1 + raw[pos]
        if code == ord("f"):
            return pos + 1 + raw[pos] if pos < len(raw) else len(raw) + 1
        if code == ord("x"):
            for _ in range(2):
                if pos >= len(raw):
                    raise _Malformed
                pos += 1 + raw[pos]
            return pos
        if code == ord("l"):
            n = abs(u32(pos))
            if pos + 4 + 2 * n > len(raw):
                raise _Malformed
            return pos + 4 + 2 * n
        if code in _SIZED_CONTAINERS or code == ord(")"):
            if code == ord(")"):
                if pos >= len(raw):
                    raise _Malformed
                n, pos = raw[pos], pos + 1
            else:
                n, pos = u32(pos), pos + 4
            if n < 0 or n > len(raw) - pos:
                raise _Malformed
            for _ in range(n):
                pos = walk(pos, depth + 1)
            return pos
        if code == ord("{"):
            while True:
                if pos >= len(raw):
                    raise _Malformed
                if raw[pos] == ord("0"):
                    return pos + 1
                pos = walk(walk(pos, depth + 1), depth + 1)
        if code == ord("c"):
            ints_before = 5 if layout_311 else 6
            pos += 4 * ints_before
            objects = 8
            for _ in range(objects):
                pos = walk(pos, depth + 1)
            pos += 4  # firstlineno
            for _ in range(2 if layout_311 else 1):
                pos = walk(pos, depth + 1)
            return pos
        raise _Malformed

    try:
        return walk(0, 0) <= len(raw)
    except (_Malformed, RecursionError):
        return False


@dataclass(frozen=True)
class _Sym:
    """An importable object by dotted name (module, function, attribute)."""

    name: str


@dataclass(frozen=True)
class _Const:
    value: object


class _Other:
    """A value the emulation does not follow."""


_OTHER = _Other()
_Value = _Sym | _Const | _Other


class _Emulator:
    """Linear, per-code-object stack emulation; precise enough to pair callables with constant arguments."""

    def __init__(self) -> None:
        self.imports: dict[str, None] = {}
        self.names: dict[str, None] = {}
        self.strings: dict[str, None] = {}
        self.calls: list[tuple[str, str, str | None]] = []
        self.lines: list[str] = []
        self.count = 0
        self.truncated = False

    def run(self, code: object, depth: int = 0) -> None:
        import dis
        import types

        if not isinstance(code, types.CodeType) or depth > MAX_CODE_DEPTH:
            self.truncated = self.truncated or depth > MAX_CODE_DEPTH
            return
        for n in code.co_names:
            self.names.setdefault(n, None)
        nested = []
        for c in code.co_consts:
            if isinstance(c, str):
                self.strings.setdefault(c[:_MAX_ARG_TEXT], None)
            elif isinstance(c, types.CodeType):
                nested.append(c)
        stack: list[_Value] = []
        local: dict[str, _Value] = {}
        kw_count = 0
        self.lines.append(f"code {code.co_name}:")
        for ins in dis.get_instructions(code):
            self.count += 1
            if self.count > MAX_INSTRUCTIONS:
                self.truncated = True
                return
            if len(self.lines) < 400:
                self.lines.append(f"  {ins.offset:4d} {ins.opname} {ins.argrepr}".rstrip())
            op = ins.opname
            if op in ("RESUME", "NOP", "PRECALL", "PUSH_NULL", "CACHE", "EXTENDED_ARG", "COPY_FREE_VARS", "MAKE_CELL"):
                continue
            if op in ("LOAD_GLOBAL", "LOAD_NAME"):
                name = str(ins.argval)
                stack.append(_Sym(f"builtins.{name}" if name in _BUILTIN_NAMES else name))
            elif op == "LOAD_CONST":
                stack.append(_Const(ins.argval))
            elif op in ("LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_AND_CLEAR"):
                stack.append(local.get(str(ins.argval), _OTHER))
            elif op in ("STORE_FAST", "STORE_NAME", "STORE_GLOBAL", "STORE_DEREF"):
                local[str(ins.argval)] = stack.pop() if stack else _OTHER
            elif op in ("LOAD_ATTR", "LOAD_METHOD"):
                obj = stack.pop() if stack else _OTHER
                stack.append(_Sym(f"{obj.name}.{ins.argval}") if isinstance(obj, _Sym) else _OTHER)
            elif op == "IMPORT_NAME":
                fromlist = stack.pop() if stack else _OTHER
                if stack:
                    stack.pop()
                module = str(ins.argval)
                self.imports.setdefault(module, None)
                top = module if isinstance(fromlist, _Const) and fromlist.value else module.split(".")[0]
                stack.append(_Sym(top))
            elif op == "IMPORT_FROM":
                mod = stack[-1] if stack else _OTHER
                stack.append(_Sym(f"{mod.name}.{ins.argval}") if isinstance(mod, _Sym) else _OTHER)
            elif op == "KW_NAMES":
                # 3.11 dis does not resolve KW_NAMES; its argument indexes co_consts.
                names = code.co_consts[ins.arg] if ins.arg is not None and ins.arg < len(code.co_consts) else ()
                kw_count = len(names) if isinstance(names, tuple) else 0
            elif op in ("CALL", "CALL_FUNCTION", "CALL_METHOD", "CALL_FUNCTION_KW"):
                argc = ins.arg or 0
                if op == "CALL_FUNCTION_KW" and stack:
                    stack.pop()
                self._call(stack, argc, kw_count)
                kw_count = 0
            elif op in ("BUILD_LIST", "BUILD_TUPLE"):
                width = ins.arg or 0
                items = [stack.pop() if stack else _OTHER for _ in range(width)][::-1]
                if all(isinstance(i, _Const) for i in items):
                    stack.append(_Const([i.value for i in items if isinstance(i, _Const)]))
                else:
                    stack.append(_OTHER)
            elif op in ("POP_TOP",):
                if stack:
                    stack.pop()
            elif op in ("DUP_TOP", "COPY"):
                stack.append(stack[-1] if stack else _OTHER)
            else:
                self._generic(stack, ins)
            if len(stack) > _MAX_STACK:
                del stack[: len(stack) - _MAX_STACK]
        for c in nested:
            self.run(c, depth + 1)

    def _call(self, stack: list[_Value], argc: int, kw_count: int) -> None:
        args = [stack.pop() if stack else _OTHER for _ in range(argc)][::-1]
        func = stack.pop() if stack else _OTHER
        if not isinstance(func, _Sym):
            stack.append(_OTHER)
            return
        positional = args[: len(args) - kw_count] if kw_count else args
        text = ", ".join(_render(a) for a in args)[:_MAX_ARG_TEXT]
        first = positional[0] if positional else None
        first_text = _first_text(first)
        name = func.name
        if name in ("builtins.__import__", "importlib.import_module") and first_text:
            self.imports.setdefault(first_text, None)
            self.calls.append((name, text, first_text))
            stack.append(_Sym(first_text))
            return
        if name == "builtins.getattr" and len(args) >= 2 and isinstance(args[0], _Sym):
            attr = args[1]
            if isinstance(attr, _Const) and isinstance(attr.value, str):
                stack.append(_Sym(f"{args[0].name}.{attr.value}"))
                self.calls.append((name, text, None))
                return
        self.calls.append((name, text, first_text))
        stack.append(_OTHER)

    @staticmethod
    def _generic(stack: list[_Value], ins: object) -> None:
        import dis

        opcode = getattr(ins, "opcode", 0)
        arg = getattr(ins, "arg", None)
        try:
            effect = dis.stack_effect(opcode, arg if opcode >= dis.HAVE_ARGUMENT else None, jump=False)
        except (ValueError, TypeError):
            stack.clear()
            return
        if effect <= 0:
            # Most such ops consume operands and leave one result; a stale operand must not look like a result.
            for _ in range(min(len(stack), 1 - effect)):
                stack.pop()
            stack.append(_OTHER)
        else:
            stack.extend([_OTHER] * effect)


def _render(value: _Value) -> str:
    if isinstance(value, _Const):
        return repr(value.value)[:_MAX_ARG_TEXT]
    if isinstance(value, _Sym):
        return value.name
    return "?"


def _first_text(value: _Value | None) -> str | None:
    if isinstance(value, _Const):
        if isinstance(value.value, str):
            return value.value[:_MAX_ARG_TEXT]
        if isinstance(value.value, list) and all(isinstance(v, str) for v in value.value):
            return " ".join(value.value)[:_MAX_ARG_TEXT]
    return None


def disassemble(code: object) -> dict[str, object]:
    """Plain-data result of emulating one code object (JSON-serialisable)."""
    emu = _Emulator()
    emu.run(code)
    return {
        "ok": True,
        "imports": list(emu.imports),
        "names": list(emu.names),
        "strings": list(emu.strings)[:200],
        "calls": [list(c) for c in dict.fromkeys(emu.calls)],
        "disassembly": "\n".join(emu.lines),
        "truncated": emu.truncated,
    }


def _one(raw: bytes) -> dict[str, object]:
    import marshal
    import types

    if not raw or raw[0] not in (0x63, 0xE3) or not marshal_sane(raw):
        return {"ok": False, "error": "not a code object for this Python version"}
    try:
        code = marshal.loads(raw)
    except Exception as exc:  # bad marshal data of any kind
        return {"ok": False, "error": f"bad marshal data ({type(exc).__name__})"}
    if not isinstance(code, types.CodeType):
        return {"ok": False, "error": "not a code object"}
    try:
        return disassemble(code)
    except Exception as exc:  # malformed bytecode must degrade, not crash
        return {"ok": False, "error": f"disassembly failed ({type(exc).__name__})"}


def _limit_resources() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (_MEMORY_LIMIT, _MEMORY_LIMIT))
        resource.setrlimit(resource.RLIMIT_CPU, (_CPU_SECONDS, _CPU_SECONDS))
    except (ImportError, ValueError, OSError):
        pass


def main() -> None:
    _limit_resources()
    data = sys.stdin.buffer.read()
    pos = 0
    out = sys.stdout
    while pos + 4 <= len(data):
        n = int.from_bytes(data[pos : pos + 4], "little")
        blob = data[pos + 4 : pos + 4 + n]
        pos += 4 + n
        out.write(json.dumps(_one(blob)) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
