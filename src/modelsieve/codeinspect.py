"""Read marshalled Python bytecode without running it.

Keras Lambda layers store ``marshal.dumps(func.__code__)``. ``marshal.loads``
only builds a code object; it is called here on size-bounded input, and the
result is handed to ``dis`` and never executed (no ``exec``, no ``eval``, no
``types.FunctionType``). When the bytes are not a code object for this
interpreter (another Python version), names are recovered by scanning the raw
bytes instead, and the result says so.

A small linear stack emulation over ``dis.get_instructions`` pairs callables
with their constant arguments, so ``__import__('os').system('touch x')``
becomes the call ``os.system('touch x')``.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass, field

from modelsieve.model import Behaviour, BehaviourKind

MAX_CODE_BYTES = 1024 * 1024
MAX_INSTRUCTIONS = 200_000
MAX_CODE_DEPTH = 16
_MAX_STACK = 1024
_MAX_ARG_TEXT = 200

_BUILTIN_NAMES = frozenset(dir(builtins))

# Modules whose import inside model code is itself a red flag.
DANGEROUS_MODULES = frozenset(
    {
        "os",
        "posix",
        "nt",
        "subprocess",
        "pty",
        "shutil",
        "socket",
        "ctypes",
        "runpy",
        "webbrowser",
        "code",
        "codeop",
        "pickle",
        "marshal",
        "importlib",
        "urllib",
        "urllib.request",
        "requests",
        "http.client",
        "ftplib",
        "smtplib",
        "telnetlib",
        "pdb",
        "bdb",
        "timeit",
        "cProfile",
        "profile",
        "pip",
        "commands",
        "multiprocessing",
        "asyncio",
        "signal",
        "sys",
    }
)

_COMMAND_CALLS = frozenset(
    {
        "os.system",
        "os.popen",
        "posix.system",
        "nt.system",
        "posix.popen",
        "os.execl",
        "os.execle",
        "os.execlp",
        "os.execlpe",
        "os.execv",
        "os.execve",
        "os.execvp",
        "os.execvpe",
        "os.spawnl",
        "os.spawnle",
        "os.spawnlp",
        "os.spawnlpe",
        "os.spawnv",
        "os.spawnve",
        "os.spawnvp",
        "os.spawnvpe",
        "os.posix_spawn",
        "os.posix_spawnp",
        "subprocess.run",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
        "subprocess.Popen",
        "subprocess.getoutput",
        "subprocess.getstatusoutput",
        "pty.spawn",
        "commands.getoutput",
        "asyncio.create_subprocess_shell",
        "asyncio.create_subprocess_exec",
    }
)
_CODE_CALLS = frozenset(
    {
        "builtins.eval",
        "builtins.exec",
        "builtins.compile",
        "runpy.run_path",
        "runpy.run_module",
        "runpy._run_code",
        "code.InteractiveInterpreter.runcode",
        "timeit.timeit",
        "cProfile.run",
        "pickle.loads",
        "pickle.load",
        "marshal.loads",
        "builtins.breakpoint",
        "pdb.set_trace",
        "pdb.run",
    }
)
_DELETE_CALLS = frozenset({"os.remove", "os.unlink", "os.rmdir", "os.removedirs", "shutil.rmtree"})
_NETWORK_CALLS = frozenset(
    {
        "socket.socket",
        "socket.create_connection",
        "urllib.request.urlopen",
        "urllib.request.urlretrieve",
        "requests.get",
        "requests.post",
        "requests.put",
        "requests.request",
        "http.client.HTTPConnection",
        "http.client.HTTPSConnection",
        "ftplib.FTP",
        "smtplib.SMTP",
    }
)
_NATIVE_CALLS = frozenset({"ctypes.CDLL", "ctypes.cdll.LoadLibrary", "ctypes.PyDLL", "ctypes.WinDLL"})
_FILE_WRITE_CALLS = frozenset({"shutil.copy", "shutil.copyfile", "shutil.move", "os.rename", "os.replace", "os.chmod"})

# Attribute names that, found in names of bytecode we cannot disassemble, suggest one of the calls above.
_DANGEROUS_NAMES = frozenset(
    {
        "system",
        "popen",
        "Popen",
        "check_output",
        "check_call",
        "getoutput",
        "getstatusoutput",
        "execv",
        "execve",
        "execvp",
        "spawnv",
        "spawnve",
        "posix_spawn",
        "eval",
        "exec",
        "__import__",
        "import_module",
        "urlopen",
        "urlretrieve",
        "rmtree",
        "CDLL",
        "LoadLibrary",
        "run_path",
        "run_module",
        "create_connection",
    }
)


@dataclass(frozen=True)
class CodeCall:
    """A call the code would make: dotted callable and a short text of its constant arguments."""

    callable: str
    arguments: str
    first_arg: str | None = None


@dataclass(frozen=True)
class DangerousCall:
    """A call that has an effect outside tensor maths, with its plain-words behaviour."""

    call: CodeCall
    behaviour: Behaviour


@dataclass(frozen=True)
class CodeInspection:
    """What static reading of one marshalled code object found.

    ``decoded`` is true when the bytes were a code object for this interpreter
    and were disassembled; otherwise ``names`` and ``strings`` come from a raw
    byte scan and ``note`` says why.
    """

    decoded: bool
    note: str = ""
    imports: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    strings: tuple[str, ...] = ()
    calls: tuple[CodeCall, ...] = ()
    disassembly: str = ""
    truncated: bool = False
    dangerous: tuple[DangerousCall, ...] = field(default=())

    @property
    def dangerous_references(self) -> tuple[str, ...]:
        """Dangerous modules imported or dangerous names present, whether or not a call was reconstructed."""
        refs: dict[str, None] = {}
        for mod in self.imports:
            if mod in DANGEROUS_MODULES or mod.split(".")[0] in DANGEROUS_MODULES:
                refs.setdefault(mod, None)
        for name in self.names:
            if name in _DANGEROUS_NAMES:
                refs.setdefault(name, None)
        return tuple(refs)


def classify(call: CodeCall) -> Behaviour | None:
    """The plain-words effect of a call, or None when it is not dangerous."""
    name = call.callable
    arg = f" `{call.first_arg}`" if call.first_arg else ""
    if name in _COMMAND_CALLS:
        return Behaviour(BehaviourKind.RUNS_COMMAND, f"runs shell command{arg}")
    if name in _CODE_CALLS:
        return Behaviour(BehaviourKind.EXECUTES_CODE, f"executes Python code via {name}{arg}")
    if name in _DELETE_CALLS:
        return Behaviour(BehaviourKind.DELETES_FILE, f"deletes{arg or ' files'}")
    if name in _NETWORK_CALLS:
        return Behaviour(BehaviourKind.NETWORK, f"opens a network connection via {name}{arg}")
    if name in _NATIVE_CALLS:
        return Behaviour(BehaviourKind.LOADS_NATIVE, f"loads native library{arg}")
    if name in _FILE_WRITE_CALLS:
        return Behaviour(BehaviourKind.WRITES_FILE, f"changes files via {name}{arg}")
    if name in ("builtins.open", "io.open", "os.open"):
        mode = call.arguments
        writes = any(m in mode for m in ("'w", "'a", "'x", "+"))
        kind = BehaviourKind.WRITES_FILE if writes else BehaviourKind.READS_FILE
        return Behaviour(kind, f"{'writes' if writes else 'opens'} file{arg}")
    if name in ("webbrowser.open", "webbrowser.open_new"):
        return Behaviour(BehaviourKind.OPENS_BROWSER, f"opens a browser{arg}")
    return None


def inspect_marshalled(raw: bytes, *, max_bytes: int = MAX_CODE_BYTES) -> CodeInspection:
    """Inspect ``marshal.dumps(code)`` bytes. Never raises; never executes the code."""
    if len(raw) > max_bytes:
        return _raw_scan(raw[:max_bytes], f"code is {len(raw)} bytes, over the {max_bytes}-byte bound", True)
    code = _load_code(raw)
    if code is None:
        return _raw_scan(raw, "not a code object for this Python version; names found by scanning the raw bytes")
    try:
        return _disassemble(code)
    except Exception as exc:  # malformed bytecode must degrade, not crash
        return _raw_scan(raw, f"disassembly failed ({type(exc).__name__}); names found by scanning the raw bytes")


def inspect_pyc(data: bytes, *, max_bytes: int = MAX_CODE_BYTES) -> CodeInspection:
    """Inspect a ``.pyc`` image: only this interpreter's magic number is unmarshalled, others are byte-scanned."""
    import importlib.util

    if len(data) < 16:
        return _raw_scan(data, "too short to be a .pyc file")
    if data[:4] != importlib.util.MAGIC_NUMBER:
        magic = int.from_bytes(data[:2], "little")
        return _raw_scan(
            data[16 : 16 + max_bytes],
            f"bytecode for another Python version (magic {magic}); names found by scanning the raw bytes",
            len(data) - 16 > max_bytes,
        )
    return inspect_marshalled(data[16:], max_bytes=max_bytes)


