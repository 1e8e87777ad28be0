"""Plain-words effects of reconstructed calls: "runs shell command `ls`", and the indicators behind them."""

from __future__ import annotations

import re

from modelsieve.indicators import find_indicators
from modelsieve.model import Behaviour, BehaviourKind, Indicator
from modelsieve.pickle.render import clip, render, texts_in
from modelsieve.pickle.values import Code, Const, Downloaded, Value, code_origin, sequence_of, text_of

_URL_RE = re.compile(r"""(?:https?|ftp)://[^\s'"<>`)]+""", re.IGNORECASE)
_FETCH_RE = re.compile(r"\b(curl|wget|urlopen|urlretrieve|requests\.get|Invoke-WebRequest|iwr)\b", re.IGNORECASE)
_RUN_RE = re.compile(r"(\|\s*(ba|z)?sh\b|\bexec\s*\(|\beval\s*\(|\bpython\d?\b|\bsh\s+-c\b|\bbash\b|iex\b)")
_PIP_RE = re.compile(r"\bpip3?\b.*\binstall\b|\binstall\b", re.IGNORECASE)

#: Which positional argument carries the command, where it is not the first.
_COMMAND_ARG = {
    "pydoc.pipepager": 1,
    "pydoc.tempfilepager": 1,
    "torch._inductor.codecache.compile_file": 2,
}

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
    target: str, kind: BehaviourKind | None, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...]
) -> Behaviour:
    """What a dangerous call does, in plain words."""
    last = target.rsplit(".", 1)[-1]
    url = _downloaded(args)
    if url is not None:
        return Behaviour(BehaviourKind.NETWORK, f"downloads {url} and executes it")
    if kind is BehaviourKind.RUNS_COMMAND:
        index = _COMMAND_ARG.get(target, 0)
        cmd = _first_text(args[index:], kwargs) if len(args) > index else _first_text(args, kwargs)
        if cmd is None:
            return Behaviour(kind, f"runs a command through {target} (command computed at load time)")
        fetched = _download_and_run(cmd)
        if fetched:
            return Behaviour(BehaviourKind.NETWORK, f"downloads {fetched} and executes it")
        if re.search(r"\bpip3?\b", cmd) and _PIP_RE.search(cmd):
            return Behaviour(BehaviourKind.INSTALLS_PACKAGE, f"installs package via pip: `{clip(cmd, 160)}`")
        return Behaviour(kind, f"runs shell command `{clip(cmd, 200)}`")
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
    if kind in (BehaviourKind.WRITES_FILE, BehaviourKind.READS_FILE):
        path = _first_text(args[:1], ()) or "a path computed at load time"
        mode = text_of(args[1]) if len(args) > 1 else None
        writes = kind is BehaviourKind.WRITES_FILE and (mode is None or any(c in mode for c in "wax+"))
        if target.startswith("shutil.") and len(args) > 1:
            path = text_of(args[1]) or path
        if last in ("open", "file", "FileIO") and mode is None:
            writes = False
        if writes:
            return Behaviour(BehaviourKind.WRITES_FILE, f"writes file {clip(path, 160)}")
        return Behaviour(BehaviourKind.READS_FILE, f"reads file {clip(path, 160)}")
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
