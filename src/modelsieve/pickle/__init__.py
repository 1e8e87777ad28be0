"""The symbolic pickle machine: what loading a pickle would do, worked out without loading it.

Public API: ``analyse_pickle`` (used by every format that carries pickles),
``analyse_joblib`` (joblib dumps, read both as joblib and as plain pickle) and
``looks_like_pickle`` (sniffing).

Modules: ``reader`` (bounded buffered reads), ``vm`` (opcodes as ``_pickle.c`` reads them),
``values`` (symbolic values), ``resolve`` (the machine's host: names, attributes, calls, BUILD),
``handlers`` (what well-known callables do), ``pure`` (data transforms on constants), ``arrays``
(joblib raw arrays), ``behaviour`` (plain-words effects), ``findings`` (trace -> findings via the
policy in ``modelsieve.rules.policy``), ``analyze`` (glue), ``sniff``, ``render``, ``trace``.
"""

from __future__ import annotations

from modelsieve.pickle.analyze import analyse_pickle
from modelsieve.pickle.joblibdump import analyse_joblib, mentions_wrapper
from modelsieve.pickle.sniff import looks_like_pickle

__all__ = ["analyse_joblib", "analyse_pickle", "looks_like_pickle", "mentions_wrapper"]
