"""HDF5 objects that make the library read other files: external links, external raw storage, virtual datasets.

Keras never writes them; a loader that touches one reads whatever file it names (a local secret comes back as
weights). Each fixture is made with h5py, proven in a subprocess to read its marker file when used the way a
loader uses it, and reported without the scanner ever opening the named file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from scanhelp import of_rule, rule_ids, scan_one

from modelsieve import _h5worker
from modelsieve.model import Verdict

SECRET = b"modelsieve-marker-secret"


def _weights_file(path: Path) -> h5py.File:
    f = h5py.File(path, "w")
    f.create_group("model_weights/dense").create_dataset("kernel", data=np.zeros((2, 2), dtype=np.float32))
    return f


def _read_in_subprocess(path: Path, obj: str) -> bytes:
    """What a loader gets when it reads ``obj`` of ``path`` (h5py, as Keras reads weights)."""
    code = "import h5py, sys; f = h5py.File(sys.argv[1], 'r'); sys.stdout.buffer.write(bytes(f[sys.argv[2]][()]))"
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), obj], capture_output=True, timeout=60, check=True, cwd=path.parent
    )
    return out.stdout


def test_external_storage_with_an_absolute_path_reads_that_file(tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere" / "id_rsa"
    secret.parent.mkdir()
    secret.write_bytes(SECRET)
    model = tmp_path / "model" / "weights.h5"
    model.parent.mkdir()
    with _weights_file(model) as f:
        f["model_weights/dense"].create_dataset(
            "bias", shape=(len(SECRET),), dtype="u1", external=[(str(secret), 0, len(SECRET))]
        )
    assert _read_in_subprocess(model, "model_weights/dense/bias") == SECRET
    result = scan_one(model)
    assert result.verdict is Verdict.SUSPICIOUS
    (finding,) = of_rule(result, "HDF001")
    assert str(secret) in finding.message and "absolute path" in finding.message
    assert finding.location.detail == "object: /model_weights/dense/bias"


def test_virtual_dataset_climbing_out_of_the_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside.h5"
    with h5py.File(outside, "w") as o:
        o["data"] = np.frombuffer(SECRET, dtype="u1")
    model = tmp_path / "model" / "weights.h5"
    model.parent.mkdir()
    with _weights_file(model) as f:
        layout = h5py.VirtualLayout(shape=(len(SECRET),), dtype="u1")
        layout[:] = h5py.VirtualSource("../outside.h5", "data", shape=(len(SECRET),))
        f.create_virtual_dataset("model_weights/dense/bias", layout)
    assert _read_in_subprocess(model, "model_weights/dense/bias") == SECRET
    result = scan_one(model)
    assert result.verdict is Verdict.SUSPICIOUS
    (finding,) = of_rule(result, "HDF001")
    assert "../outside.h5:data" in finding.message and "climbs out" in finding.message


def test_external_link_beside_the_model_is_reported_but_not_flagged(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "shard.h5", "w") as o:
        o["kernel"] = np.frombuffer(SECRET, dtype="u1")
    model = tmp_path / "weights.h5"
    with _weights_file(model) as f:
        f["model_weights/extra"] = h5py.ExternalLink("shard.h5", "/kernel")
    assert _read_in_subprocess(model, "model_weights/extra") == SECRET
    result = scan_one(model)
    assert result.verdict is Verdict.CLEAN
    assert rule_ids(result) == {"HDF002"}
    assert "shard.h5:/kernel" in of_rule(result, "HDF002")[0].message


def test_links_are_never_followed_and_cycles_end(tmp_path: Path) -> None:
    model = tmp_path / "weights.h5"
    with _weights_file(model) as f:
        # The named file does not exist: following the link would fail, reading it as a link does not.
        f["model_weights/gone"] = h5py.ExternalLink("/nonexistent/modelsieve/secret.h5", "/x")
        f["model_weights/dense/loop"] = f["model_weights"]  # a hard-link cycle
        f["model_weights/alias"] = h5py.SoftLink("/model_weights/dense")
    result = scan_one(model)
    assert rule_ids(result) == {"HDF001"}
    assert "/nonexistent/modelsieve/secret.h5" in of_rule(result, "HDF001")[0].message


def test_the_object_walk_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "many.h5"
    with h5py.File(model, "w") as f:
        for i in range(50):
            f.create_group(f"g{i}")
    monkeypatch.setattr(_h5worker, "MAX_OBJECTS", 10)
    with h5py.File(model, "r") as f:
        refs, walked, truncated = _h5worker.references(f)
    assert (refs, walked, truncated) == ([], 10, True)
    with h5py.File(model, "r") as f:
        monkeypatch.setattr(_h5worker, "MAX_OBJECTS", 1000)
        assert _h5worker.references(f) == ([], 50, False)
