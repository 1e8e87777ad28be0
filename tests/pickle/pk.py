"""Helpers for the pickle-machine unit tests: hand-built opcode streams and a one-call analyser."""

from __future__ import annotations

import io
import pickle
import struct
import subprocess
import sys
from pathlib import Path

from modelsieve.dispatch import make_context
from modelsieve.limits import Limits
from modelsieve.model import Analysis, Effect, Finding, Location
from modelsieve.pickle import analyse_pickle
from modelsieve.pickle.reader import Reader
from modelsieve.pickle.resolve import Resolver
from modelsieve.pickle.trace import NestedPayload, Trace
from modelsieve.pickle.values import Site, Value
from modelsieve.pickle.vm import Machine
from modelsieve.rules.policy import load_policy
from modelsieve.source import Artifact, bytes_artifact


def analyse(data: bytes, limits: Limits | None = None, **kwargs: object) -> Analysis:
    ctx = make_context(limits or Limits())
    return analyse_pickle(bytes_artifact(data, Location("t.pkl")), ctx, **kwargs)  # type: ignore[arg-type]


def analyse_file(path: str, **kwargs: object) -> Analysis:
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        art = Artifact(f, size, Location(path), "f")
        return analyse_pickle(art, make_context(Limits()), **kwargs)  # type: ignore[arg-type]


def ids(analysis: Analysis) -> set[str]:
    return {f.rule_id for f in analysis.findings}


def of(analysis: Analysis, rule_id: str) -> list[Finding]:
    return [f for f in analysis.findings if f.rule_id == rule_id]


def serious(analysis: Analysis) -> list[Finding]:
    """Findings that change the verdict (indicators and stacked-pickle notes do not)."""
    return [f for f in analysis.findings if f.effect is not Effect.NONE]


def behaviours(analysis: Analysis) -> list[str]:
    return [f.behaviour.description for f in analysis.findings if f.behaviour]


def run(data: bytes) -> Value:
    """Run the machine alone and return the unpickled symbolic value."""

    def no_payload(payload: Value, site: Site, loader: str, enc: str) -> NestedPayload:
        return NestedPayload(site, loader, enc, None, "test")

    resolver = Resolver(load_policy(), Trace(), Limits(), no_payload)
    return Machine(Reader(io.BytesIO(data), 0, len(data)), resolver, Limits()).run()


# ---- opcode builders
P2 = pickle.PROTO + b"\x02"
P4 = pickle.PROTO + b"\x04"


def g(module: str, name: str) -> bytes:
    return pickle.GLOBAL + f"{module}\n{name}\n".encode()


def su(text: str) -> bytes:
    raw = text.encode()
    return pickle.SHORT_BINUNICODE + bytes([len(raw)]) + raw


def bu(text: str) -> bytes:
    raw = text.encode()
    return pickle.BINUNICODE + struct.pack("<I", len(raw)) + raw


def sg(module: str, name: str) -> bytes:
    return su(module) + su(name) + pickle.STACK_GLOBAL


def t1(item: bytes) -> bytes:
    return item + pickle.TUPLE1


def call(func: bytes, *args: bytes) -> bytes:
    return func + pickle.MARK + b"".join(args) + pickle.TUPLE + pickle.REDUCE


def os_system(cmd: str = "ls") -> bytes:
    return call(g("os", "system"), bu(cmd))


_LOADER = (
    "import pickle, sys, warnings\nwarnings.simplefilter('ignore')\n"
    "try:\n    pickle.loads(open(sys.argv[1], 'rb').read())\nexcept Exception as e:\n    print(repr(e))\n"
)


def loads_in_subprocess(data: bytes, tmp_path: Path, timeout: float = 120) -> str:
    """Run the real ``pickle.loads`` on ``data`` in a child (cwd=tmp_path); returns what it printed.

    Proves a fixture is a real attack: its harmless payload leaves a marker file in tmp_path.
    """
    path = tmp_path / "fixture.pkl"
    path.write_bytes(data)
    proc = subprocess.run(
        [sys.executable, "-c", _LOADER, str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return proc.stdout + proc.stderr
