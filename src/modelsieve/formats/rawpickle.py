"""Plain pickle streams under any name (``.pkl``, ``.bin``, ``.pt`` that is not a zip, no extension)."""

from __future__ import annotations

from modelsieve.formats.base import ScanContext
from modelsieve.model import Analysis, Effect
from modelsieve.source import Artifact


class RawPickleScanner:
    """A file whose bytes start a pickle; every stacked pickle and trailing byte is accounted for."""

    name = "pickle"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        from modelsieve.pickle import looks_like_pickle

        return looks_like_pickle(head)

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        from modelsieve.pickle import analyse_joblib, analyse_pickle, mentions_wrapper

        plain = analyse_pickle(artifact, ctx)
        # A joblib dump whose first array comes after the sniffed head: the plain reading broke
        # on array bytes, so read it the way joblib.load does as well.
        if mentions_wrapper(plain) and any(f.effect is Effect.INCONCLUSIVE for f in plain.findings):
            return Analysis(formats=("joblib",)).merge(analyse_joblib(artifact, ctx, plain))
        return plain


SCANNER = RawPickleScanner()
