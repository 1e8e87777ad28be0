"""Harmless payloads (touch a marker file) and loaders run in a subprocess to prove them real."""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path


def _os_system_stub(cmd: str) -> int:  # pragma: no cover - never called, only pickled by reference
    raise AssertionError("the stub is pickled by name, never run")


@contextlib.contextmanager
def pickled_as_os_system() -> Iterator[None]:
    """Make picklers write the global as ``os.system`` (CPython names it ``posix.system``)."""
    real = os.system
    _os_system_stub.__module__ = "os"
    _os_system_stub.__qualname__ = "system"
    _os_system_stub.__name__ = "system"
    os.system = _os_system_stub  # type: ignore[assignment]
    try:
        yield
    finally:
        os.system = real


class TouchMarker:
    """Unpickling this runs ``os.system('touch MARKER')``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (_os_system_stub, (f"touch {self.marker}",))


def evil_pickle(marker: Path, protocol: int = 2) -> bytes:
    with pickled_as_os_system():
        return pickle.dumps(TouchMarker(marker), protocol=protocol)


def proves(code: str, marker: Path, *, timeout: float = 120) -> bool:
    """Run ``code`` in a fresh interpreter and report whether it touched ``marker``."""
    if marker.exists():
        marker.unlink()
    subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=timeout, check=False)
    touched = marker.exists()
    if touched:
        # Cleared so that a later check can show the scan itself never runs the payload.
        marker.unlink()
    return touched


def prove_many(cases: dict[str, tuple[str, Path]], *, timeout: float = 300) -> dict[str, bool]:
    """Like ``proves`` for many loaders at once, in one interpreter (saves a torch import per case)."""
    for _, marker in cases.values():
        if marker.exists():
            marker.unlink()
    script = "".join(f"try:\n    exec({code!r}, {{}})\nexcept BaseException:\n    pass\n" for code, _ in cases.values())
    subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=timeout, check=False)
    touched = {}
    for key, (_, marker) in cases.items():
        touched[key] = marker.exists()
        if touched[key]:
            marker.unlink()
    return touched
