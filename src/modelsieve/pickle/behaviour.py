"""Plain-words effects of reconstructed calls: "runs shell command `ls`", and the indicators behind them."""

from __future__ import annotations

import re

from modelsieve.indicators import find_indicators
from modelsieve.model import Behaviour, BehaviourKind, Indicator
from modelsieve.pickle.render import clip, render, texts_in
from modelsieve.pickle.values import (
    Attr,
    Code,
    Const,
    Downloaded,
    Global,
    LargeBytes,
    ListV,
    Obj,
    Tuple,
    Value,
    code_origin,
    sequence_of,
    text_of,
)
from modelsieve.rules.policy import ArgRef, CallShape, Safety, load_policy

_URL_RE = re.compile(r"""(?:https?|ftp)://[^\s'"<>`)]+""", re.IGNORECASE)
_FETCH_RE = re.compile(r"\b(curl|wget|urlopen|urlretrieve|requests\.get|Invoke-WebRequest|iwr)\b", re.IGNORECASE)
_RUN_RE = re.compile(r"(\|\s*(ba|z)?sh\b|\bexec\s*\(|\beval\s*\(|\bpython\d?\b|\bsh\s+-c\b|\bbash\b|iex\b)")
_PIP_RE = re.compile(r"\bpip3?\b.*\binstall\b|\binstall\b", re.IGNORECASE)
_NETWORK_URL_RE = re.compile(r"^\s*(?:https?|ftps?)://", re.IGNORECASE)
_PLACEHOLDER_RE = re.compile(r"(`?)\{(\w+)\}(`?)")
_OPTIONAL_RE = re.compile(r"\[([^\[\]]*)\]")
# os.open flags that write: O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND (the same on Linux and macOS for the
# access bits; the others are Linux values, enough to tell reading from writing).
_WRITE_FLAGS = 0o1 | 0o2 | 0o100 | 0o1000 | 0o2000
_WRITE_MODE_CHARS = "waxc+n"
#: What a computed argument is called in a description, by argument name.
_NOUNS = {
    "file": "path",
    "path": "path",
    "src": "path",
    "dst": "path",
    "link": "path",
    "dir": "path",
    "archive": "path",
    "root": "path",
    "url": "URL",
    "host": "host",
    "address": "address",
    "command": "command",
    "sql": "SQL statement",
}
_MAX_ARGV = 64

_DEBUGGER_START = ("set_trace", "post_mortem", "pm", "Pdb", "breakpoint")


def _first_text(args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...]) -> str | None:
    for a in args:
        text = text_of(a)
        if text is not None:
            return text
        seq = sequence_of(a)
        if seq:
            parts = [text_of(x) for x in seq]
            if all(p is not None for p in parts):
                return " ".join(p for p in parts if p is not None)
    for _, v in kwargs:
        text = text_of(v)
        if text is not None:
            return text
    return None


def _downloaded(args: tuple[Value, ...]) -> str | None:
    for a in args:
        if isinstance(a, Downloaded):
            return a.url
        if isinstance(a, Code) and isinstance(a.payload, Downloaded):
            return a.payload.url
    return None


def _download_and_run(text: str) -> str | None:
    """The URL when a command or code both fetches something and runs it."""
    url = _URL_RE.search(text)
    if url and _FETCH_RE.search(text) and _RUN_RE.search(text):
        return url.group(0)
    return None


def _code_text(args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...]) -> str | None:
    for a in args:
        if isinstance(a, Code):
            inner = a.payload if isinstance(a.payload, Code) else a
            if a.source or inner.source:
                return a.source or inner.source
            return f"<bytecode built from {code_origin(a)}>"
    # Every text argument may be code (timeit's stmt and setup, runctx's command ...).
    texts = [t for t in (text_of(v) for v in (*args, *(v for _, v in kwargs))) if t is not None and t.strip()]
    texts = [t for t in texts if t.strip() != "pass"] or texts
    return "; ".join(dict.fromkeys(texts)) if texts else _first_text(args, kwargs)


