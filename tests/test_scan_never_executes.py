"""Scanning never executes what it reads: checked with CPython audit hooks on every malicious fixture.

A child interpreter imports modelsieve and warms it up (imports all of its modules and scans benign
pickles), so that everything modelsieve legitimately imports is loaded. It then installs an audit hook
and scans every fixture of the catalogue. Forbidden while scanning:

* process, network, browser and native-library events (``os.system``, ``subprocess.Popen``, ``os.exec*``,
  ``os.spawn*``, ``os.posix_spawn``, ``os.fork``, ``socket.connect``, ``socket.getaddrinfo``,
  ``webbrowser.open``, ``ctypes.dlopen``) and ``pickle.find_class`` (an unpickler resolving globals);
* executing code (``exec`` events) or unmarshalling data that carries a payload (the payload strings all
  contain the marker token, so ``exec``/``marshal.loads`` of anything derived from a fixture is caught
  while the interpreter's own imports are not);
* importing a module a fixture names (a gadget module such as ``timeit``, ``torch``, ``asyncio.unix_events``)
  that modelsieve had not already imported for its own use, seen as an ``import`` event or as a new entry
  in ``sys.modules`` (``importlib.import_module`` raises no ``import`` event);
* any other audited operation whose arguments mention the marker (``open``, ``os.mkdir`` ...).

``compile`` events are allowed: parsing a code string with ``ast`` to describe it is static analysis. So is
``marshal.loads`` inside ``modelsieve.codeinspect``, which only builds a code object to disassemble it (by
design, on bounded input); any other ``marshal.loads`` of fixture data, and any execution of it, is forbidden.
A canary at the end performs one forbidden action of each kind, to prove the hook records them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fixtures.pickle_exploits import BY_NAME, EXPLOITS, NAMED_MODULES, Exploit, benign_pickles

# Modules a static scanner may import for itself (decoders, the pickle opcode table, stdlib basics).
SCANNER_MAY_IMPORT = frozenset(
    {
        "os",
        "posix",
        "builtins",
        "__builtin__",
        "operator",
        "types",
        "collections",
        "copyreg",
        "functools",
        "pickle",
        "_pickle",
        "base64",
        "binascii",
        "zlib",
        "importlib",
        "inspect",
        "glob",
        "urllib",
    }
)
GADGET_MODULES = sorted(NAMED_MODULES - SCANNER_MAY_IMPORT)
TOKEN = "MARKER"

_CHILD = r"""
import importlib, json, os, pkgutil, sys

cfg = json.load(open(sys.argv[1]))
token = cfg["token"]
gadgets = set(cfg["gadgets"])

import modelsieve
from modelsieve.api import scan
from modelsieve.options import ScanOptions

options = ScanOptions(jobs=1)
for info in pkgutil.walk_packages(modelsieve.__path__, "modelsieve."):
    if info.name.endswith("__main__"):
        continue
    try:
        importlib.import_module(info.name)
    except Exception:
        pass
for path in cfg["benign"]:
    scan(path, options)
preloaded = set(sys.modules)

ALWAYS = {
    "os.system", "subprocess.Popen", "os.posix_spawn", "os.fork", "os.forkpty", "socket.connect",
    "socket.getaddrinfo", "socket.gethostbyname", "socket.bind", "webbrowser.open", "ctypes.dlopen",
    "pickle.find_class", "os.startfile",
}
PREFIXES = ("os.exec", "os.spawn", "os.posix_spawn", "pty.")
events = []
phase = ["warm"]


def mentions(value, depth=0):
    if isinstance(value, str):
        return token in value
    if isinstance(value, (bytes, bytearray)):
        return token.encode() in value
    if isinstance(value, os.PathLike):
        return token in os.fspath(value)
    if depth < 2 and isinstance(value, (tuple, list)):
        return any(mentions(v, depth + 1) for v in value)
    return False


def code_mentions(code, depth=0):
    consts = getattr(code, "co_consts", ())
    for c in consts:
        if mentions(c) or (depth < 10 and hasattr(c, "co_consts") and code_mentions(c, depth + 1)):
            return True
    return False


def from_codeinspect():
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.replace(os.sep, "/").endswith("modelsieve/codeinspect.py"):
            return True
        frame = frame.f_back
    return False


def gadget(name):
    return name not in preloaded and any(name == g or name.startswith(g + ".") for g in gadgets)


