"""Pickles and bytecode embedded in Keras configs: TorchModuleWrapper's torch.save blob, ``__lambda__`` values.

Fixtures are saved with the real Keras 3 (torch backend). The malicious variants swap a harmless payload (touch a
marker file) into the saved config; subprocess tests prove Keras really runs it on load_model(safe_mode=False).
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py
from kerasfix import edit_keras_config
from scanhelp import of_rule, rule_ids, scan_one

from modelsieve import kerasconfig
from modelsieve.model import BehaviourKind, Confidence, Verdict

MEMBER = "<config: layer wrapped module>"


class _Touch:
    """Pickles to os.system("touch MARKER"); only ever pickled here, never loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@dataclass(frozen=True)
class Wrapped:
    """A benign TorchModuleWrapper model saved by Keras in both formats, and the payload's marker path."""

    keras_path: Path
    h5_path: Path
    marker: Path


@pytest.fixture(scope="module")
def wrapped(tmp_path_factory: pytest.TempPathFactory) -> Wrapped:
    if os.environ["KERAS_BACKEND"] != "torch":
        pytest.skip("TorchModuleWrapper needs the torch backend")
    keras = pytest.importorskip("keras")
    torch = pytest.importorskip("torch")
    from keras.layers import TorchModuleWrapper

    root = tmp_path_factory.mktemp("keras-wrapper")
    model = keras.Sequential([TorchModuleWrapper(torch.nn.Linear(3, 2), output_shape=(None, 2), name="wrapped")])
    model(torch.ones(1, 3))
    model.save(root / "wrapper.keras")
    model.save(root / "wrapper.h5")
    return Wrapped(root / "wrapper.keras", root / "wrapper.h5", root / "MARKER")


def _torch_save_blob(marker: Path) -> str:
    """base64 of a real torch.save zip whose data.pkl calls os.system, as TorchModuleWrapper.get_config writes it."""
    import torch

    buffer = io.BytesIO()
    torch.save(_Touch(marker), buffer)
    assert buffer.getvalue()[:4] == b"PK\x03\x04"
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _set_module(config: Any, blob: str) -> int:
    count = 0
    if isinstance(config, dict):
        if config.get("class_name") == "TorchModuleWrapper":
            config["config"]["module"] = blob
            count += 1
        for value in config.values():
            count += _set_module(value, blob)
    elif isinstance(config, list):
        for value in config:
            count += _set_module(value, blob)
    return count


def _evil_keras(wrapped: Wrapped, dst: Path, blob: str) -> Path:
    edit_keras_config(wrapped.keras_path, dst, lambda config: _set_module(config, blob))
    return dst


def _loads_in_subprocess(path: Path, marker: Path, *, then: str = "") -> None:
    marker.unlink(missing_ok=True)
    code = "import sys, keras; model = keras.saving.load_model(sys.argv[1], safe_mode=False)\n" + then
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)], env=env, capture_output=True, timeout=300, check=False
    )
    assert marker.exists(), proc.stderr.decode(errors="replace")[-2000:]
    marker.unlink()


# --- benign ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["keras_path", "h5_path"])
def test_benign_torch_module_wrapper_is_ker007_only(wrapped: Wrapped, fmt: str) -> None:
    result = scan_one(getattr(wrapped, fmt))
    assert rule_ids(result) == {"KER007"}, result.findings
    (f,) = of_rule(result, "KER007")
    assert f.location.detail == "layer: wrapped"
    assert f.subject == "TorchModuleWrapper:wrapped"
    assert "torch.load(weights_only=False)" in f.message
    assert f.behaviour is not None and f.behaviour.kind is BehaviourKind.LOADS_NESTED
    assert result.verdict is Verdict.SUSPICIOUS
    # The blob is a real torch.save zip, analysed through the dispatcher.
    assert "pytorch" in result.formats


# --- malicious torch.save blob in TorchModuleWrapper --------------------------------------------------------------


def test_torch_module_wrapper_torch_save_os_system_keras_v3(wrapped: Wrapped, tmp_path: Path) -> None:
    path = _evil_keras(wrapped, tmp_path / "evil.keras", _torch_save_blob(wrapped.marker))
    result = scan_one(path)
    assert not wrapped.marker.exists()
    assert result.verdict is Verdict.MALICIOUS
    (f,) = of_rule(result, "PKL001")
    assert "system" in f.subject
    assert f.location.members == ("config.json", MEMBER, "archive/data.pkl")
    assert f.behaviour is not None and f.behaviour.description == f"runs shell command `touch {wrapped.marker}`"
    (k,) = of_rule(result, "KER007")
    assert k.location.members == ("config.json",)
    assert k.location.detail == "layer: wrapped"