def describe(
    target: str,
    kind: BehaviourKind | None,
    args: tuple[Value, ...],
    kwargs: tuple[tuple[str, Value], ...],
    result: Value | None = None,
) -> Behaviour:
    """What a dangerous call does, in plain words.

    ``result`` is the value the emulation gave the call: for a method call it is built from the
    receiver (``HTTPConnection(host)`` of ``.request(...)``), whose arguments the description may use.
    """
    url = _downloaded(args)
    if url is not None:
        return Behaviour(BehaviourKind.NETWORK, f"downloads {url} and executes it")
    shape = load_policy().shape(target)
    if shape is not None:
        shaped = _from_shape(target, kind, shape, _Arguments(args, kwargs, _receiver(result)))
        if shaped is not None:
            return shaped
    return _generic(target, kind, args, kwargs)


def _command(target: str, kind: BehaviourKind, cmd: str | None) -> Behaviour:
    if cmd is None:
        return Behaviour(kind, f"runs a command through {target} (command computed at load time)")
    fetched = _download_and_run(cmd)
    if fetched:
        return Behaviour(BehaviourKind.NETWORK, f"downloads {fetched} and executes it")
    if re.search(r"\bpip3?\b", cmd) and _PIP_RE.search(cmd):
        return Behaviour(BehaviourKind.INSTALLS_PACKAGE, f"installs package via pip: `{clip(cmd, 160)}`")
    return Behaviour(kind, f"runs shell command `{clip(cmd, 200)}`")


def _generic(
    target: str, kind: BehaviourKind | None, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...]
) -> Behaviour:
    """Descriptions for callables ``arguments.toml`` does not describe: the first text argument is the object."""
    last = target.rsplit(".", 1)[-1]
    if kind is BehaviourKind.RUNS_COMMAND:
        return _command(target, kind, _first_text(args, kwargs))
    if kind is BehaviourKind.EXECUTES_CODE:
        code = _code_text(args, kwargs)
        if code is None:
            return Behaviour(kind, f"executes Python code through {target} (code computed at load time)")
        fetched = _download_and_run(code)
        if fetched:
            return Behaviour(BehaviourKind.NETWORK, f"downloads {fetched} and executes it")
        if target.startswith("runpy.") and last == "run_path":
            return Behaviour(kind, f"runs Python file {clip(code, 160)}")
        if target.startswith("runpy.") and last == "run_module":
            return Behaviour(kind, f"runs Python module {clip(code, 160)}")
        return Behaviour(kind, f"executes Python code: `{clip(code, 200)}`")
    if kind is BehaviourKind.OPENS_BROWSER:
        where = _first_text(args, kwargs) or "an address computed at load time"
        return Behaviour(kind, f"opens a web browser at {clip(where, 200)}")
    if kind is BehaviourKind.DEBUGGER:
        return Behaviour(kind, "starts the pdb debugger")
    if kind is BehaviourKind.INSTALLS_PACKAGE:
        what = _first_text(args, kwargs) or render(args[0] if args else Const(None), 120)
        if "install" in what:
            return Behaviour(kind, f"installs package via pip: {clip(what, 160)}")
        return Behaviour(kind, f"runs pip ({target}) with arguments: {clip(what, 160)}")
    if kind is BehaviourKind.LOADS_NATIVE:
        lib = _first_text(args, kwargs) or "a library named at load time"
        return Behaviour(kind, f"loads native library {clip(lib, 160)}")
    if kind is BehaviourKind.WRITES_FILE:
        # Which argument is written differs by callable (arguments.toml says, where it knows): show them all.
        return Behaviour(kind, f"writes to the file system through {target}{_short_args(args)}")
    if kind is BehaviourKind.READS_FILE:
        path = _first_text(args[:1], kwargs[:1])
        return Behaviour(kind, f"reads file {clip(path, 160)}" if path else f"reads files through {target}")
    if kind is BehaviourKind.DELETES_FILE:
        victim = _first_text(args, kwargs) or "a path computed at load time"
        return Behaviour(kind, f"deletes {clip(victim, 160)}")
    if kind is BehaviourKind.NETWORK:
        address = _first_text(args, kwargs)
        return Behaviour(kind, f"connects to {clip(address, 160)}" if address else f"uses the network through {target}")
    if kind is BehaviourKind.LOADS_NESTED:
        return Behaviour(kind, f"deserialises an embedded payload with {target}")
    if kind is BehaviourKind.ENVIRONMENT:
        return Behaviour(kind, f"changes the interpreter or process environment through {target}")
    return Behaviour(kind or BehaviourKind.OTHER, f"calls {target}{_short_args(args)}")