def hook(event, args):
    if phase[0] == "warm":
        return
    bad = False
    if event in ALWAYS or event.startswith(PREFIXES):
        bad = True
    elif event == "import":
        bad = bool(args) and isinstance(args[0], str) and gadget(args[0])
    elif event == "exec":
        bad = bool(args) and code_mentions(args[0])
    elif event == "compile":
        bad = False
    elif event == "marshal.loads":
        bad = mentions(args) and not from_codeinspect()
    else:
        bad = mentions(args)
    if bad:
        events.append({"phase": phase[0], "event": event, "args": repr(args)[:300]})


sys.addaudithook(hook)
errors = []
formats = {}
for path in cfg["files"]:
    phase[0] = os.path.basename(path)
    try:
        if cfg.get("unsafe_scanner"):
            # Self-test of this harness: a "scanner" that unpickles must be caught.
            import pickle
            try:
                pickle.loads(open(path, "rb").read())
            except Exception:
                pass
            continue
        report = scan(path, options)
        for result in report.results:
            formats[os.path.basename(path)] = list(result.formats)
    except BaseException as exc:
        errors.append(f"{path}: {type(exc).__name__}: {exc}")
    # importlib.import_module bypasses the C import machinery and its "import" event: compare sys.modules too.
    for name in sorted(set(sys.modules) - preloaded):
        if gadget(name):
            events.append({"phase": phase[0], "event": "sys.modules", "args": name})
    preloaded |= set(sys.modules)

phase[0] = "canary"
exec(compile("x = " + repr(token + "-canary"), "<canary>", "exec"))
try:
    __import__(sorted(g for g in gadgets if g not in preloaded and "." not in g)[0])
except Exception:
    pass
os.system("true")
print(json.dumps({"events": events, "errors": errors, "formats": formats}))
"""


def _run_child(tmp_path: Path, exploits: Sequence[Exploit], *, unsafe_scanner: bool = False) -> dict[str, Any]:
    marker = tmp_path / TOKEN
    files_dir = tmp_path / "files"
    files_dir.mkdir()
    files = []
    for exploit in exploits:
        path = files_dir / f"{exploit.name}--{exploit.file_name}"
        path.write_bytes(exploit.build(str(marker)))
        files.append(str(path))
    benign = []
    for name, data in benign_pickles().items():
        path = files_dir / name
        path.write_bytes(data)
        benign.append(str(path))
    config = tmp_path / "config.json"
    settings = {"files": files, "benign": benign, "token": TOKEN, "gadgets": GADGET_MODULES}
    config.write_text(json.dumps({**settings, "unsafe_scanner": unsafe_scanner}))
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(config)],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "BROWSER": "touch %s", "LANG": "C.UTF-8"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    outcome: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    canary = {e["event"] for e in outcome["events"] if e["phase"] == "canary"}
    assert {"exec", "import", "os.system"} <= canary, f"the audit hook does not record what it should: {canary}"
    return outcome


def test_scanning_every_fixture_runs_nothing(tmp_path: Path) -> None:
    outcome = _run_child(tmp_path, EXPLOITS)
    forbidden = [e for e in outcome["events"] if e["phase"] != "canary"]
    assert not forbidden, "scanning performed forbidden actions:\n" + "\n".join(map(str, forbidden))
    assert not outcome["errors"], "scan raised:\n" + "\n".join(outcome["errors"])
    assert not (tmp_path / TOKEN).exists(), "a payload ran during the scan"
    # Not vacuous: every fixture was recognised and analysed, not skipped as unknown content.
    unanalysed = sorted(name for name, fmts in outcome["formats"].items() if not fmts or fmts == ["unknown"])
    assert not unanalysed, f"fixtures not analysed at all: {unanalysed}"


def test_harness_catches_a_scanner_that_unpickles(tmp_path: Path) -> None:
    """The same harness, with pickle.loads standing in for the scanner, reports what each payload did."""
    names = ["os_system_proto2", "timeit_timeit", "webbrowser_open", "nested_base64", "idlelib_calltip_get_entity"]
    outcome = _run_child(tmp_path, [BY_NAME[n] for n in names], unsafe_scanner=True)
    seen = {(e["phase"].split("--")[0], e["event"]) for e in outcome["events"] if e["phase"] != "canary"}
    assert ("os_system_proto2", "os.system") in seen, seen
    assert ("os_system_proto2", "pickle.find_class") in seen, seen
    assert ("timeit_timeit", "exec") in seen, seen
    assert ("webbrowser_open", "webbrowser.open") in seen, seen
    assert ("nested_base64", "os.system") in seen, seen
    assert ("idlelib_calltip_get_entity", "import") in seen, seen
