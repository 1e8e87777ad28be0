"""The symbolic pickle machine: what loading a pickle would do, worked out without loading it.

Public API: ``analyse_pickle`` (used by every format that carries pickles) and
``looks_like_pickle`` (sniffing).
"""

from __future__ import annotations

from modelsieve.pickle.analyze import analyse_pickle
from modelsieve.pickle.sniff import looks_like_pickle

__all__ = ["analyse_pickle", "looks_like_pickle"]
