"""Red team: payloads hidden inside other formats' configs (blobs a loader deserialises)."""

from __future__ import annotations

import base64
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from rt_support import describe, findings, runs_in_subprocess, scan_one

from fixtures.pickle_exploits import ccall, glob, p2, shell
from modelsieve.model import Verdict


def _find_layer(config: Any, class_name: str) -> dict[str, Any] | None:
    if isinstance(config, dict):
        if config.get("class_name") == class_name:
            return config
        values: list[Any] = list(config.values())
    elif isinstance(config, list):
        values = config
    else:
        return None
    for value in values:
        found = _find_layer(value, class_name)
        if found is not None:
            return found
    return None


@pytest.fixture(scope="module")
def torch_wrapper_keras(tmp_path_factory: pytest.TempPathFactory) -> Path:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    if os.environ["KERAS_BACKEND"] != "torch":
        pytest.skip("TorchModuleWrapper needs the torch backend")
    keras = pytest.importorskip("keras")
    torch = pytest.importorskip("torch")
    from keras.layers import TorchModuleWrapper

    model = keras.Sequential([TorchModuleWrapper(torch.nn.Linear(3, 2), output_shape=(None, 2))])
    model(torch.ones(1, 3))
    path = tmp_path_factory.mktemp("rt-keras") / "wrapper.keras"
    model.save(path)
    return path


def test_keras_torch_module_wrapper_benign_is_not_malicious(torch_wrapper_keras: Path) -> None:
    result = scan_one(torch_wrapper_keras)
    assert result.verdict is not Verdict.MALICIOUS, describe(result)


@pytest.fixture
def evil_wrapper_keras(torch_wrapper_keras: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The benign file with config['module'] replaced by base64 of a pickle that touches a marker."""
    marker = tmp_path / "MARKER"
    with zipfile.ZipFile(torch_wrapper_keras) as zin:
        names = zin.namelist()
        config = json.loads(zin.read("config.json"))
        blobs = {name: zin.read(name) for name in names}
    layer = _find_layer(config, "TorchModuleWrapper")
    assert layer is not None, config
    layer["config"]["module"] = base64.b64encode(p2(ccall(glob("os", "system"), shell(str(marker))))).decode()
    path = tmp_path / "evil.keras"
    with zipfile.ZipFile(path, "w") as zout:
        for name in names:
            zout.writestr(name, json.dumps(config) if name == "config.json" else blobs[name])
    return path, marker


def test_keras_torch_module_wrapper_pickle_runs_on_load(evil_wrapper_keras: tuple[Path, Path], tmp_path: Path) -> None:
    path, marker = evil_wrapper_keras
    load = (
        "import os\nos.environ['KERAS_BACKEND'] = 'torch'\nimport keras\n"
        f"keras.saving.load_model({str(path)!r}, safe_mode=False)\n"
    )
    ran, output = runs_in_subprocess(load, marker, tmp_path, timeout=300)
    assert ran, f"keras did not run the payload\n{output}"


def test_keras_torch_module_wrapper_pickle_is_reported(evil_wrapper_keras: tuple[Path, Path]) -> None:
    path, marker = evil_wrapper_keras
    result = scan_one(path)
    assert not marker.exists(), "scanning ran the payload"
    assert result.verdict >= Verdict.SUSPICIOUS, describe(result)
    assert findings(result, "PKL001", ("os.system",)), describe(result)