def test_torch_module_wrapper_payload_really_runs_on_load(wrapped: Wrapped, tmp_path: Path) -> None:
    path = _evil_keras(wrapped, tmp_path / "evil.keras", _torch_save_blob(wrapped.marker))
    _loads_in_subprocess(path, wrapped.marker)


def test_torch_module_wrapper_raw_pickle_in_h5(wrapped: Wrapped, tmp_path: Path) -> None:
    import pickle

    path = tmp_path / "evil.h5"
    path.write_bytes(wrapped.h5_path.read_bytes())
    blob = base64.b64encode(pickle.dumps(_Touch(wrapped.marker), protocol=2)).decode()
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        assert _set_module(config, blob) == 1
        f.attrs["model_config"] = json.dumps(config)
    result = scan_one(path)
    assert result.verdict is Verdict.MALICIOUS
    (f,) = of_rule(result, "PKL001")
    assert f.location.members == (MEMBER,)
    assert "KER007" in rule_ids(result)


def test_torch_module_wrapper_blob_not_base64(wrapped: Wrapped, tmp_path: Path) -> None:
    path = _evil_keras(wrapped, tmp_path / "bad.keras", "not base64 at all: é")
    result = scan_one(path)
    (f,) = of_rule(result, "KER007")
    assert "not valid base64" in f.message
    assert result.verdict is Verdict.SUSPICIOUS


def test_torch_module_wrapper_blob_over_the_bound(
    wrapped: Wrapped, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kerasconfig, "MAX_EMBEDDED_TEXT", 100)
    path = _evil_keras(wrapped, tmp_path / "big.keras", _torch_save_blob(wrapped.marker))
    result = scan_one(path)
    assert {"KER007", "GEN002"} <= rule_ids(result)
    assert result.verdict is not Verdict.CLEAN


def test_analyse_config_without_context_still_reports_the_blob() -> None:
    from modelsieve.model import Location

    config = {
        "class_name": "Sequential",
        "config": {
            "name": "s",
            "layers": [
                {
                    "class_name": "TorchModuleWrapper",
                    "config": {"name": "w", "trainable": True, "module": base64.b64encode(b"x").decode()},
                }
            ],
        },
    }
    (f,) = kerasconfig.analyse_config(config, Location("m.h5"))
    assert f.rule_id == "KER007"
    assert "not analysed" in f.message


# --- __lambda__ objects stored by serialize_keras_object ({"value": [code, defaults, closure]}) -------------------


@pytest.fixture(scope="module")
def activation_keras(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A functional model whose Dense activation is a ``__lambda__`` object carrying os.system bytecode."""
    keras = pytest.importorskip("keras")
    from keras.src.utils.python_utils import func_dump

    root = tmp_path_factory.mktemp("keras-activation")
    marker = root / "MARKER"
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="relu", name="dense_act")(inputs))
    model.save(root / "benign.keras")
    evil = eval(f"lambda x: __import__('os').system({f'touch {marker}'!r}) or x")  # defined only, never called
    code, _defaults, _closure = func_dump(evil)

    def edit(config: Any) -> None:
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "Dense":
                layer["config"]["activation"] = {"class_name": "__lambda__", "config": {"value": [code, None, None]}}

    path = root / "activation.keras"
    edit_keras_config(root / "benign.keras", path, edit)
    return path, marker


def test_lambda_value_object_os_system(activation_keras: tuple[Path, Path]) -> None:
    path, _marker = activation_keras
    result = scan_one(path)
    (f,) = of_rule(result, "KER001")
    assert f.subject == "os.system"
    assert f.location.detail == "layer: dense_act"
    assert f.confidence is Confidence.HIGH
    assert result.verdict is Verdict.MALICIOUS


def test_lambda_value_object_really_runs(activation_keras: tuple[Path, Path]) -> None:
    """load_model(safe_mode=False) rebuilds the function from the bytecode; the first call of the model runs it."""
    path, marker = activation_keras
    _loads_in_subprocess(path, marker, then="import numpy; model(numpy.ones((1, 3), dtype='float32'))")
