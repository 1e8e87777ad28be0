"""joblib dumps read both ways: as ``joblib.load`` reads them and as ``pickle.load`` would.

joblib splices raw array bytes into the pickle after each NumpyArrayWrapper.
``joblib.load`` skips them; ``pickle.load`` (a victim told "it's a pickle")
executes them as opcodes. A crafted dump can hide a payload in either reading,
so both are analysed: the joblib reading is the file's analysis, and calls
that only the plain reading reconstructs are added to it.
"""

from __future__ import annotations

from modelsieve.formats.base import ScanContext
from modelsieve.model import Analysis
from modelsieve.pickle.analyze import analyse_pickle
from modelsieve.pickle.arrays import WRAPPERS
from modelsieve.rules import pickle_rules
from modelsieve.source import Artifact

# Only proven calls from the plain reading: past the first array it walks tensor bytes, where
# anomaly rules (memo, frames, parse errors) would fire by chance on ordinary dumps.
_PLAIN_READING_RULES = frozenset({pickle_rules.DANGEROUS_CALL.id, pickle_rules.NESTED_LOADER.id})


def mentions_wrapper(analysis: Analysis) -> bool:
    """True when the stream references joblib's NumpyArrayWrapper (so it is a joblib dump)."""
    return any(name in WRAPPERS for name in analysis.imports)


def analyse_joblib(artifact: Artifact, ctx: ScanContext, plain: Analysis | None = None) -> Analysis:
    """The joblib reading, plus dangerous calls only ``pickle.load`` of the same bytes would make."""
    dump = analyse_pickle(artifact, ctx, multiple=True, joblib_arrays=True)
    if plain is None:
        plain = analyse_pickle(artifact, ctx, multiple=False)
    known = {f.fingerprint for f in dump.findings}
    extra = tuple(f for f in plain.findings if f.rule_id in _PLAIN_READING_RULES and f.fingerprint not in known)
    return dump.merge(Analysis(findings=extra))
