"""Read marshalled Python bytecode without running it.

Keras Lambda layers store ``marshal.dumps(func.__code__)``. ``marshal.loads``
only builds a code object, and the object is handed to ``dis`` and never
executed (no ``exec``, no ``eval``, no ``types.FunctionType``). Malformed code
objects can still crash CPython later (seen while fuzzing: a segfault in the
garbage collector), so decoding happens in ``_codeworker`` run as a separate
process with memory and CPU limits, after a structural check of the marshal
stream. When the bytes are not a code object for this interpreter (another
Python version) or crash the decoder, names are recovered by scanning the raw
bytes instead, and the result says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from modelsieve.model import Behaviour, BehaviourKind

MAX_CODE_BYTES = 1024 * 1024
WORKER_TIMEOUT = 30.0
_BYTES = "names found by scanning the raw bytes"
_FOREIGN = f"not a code object for this Python version; {_BYTES}"

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
    return inspect_many([raw], max_bytes=max_bytes)[0]


def inspect_many(
    blobs: list[bytes], *, max_bytes: int = MAX_CODE_BYTES, timeout: float = WORKER_TIMEOUT
) -> list[CodeInspection]:
    """Inspect several code blobs with one isolated decoder process (restarted after a crash)."""
    from modelsieve import _codeworker

    results: list[CodeInspection | None] = [None] * len(blobs)
    pending: list[int] = []
    for i, raw in enumerate(blobs):
        if len(raw) > max_bytes:
            results[i] = _raw_scan(raw[:max_bytes], f"code is {len(raw)} bytes, over the {max_bytes}-byte bound", True)
        elif not raw or raw[0] not in (0x63, 0xE3) or not _codeworker.marshal_sane(raw):
            results[i] = _raw_scan(raw, _FOREIGN)
        else:
            pending.append(i)
    while pending:
        answers, failure = _run_worker([blobs[i] for i in pending], timeout)
        for i, answer in zip(pending, answers, strict=False):
            results[i] = _from_worker(answer, blobs[i])
        done = len(answers)
        if done < len(pending):
            # The blob being decoded when the worker died is itself the evidence; the rest get a fresh worker.
            crashed = pending[done]
            results[crashed] = _raw_scan(blobs[crashed], f"bytecode crashed the isolated decoder ({failure}); {_BYTES}")
            pending = pending[done + 1 :]
        else:
            pending = []
    return [r if r is not None else _raw_scan(b, _FOREIGN) for r, b in zip(results, blobs, strict=True)]


def _run_worker(blobs: list[bytes], timeout: float) -> tuple[list[dict[str, object]], str]:
    import json
    import subprocess
    import sys

    from modelsieve import _codeworker

    payload = b"".join(len(b).to_bytes(4, "little") + b for b in blobs)
    try:
        proc = subprocess.run(
            [sys.executable, "-I", "-S", _codeworker.__file__],
            input=payload,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        out, failure = proc.stdout, f"exit status {proc.returncode}"
    except subprocess.TimeoutExpired as exc:
        out, failure = exc.stdout or b"", f"no answer within {timeout:g}s"
    except OSError as exc:
        return [], f"could not start: {exc}"
    answers: list[dict[str, object]] = []
    for line in out.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            break
        if not isinstance(value, dict):
            break
        answers.append(value)
    return answers[: len(blobs)], failure


def _from_worker(answer: dict[str, object], raw: bytes) -> CodeInspection:
    if not answer.get("ok"):
        return _raw_scan(raw, f"{answer.get('error', 'not decodable')}; {_BYTES}")

    def strings(key: str) -> tuple[str, ...]:
        value = answer.get(key)
        return tuple(str(v) for v in value) if isinstance(value, list) else ()

    calls: list[CodeCall] = []
    raw_calls = answer.get("calls")
    for item in raw_calls if isinstance(raw_calls, list) else []:
        if isinstance(item, list) and len(item) == 3:
            first = item[2] if isinstance(item[2], str) else None
            calls.append(CodeCall(str(item[0]), str(item[1]), first))
    dangerous = []
    for call in calls:
        behaviour = classify(call)
        if behaviour is not None:
            dangerous.append(DangerousCall(call, behaviour))
    return CodeInspection(
        decoded=True,
        imports=strings("imports"),
        names=strings("names"),
        strings=strings("strings")[:200],
        calls=tuple(calls),
        disassembly=str(answer.get("disassembly", "")),
        truncated=bool(answer.get("truncated")),
        dangerous=tuple(dangerous),
    )


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
