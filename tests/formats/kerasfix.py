"""Keras fixtures made with the real Keras 3 (torch backend), payloads harmless.

Malicious Lambda bytecode is produced with Keras' own ``func_dump`` from a
function that is defined but never called here; it is swapped into the config
of a model saved with a benign Lambda, so no payload runs in the test process.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class KerasFixtures:
    """Paths of every Keras fixture, and the marker file the malicious payload touches."""

    root: Path
    marker: Path
    sequential_keras: Path
    functional_keras: Path
    sequential_h5: Path
    functional_h5: Path
    benign_lambda_h5: Path
    benign_lambda_keras: Path
    evil_lambda_h5: Path
    evil_nested_h5: Path
    evil_wrapped_h5: Path
    evil_lambda_keras: Path
    os_system_keras: Path
    get_file_keras: Path
    unsafe_toggle_keras: Path
    custom_module_keras: Path


def _keras():  # type: ignore[no-untyped-def]
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    return keras


def _evil_code(marker: Path) -> str:
    from keras.src.utils.python_utils import func_dump

    command = f"touch {marker}"
    evil = eval(f"lambda x: __import__('os').system({command!r}) or x")  # defined only, never called
    code, _defaults, _closure = func_dump(evil)
    return str(code)


def _swap_lambda_code(config: object, code: str) -> int:
    """Replace the bytecode of every ``__lambda__`` function in a config; returns how many."""
    count = 0
    if isinstance(config, dict):
        if config.get("class_name") == "__lambda__" and isinstance(config.get("config"), dict):
            config["config"]["code"] = code
            count += 1
        for value in config.values():
            count += _swap_lambda_code(value, code)
    elif isinstance(config, list):
        for item in config:
            count += _swap_lambda_code(item, code)
    return count


def _edit_h5(src: Path, dst: Path, code: str) -> None:
    import shutil

    import h5py

    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        assert _swap_lambda_code(config, code) >= 1
        f.attrs["model_config"] = json.dumps(config)


def edit_keras_config(src: Path, dst: Path, edit) -> None:  # type: ignore[no-untyped-def]
    """Copy a .keras zip, passing its parsed config.json through ``edit``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode()
            zout.writestr(item, data)


def _dense_layers(config: dict) -> list[dict]:  # type: ignore[type-arg]
    return [layer for layer in config["config"]["layers"] if layer.get("class_name") == "Dense"]


def build(root: Path) -> KerasFixtures:
    keras = _keras()
    root.mkdir(parents=True, exist_ok=True)
    marker = root / "MARKER"

    seq = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(1)])
    inp = keras.Input((4,), name="features")
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inp)
    out = keras.layers.Dense(2, activation="softmax", name="probs")(hidden)
    functional = keras.Model(inp, out, name="classifier")
    paths = {
        "sequential_keras": root / "sequential.keras",
        "functional_keras": root / "functional.keras",
        "sequential_h5": root / "sequential.h5",
        "functional_h5": root / "functional.h5",
    }
    seq.save(paths["sequential_keras"])
    functional.save(paths["functional_keras"])
    seq.save(paths["sequential_h5"])
    functional.save(paths["functional_h5"])

    lin = keras.Input((3,), name="x")
    lam = keras.layers.Lambda(lambda x: x * 2, name="lambda_1")(keras.layers.Dense(3, name="dense_in")(lin))
    lambda_model = keras.Model(lin, lam, name="with_lambda")
    benign_lambda_h5 = root / "benign_lambda.h5"
    benign_lambda_keras = root / "benign_lambda.keras"
    lambda_model.save(benign_lambda_h5)
    lambda_model.save(benign_lambda_keras)

    # A Sequential inner model holding the Lambda, used as a layer of an outer Functional model.
    inner = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(3, name="inner_dense"),
            keras.layers.Lambda(lambda x: x + 1, name="lambda_2"),
        ],
        name="inner_model",
    )
    oin = keras.Input((3,), name="outer_in")
    outer = keras.Model(oin, keras.layers.Dense(1, name="head")(inner(oin)), name="outer")
    nested_h5 = root / "nested_benign.h5"
    outer.save(nested_h5)

    # A Lambda wrapped in TimeDistributed: the Lambda's config sits under the wrapper's `layer`.
    tin = keras.Input((2, 3), name="seq_in")
    wrapped = keras.layers.TimeDistributed(keras.layers.Lambda(lambda x: x * 3, name="lambda_3"), name="td")(tin)
    wrapped_h5 = root / "wrapped_benign.h5"
    keras.Model(tin, wrapped, name="wrapped").save(wrapped_h5)

    code = _evil_code(marker)
    evil_wrapped_h5 = root / "evil_wrapped.h5"
    _edit_h5(wrapped_h5, evil_wrapped_h5, code)
    evil_lambda_h5 = root / "evil_lambda.h5"
    evil_nested_h5 = root / "evil_nested.h5"
    _edit_h5(benign_lambda_h5, evil_lambda_h5, code)
    _edit_h5(nested_h5, evil_nested_h5, code)
    evil_lambda_keras = root / "evil_lambda.keras"
    edit_keras_config(benign_lambda_keras, evil_lambda_keras, lambda c: _swap_lambda_code(c, code))

    def os_system(config: dict) -> None:  # type: ignore[type-arg]
        _dense_layers(config)[0]["config"]["activation"] = {
            "module": "os",
            "class_name": "function",
            "config": "system",
            "registered_name": "system",
        }

    def get_file(config: dict) -> None:  # type: ignore[type-arg]
        _dense_layers(config)[0]["config"]["activation"] = {
            "module": "keras.utils",
            "class_name": "function",
            "config": "get_file",
            "registered_name": "get_file",
        }

    def unsafe_toggle(config: dict) -> None:  # type: ignore[type-arg]
        _dense_layers(config)[0]["config"]["kernel_initializer"] = {
            "module": "keras.config",
            "class_name": "function",
            "config": "enable_unsafe_deserialization",
            "registered_name": "enable_unsafe_deserialization",
        }

    def custom_module(config: dict) -> None:  # type: ignore[type-arg]
        layer = _dense_layers(config)[0]
        layer["module"] = "acme_layers.blocks"
        layer["class_name"] = "FancyDense"
        layer["registered_name"] = "acme>FancyDense"

    crafted = {}
    for name, edit in (
        ("os_system_keras", os_system),
        ("get_file_keras", get_file),
        ("unsafe_toggle_keras", unsafe_toggle),
        ("custom_module_keras", custom_module),
    ):
        crafted[name] = root / f"{name}.keras"
        edit_keras_config(paths["functional_keras"], crafted[name], edit)

    return KerasFixtures(
        root=root,
        marker=marker,
        benign_lambda_h5=benign_lambda_h5,
        benign_lambda_keras=benign_lambda_keras,
        evil_lambda_h5=evil_lambda_h5,
        evil_nested_h5=evil_nested_h5,
        evil_wrapped_h5=evil_wrapped_h5,
        evil_lambda_keras=evil_lambda_keras,
        **paths,
        **crafted,
    )
