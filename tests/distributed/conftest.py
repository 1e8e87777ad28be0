"""Fixtures for distributed scanning: a folder of benign and malicious pickles and a real Dask cluster."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dist_support import MALICIOUS, os_system_pickle


@pytest.fixture(scope="session")
def mixed_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Benign pickles of every protocol, os.system pickles (some under misleading names), a truncated and an
    empty file, spread over nested folders."""
    root = tmp_path_factory.mktemp("mixed")
    marker = root.parent / "MARKER-never-created"
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        (root / f"benign_p{proto}.pkl").write_bytes(pickle.dumps({"weights": [1.0, 2.0, proto], "name": "m"}, proto))
    (root / "nested" / "deeper").mkdir(parents=True)
    (root / "nested" / "config.pkl").write_bytes(pickle.dumps(["a", ("b", 3)], 2))
    for name in MALICIOUS:
        (root / name).write_bytes(os_system_pickle(f"touch {marker}"))
    (root / "nested" / "truncated.pkl").write_bytes(pickle.dumps({"k": list(range(50))}, 2)[:-9])
    (root / "empty.pkl").write_bytes(b"")
    return root


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[Any]:
    """A real LocalCluster of two single-threaded worker processes, shared by the tests of this folder."""
    dask = pytest.importorskip("dask")
    distributed = pytest.importorskip("dask.distributed")
    # One retry for a task whose worker died, and no task queued behind another on a worker, so a file that
    # kills its worker is given up on quickly and never takes an innocent neighbour down with it.
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1, "distributed.scheduler.worker-saturation": 1.0}),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40
        ) as cluster,
    ):
        yield cluster
