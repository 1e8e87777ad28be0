"""Plain pickle streams under any name (``.pkl``, ``.bin``, ``.pt`` that is not a zip, no extension)."""

from __future__ import annotations

from modelsieve.formats.base import ScanContext
from modelsieve.model import Analysis
from modelsieve.source import Artifact


class RawPickleScanner:
    """A file whose bytes start a pickle; every stacked pickle and trailing byte is accounted for."""

    name = "pickle"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        from modelsieve.pickle import looks_like_pickle

        return looks_like_pickle(head)

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        from modelsieve.pickle import analyse_pickle

        return analyse_pickle(artifact, ctx)


SCANNER = RawPickleScanner()
