"""Options of one scan, as an immutable value passed down explicitly (no globals)."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelsieve.limits import Limits


@dataclass(frozen=True)
class ScanOptions:
    """How to scan. ``hash_limit``: files up to this size get a full sha256
    (bigger ones only when ``always_hash``), because hashing 10 GB of tensor
    bytes would dominate a scan that otherwise reads a few kilobytes."""

    limits: Limits = field(default_factory=Limits)
    strict: bool = False
    include_unloaded: bool = False
    select: frozenset[str] = frozenset()
    ignore: frozenset[str] = frozenset()
    jobs: int = 0
    hash_limit: int = 1024**2
    always_hash: bool = False
    # "local" (a LocalCluster of ``jobs`` processes) or a Dask scheduler address such as tcp://10.0.0.5:8786;
    # None scans on this machine. Workers must see the files at the same absolute paths.
    cluster: str | None = None