# -- descriptions driven by arguments.toml ------------------------------------------------------------------


class _Arguments:
    """The arguments of one call, and of the call that built its receiver, looked up by ``ArgRef``."""

    __slots__ = ("args", "kwargs", "receiver")

    def __init__(self, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], receiver: Obj | None):
        self.args = args
        self.kwargs = kwargs
        self.receiver = receiver

    def pick(self, ref: ArgRef) -> tuple[Value, ...] | None:
        """The argument(s) ``ref`` names, or None when the call does not pass it."""
        args, kwargs = self.args, self.kwargs
        if ref.receiver:
            if self.receiver is None:
                return None
            args, kwargs = self.receiver.args, self.receiver.kwargs
        if ref.rest:
            rest = args[ref.position or 0 :][:_MAX_ARGV]
            return rest or None
        if ref.position is not None and ref.position < len(args):
            return (args[ref.position],)
        if ref.keyword is not None:
            for key, value in kwargs:
                if key == ref.keyword:
                    return (value,)
        return None


def _receiver(result: Value | None) -> Obj | None:
    """The object a method was called on: ``conn`` of ``conn.request(...)`` (the emulation keeps it in the result)."""
    if isinstance(result, Obj) and isinstance(result.func, Attr) and isinstance(result.func.obj, Obj):
        return result.func.obj
    return None


def _plain(value: Value) -> str | None:
    """A known argument as text: strings, numbers, argv lists, (host, port) pairs and pathlib paths."""
    if isinstance(value, Const):
        if isinstance(value.value, bool) or value.value is None:
            return str(value.value)
        return text_of(value) if isinstance(value.value, (str, bytes)) else str(value.value)
    if isinstance(value, LargeBytes):
        return value.prefix.decode("latin-1") + "…"
    if isinstance(value, Downloaded):
        return f"data downloaded from {value.url}"
    if isinstance(value, (Tuple, ListV)):
        items = value.items
        if len(items) == 2 and text_of(items[0]) is not None and _is_int(items[1]):
            return f"{text_of(items[0])}:{_plain(items[1])}"
        parts = [_plain(item) for item in list(items)[:_MAX_ARGV]]
        return " ".join(p for p in parts if p is not None) if all(p is not None for p in parts) else None
    if isinstance(value, Obj) and value.target is not None and value.target.startswith("pathlib."):
        parts = [text_of(a) for a in value.args]
        return "/".join(p for p in parts if p is not None) if parts and all(p is not None for p in parts) else None
    return None


def _is_int(value: Value) -> bool:
    return isinstance(value, Const) and isinstance(value.value, int) and not isinstance(value.value, bool)


def _joined(values: tuple[Value, ...]) -> str | None:
    """One argument as text, or an argv written out argument by argument (dicts such as ``env`` left out)."""
    if len(values) == 1:
        return _plain(values[0])
    parts = [_plain(v) for v in values if text_of(v) is not None or sequence_of(v) is not None]
    return " ".join(p for p in parts if p is not None) if parts and all(p is not None for p in parts) else None


def _writes(mode: tuple[Value, ...] | None, default: str | None) -> bool:
    """Whether an open mode (``"rb"``, ``"w"``) or ``os.open`` flags write; an unknown mode may write."""
    text = default if mode is None else text_of(mode[0])
    if mode is not None and isinstance(mode[0], Const) and _is_int(mode[0]) and isinstance(mode[0].value, int):
        return bool(mode[0].value & _WRITE_FLAGS)
    # tarfile modes carry the compression after a colon ("r:xz"): only the part before it says read or write.
    return text is None or any(c in text.split(":", 1)[0] for c in _WRITE_MODE_CHARS)


