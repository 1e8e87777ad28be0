"""The interface every format family implements, and the context it is given.

A format module exposes one object satisfying ``FormatScanner``. It must not
import heavy third-party libraries at module import time (the CLI starts in
under 0.15 s), and it must not import other format modules except the shared
zip reader; nested content goes back through ``ScanContext.dispatch``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from modelsieve.limits import Limits
from modelsieve.model import Analysis
from modelsieve.source import Artifact


class FormatScanner(Protocol):
    """One format family: recognise it by its bytes, then analyse it."""

    @property
    def name(self) -> str:
        """Short format name shown in reports ("pytorch", "gguf", ...)."""
        ...

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        """True when the content is this format. ``head`` is the first 4096 bytes."""
        ...

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        """Analyse the artifact without executing anything in it."""
        ...


class AnalysisTimeout(Exception):
    """Raised by ``ScanContext.check_time`` when the per-file budget is spent."""


@dataclass(frozen=True)
class ScanContext:
    """What a format needs from the outside: limits, policy, and a way to recurse."""

    limits: Limits
    dispatch: Callable[[Artifact], Analysis]
    deadline: float = field(default_factory=lambda: float("inf"))
    strict: bool = False

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise AnalysisTimeout(f"time budget of {self.limits.max_seconds_per_file:g}s exceeded")