def _load_code(raw: bytes) -> object | None:
    # A code object starts with TYPE_CODE ('c'), possibly with FLAG_REF (0x80).
    if not raw or raw[0] not in (0x63, 0xE3):
        return None
    import marshal
    import types

    try:
        obj = marshal.loads(raw)
    except Exception:  # bad marshal data of any kind
        return None
    return obj if isinstance(obj, types.CodeType) else None


_IDENT_RE = re.compile(rb"[A-Za-z_][A-Za-z0-9_.]{1,80}")
_TEXT_RE = re.compile(rb"[\x20-\x7e]{3,400}")


def _raw_scan(raw: bytes, note: str, truncated: bool = False) -> CodeInspection:
    names = dict.fromkeys(m.group().decode("ascii") for m in _IDENT_RE.finditer(raw))
    strings = dict.fromkeys(m.group().decode("ascii") for m in _TEXT_RE.finditer(raw))
    imports = tuple(n for n in names if n in DANGEROUS_MODULES)
    return CodeInspection(
        decoded=False,
        note=note,
        imports=imports,
        names=tuple(names)[:500],
        strings=tuple(strings)[:200],
        truncated=truncated,
    )


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
        self.calls: list[CodeCall] = []
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
            self.calls.append(CodeCall(name, text, first_text))
            stack.append(_Sym(first_text))
            return
        if name == "builtins.getattr" and len(args) >= 2 and isinstance(args[0], _Sym):
            attr = args[1]
            if isinstance(attr, _Const) and isinstance(attr.value, str):
                stack.append(_Sym(f"{args[0].name}.{attr.value}"))
                self.calls.append(CodeCall(name, text, None))
                return
        self.calls.append(CodeCall(name, text, first_text))
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


def _disassemble(code: object) -> CodeInspection:
    emu = _Emulator()
    emu.run(code)
    calls = tuple(dict.fromkeys(emu.calls))
    dangerous = []
    for call in calls:
        behaviour = classify(call)
        if behaviour is not None:
            dangerous.append(DangerousCall(call, behaviour))
    return CodeInspection(
        decoded=True,
        imports=tuple(emu.imports),
        names=tuple(emu.names),
        strings=tuple(emu.strings)[:200],
        calls=calls,
        disassembly="\n".join(emu.lines),
        truncated=emu.truncated,
        dangerous=tuple(dangerous),
    )