def _fill(template: str, shape: CallShape, call: _Arguments) -> str | None:
    """The template with its arguments filled in; None when a required argument is not passed."""
    absent: set[str] = set()
    shown: dict[str, str | None] = {}
    for name in {m.group(2) for m in _PLACEHOLDER_RE.finditer(template)}:
        ref = shape.args.get(name)
        values = call.pick(ref) if ref is not None else None
        if values is None:
            if name in shape.defaults:
                shown[name] = shape.defaults[name]
            else:
                absent.add(name)
            continue
        shown[name] = _joined(values)

    def optional(match: re.Match[str]) -> str:
        inner = match.group(1)
        return "" if any(m.group(2) in absent for m in _PLACEHOLDER_RE.finditer(inner)) else inner

    text = _OPTIONAL_RE.sub(optional, template)
    if any(m.group(2) in absent for m in _PLACEHOLDER_RE.finditer(text)):
        return None

    def value(match: re.Match[str]) -> str:
        open_tick, name, close_tick = match.groups()
        known = shown.get(name)
        if known is None:
            return f"a {_NOUNS.get(name, 'value')} computed at load time"
        return f"{open_tick}{clip(known, 160)}{close_tick}"

    return _PLACEHOLDER_RE.sub(value, text)


def _from_shape(target: str, kind: BehaviourKind | None, shape: CallShape, call: _Arguments) -> Behaviour | None:
    kind = shape.kind or kind or BehaviourKind.OTHER
    forward = shape.args.get("forward")
    if forward is not None:
        return _forwarded(target, shape, call, forward)
    command = shape.args.get("command")
    if shape.text is None:
        if command is None:
            return None
        picked = call.pick(command)
        return _command(target, kind, _joined(picked) if picked else None)
    template = shape.text
    mode = shape.args.get("mode")
    if shape.read_text is not None and mode is not None and not _writes(call.pick(mode), shape.defaults.get("mode")):
        template, kind = shape.read_text, BehaviourKind.READS_FILE
    url = shape.args.get("url")
    if shape.local_text is not None and url is not None:
        picked = call.pick(url)
        address = _joined(picked) if picked else None
        if address is not None and not _NETWORK_URL_RE.match(address):
            template, kind = shape.local_text, BehaviourKind.WRITES_FILE
    text = _fill(template, shape, call)
    return None if text is None else Behaviour(kind, text)


def _forwarded(target: str, shape: CallShape, call: _Arguments, forward: ArgRef) -> Behaviour | None:
    """``types.MethodType(os.system, cmd)``: calling it calls the bound function with the bound arguments."""
    picked = call.pick(forward)
    func = picked[0] if picked else None
    if not isinstance(func, Global):
        return None
    inner = load_policy().classify(func.name)
    if inner.safety is not Safety.DANGEROUS:
        return None
    ref = shape.args.get("forward_args")
    inner_args = (call.pick(ref) or ()) if ref is not None else ()
    behaviour = describe(func.name, inner.kind, inner_args, ())
    return Behaviour(behaviour.kind, f"{behaviour.description} ({func.display} called through {target})")


def _short_args(args: tuple[Value, ...]) -> str:
    from modelsieve.pickle.render import render_args

    return render_args(args, (), 120)


def indicators_of(args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...]) -> tuple[Indicator, ...]:
    """URLs, IPs and command lines in the known text of call arguments."""
    texts: list[str] = []
    for a in (*args, *(v for _, v in kwargs)):
        texts.extend(texts_in(a))
    found: dict[Indicator, None] = {}
    for text in texts:
        for ind in find_indicators(text[:65536]):
            found.setdefault(ind, None)
    return tuple(found)


def is_debugger_start(target: str) -> bool:
    return target.rsplit(".", 1)[-1] in _DEBUGGER_START
