"""Small helpers shared by the format tests: scan one file, pick findings by rule."""

from __future__ import annotations

import os

from modelsieve.api import scan
from modelsieve.model import FileResult, Finding
from modelsieve.options import ScanOptions


def scan_one(path: str | os.PathLike[str], options: ScanOptions | None = None) -> FileResult:
    """The result of scanning exactly one file."""
    report = scan(path, options or ScanOptions(jobs=1))
    assert len(report.results) == 1, report.results
    return report.results[0]


def rule_ids(result: FileResult) -> set[str]:
    return {f.rule_id for f in result.findings}


def of_rule(result: FileResult, rule_id: str) -> list[Finding]:
    return [f for f in result.findings if f.rule_id == rule_id]


def fuzz_never_crashes(base: bytes, *, rounds: int = 150, seed: int = 0) -> None:
    """Truncations and byte flips of ``base``: every result is a verdict, never an analyser error (GEN006)."""
    import random

    from modelsieve.dispatch import analyse, make_context
    from modelsieve.limits import Limits
    from modelsieve.model import Location
    from modelsieve.source import bytes_artifact

    rng = random.Random(seed)
    for i in range(rounds):
        data = bytearray(base)
        if i % 3 == 0:
            data = data[: rng.randrange(len(data))]
        else:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        analysis = analyse(bytes_artifact(bytes(data), Location(f"fuzz{i}")), make_context(Limits()))
        errors = [f.message for f in analysis.findings if f.rule_id == "GEN006"]
        assert not errors, (i, errors)
