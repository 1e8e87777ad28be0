"""Red team, noise side: benign artifacts made by the real libraries must not be called malicious, and
plain data (state dicts, numpy, sklearn, stdlib values) must get no finding of LOW or above.

Known false positives are ``xfail(strict=True)`` with the offending finding in the reason.
"""

from __future__ import annotations

import argparse
import array
import collections
import datetime
import fractions
import functools
import ipaddress
import os
import pathlib
import pickle
import re
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as scipy_sparse
from rt_support import analyser_failures, describe, loud, never_malicious, scan_one

from modelsieve.model import Verdict


def _clean(path: Path) -> None:
    result = scan_one(path)
    assert not analyser_failures(result), describe(result)
    assert not loud(result), describe(result)
    assert result.verdict is Verdict.CLEAN, describe(result)


def _stdlib_values() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    return {
        "counter": collections.Counter("mississippi"),
        "paths": {"root": pathlib.PosixPath("/data/run1"), "rel": pathlib.PurePosixPath("a/b.txt")},
        "argparse_namespace": argparse.Namespace(lr=0.1, arch="resnet50", data=pathlib.PosixPath("/d"), seed=None),
        "numpy_randomstate": np.random.RandomState(0),
        "numpy_generator": rng,
        "numpy_bitgen_state": rng.bit_generator.state,
        "partial_of_ordereddict": functools.partial(collections.OrderedDict, a=1),
        "aware_datetime": datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
        "utc": datetime.timezone.utc,
        "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "regex": re.compile(r"\d+(?P<x>[a-z])", re.IGNORECASE),
        "fraction": fractions.Fraction(1, 3),
        "builtins": [complex(1, 2), bytearray(b"ab"), range(3), slice(1, 2), frozenset({1}), Ellipsis],
        "regex_flags": re.IGNORECASE | re.MULTILINE,
        "windows_path": pathlib.PureWindowsPath("C:/data/run1"),
        "ip_address": ipaddress.ip_address("10.0.0.1"),
        "array_module": array.array("f", [1.0, 2.0]),
        "numpy_scalars": [np.datetime64("2020-01-01"), np.timedelta64(5, "s"), np.void(b"ab"), np.str_("x")],
        "numpy_structured_dtype": np.dtype([("a", "<i4"), ("b", "<f8", (2,))]),
        "numpy_masked_array": np.ma.masked_array([1, 2, 3], mask=[False, True, False]),
        "scipy_csr_matrix": scipy_sparse.csr_matrix(np.eye(3)),
    }


STDLIB = _stdlib_values()


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
@pytest.mark.parametrize("name", sorted(STDLIB))
def test_stdlib_and_numpy_values_are_clean(name: str, protocol: int, tmp_path: Path) -> None:
    """Protocols 0/1 write ``copyreg._reconstructor`` for plain classes: that must stay quiet too."""
    path = tmp_path / f"{name}.pkl"
    path.write_bytes(pickle.dumps(STDLIB[name], protocol=protocol))
    _clean(path)


def test_numpy1_module_paths_are_clean(tmp_path: Path) -> None:
    """Pickles written by numpy 1.x name ``numpy.core.multiarray`` (numpy 2 writes ``numpy._core``)."""
    for name, obj in {"array": np.arange(4), "scalar": np.float32(2.0)}.items():
        path = tmp_path / f"numpy1_{name}.pkl"
        path.write_bytes(pickle.dumps(obj, protocol=2).replace(b"numpy._core", b"numpy.core"))
        _clean(path)


def test_zoneinfo_datetime_is_clean(tmp_path: Path) -> None:
    import zoneinfo

    path = tmp_path / "tz.pkl"
    path.write_bytes(pickle.dumps(datetime.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")), protocol=4))
    _clean(path)


# -- pandas and omegaconf: real libraries, very common in checkpoints and datasets --------------------------


def _pandas_objects() -> dict[str, Any]:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {"a": [1, 2], "b": ["x", "y"], "t": pd.to_datetime(["2020-01-01", "2020-01-02"]), "f": [0.5, 1.5]}
    )
    return {"dataframe": frame, "categorical_series": pd.Series(["a", "b", "a"], dtype="category")}


@pytest.mark.parametrize("name", ["dataframe", "categorical_series"])
def test_pandas_pickles_are_never_malicious(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.pkl"
    _pandas_objects()[name].to_pickle(path)
    result = scan_one(path)
    never_malicious(result)
    assert not analyser_failures(result), describe(result)


@pytest.mark.parametrize("name", ["dataframe", "categorical_series"])
def test_pandas_pickles_are_clean(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.pkl.gz"
    _pandas_objects()[name].to_pickle(path)
    _clean(path)


def _omegaconf() -> Any:
    omegaconf = pytest.importorskip("omegaconf")
    return omegaconf.OmegaConf.create({"model": {"lr": 0.1, "layers": [64, 64]}, "name": "run", "seed": None})


@pytest.mark.parametrize("protocol", [2, 4])
def test_omegaconf_config_is_never_malicious(protocol: int, tmp_path: Path) -> None:
    path = tmp_path / "cfg.pkl"
    path.write_bytes(pickle.dumps(_omegaconf(), protocol=protocol))
    never_malicious(scan_one(path))


def test_omegaconf_config_is_clean(tmp_path: Path) -> None:
    path = tmp_path / "cfg.pkl"
    path.write_bytes(pickle.dumps(_omegaconf(), protocol=2))
    _clean(path)


# -- torch --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    torch = pytest.importorskip("torch")
    from torch.nn.utils import parametrize

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("rt-noise-torch")

    class Symmetric(torch.nn.Module):  # type: ignore[name-defined,misc]
        def forward(self, x: Any) -> Any:
            return x.triu() + x.triu(1).T

    lin = torch.nn.Linear(4, 4)
    parametrize.register_parametrization(lin, "weight", Symmetric())
    wn = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(3, 3))
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    step = torch.optim.lr_scheduler.StepLR(opt, 2)
    cycle = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    gen = torch.Generator().manual_seed(1)
    ckpt = {
        "epoch": 1,
        "global_step": 10,
        "pytorch-lightning_version": "2.1.0",
        "state_dict": net.state_dict(),
        "optimizer_states": [opt.state_dict()],
        "lr_schedulers": [step.state_dict()],
        "hyper_parameters": {"args": argparse.Namespace(lr=0.1, out=pathlib.PosixPath("/runs"))},
        "callbacks": {"ModelCheckpoint{'monitor': 'val_loss'}": {"best_model_score": torch.tensor(0.5)}},
    }
    objects: dict[str, Any] = {
        "parametrized_state_dict.pt": lin.state_dict(),
        "weight_norm_state_dict.pt": wn.state_dict(),
        "lr_schedulers.pt": {"step": step.state_dict(), "onecycle": cycle.state_dict()},
        "torch_generator_state.pt": gen.get_state(),
        "torch_values.pt": {"dtype": torch.float16, "device": torch.device("cpu"), "size": torch.Size([2, 3])},
        "lightning_namespace.ckpt": ckpt,
        "torch_generator_object.pt": {"generator": gen},
        "torch_return_types.pt": {"topk": torch.topk(torch.arange(6.0), 2)},
        "lightning_omegaconf.ckpt": {**ckpt, "hyper_parameters": _omegaconf()},
    }
    files = {}
    for name, obj in objects.items():
        files[name] = folder / name
        torch.save(obj, files[name])
    traced = torch.jit.trace(torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.ReLU()), torch.randn(1, 3))
    files["traced.pt"] = folder / "traced.pt"
    traced.save(str(files["traced.pt"]))
    scripted = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.LayerNorm(3)))
    files["scripted.pt"] = folder / "scripted.pt"
    scripted.save(str(files["scripted.pt"]))
    return files


TORCH_CLEAN = [
    "parametrized_state_dict.pt",
    "weight_norm_state_dict.pt",
    "lr_schedulers.pt",
    "torch_generator_state.pt",
    "torch_values.pt",
    "lightning_namespace.ckpt",
    "traced.pt",
    "scripted.pt",
    "torch_generator_object.pt",
    "torch_return_types.pt",
    "lightning_omegaconf.ckpt",
]


@pytest.mark.parametrize("name", TORCH_CLEAN)
def test_torch_files_are_never_malicious(name: str, torch_files: dict[str, Path]) -> None:
    result = scan_one(torch_files[name])
    never_malicious(result)
    assert not analyser_failures(result), describe(result)


@pytest.mark.parametrize("name", TORCH_CLEAN)
def test_torch_files_are_clean(name: str, torch_files: dict[str, Path]) -> None:
    _clean(torch_files[name])


# -- sklearn / joblib --------------------------------------------------------------------------------------


def test_sklearn_pipelines_with_numpy_ufunc_and_str_method_are_clean(tmp_path: Path) -> None:
    """FunctionTransformer(np.log1p) pickles a ufunc by name; TfidfVectorizer(tokenizer=str.split) a method."""
    joblib = pytest.importorskip("joblib")
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    x = np.random.default_rng(0).random((20, 3))
    y = (x[:, 0] > 0.5).astype(int)
    pipe = make_pipeline(FunctionTransformer(np.log1p), StandardScaler(), LogisticRegression()).fit(x, y)
    tfidf = TfidfVectorizer(tokenizer=str.split, token_pattern=None).fit(["a b c", "b c d"])
    columns = ColumnTransformer([("oh", OneHotEncoder(), [0]), ("sc", StandardScaler(), [1])]).fit(
        np.array([[0, 1.0], [1, 2.0]])
    )
    for name, obj, kw in [
        ("pipe.joblib", pipe, {}),
        ("pipe_z.joblib", pipe, {"compress": 3}),
        ("tfidf.joblib", tfidf, {}),
        ("columns.joblib", columns, {}),
    ]:
        joblib.dump(obj, tmp_path / name, **kw)
        _clean(tmp_path / name)


# -- keras, onnx, gguf ----------------------------------------------------------------------------------------


def test_keras_model_with_many_standard_layers_is_clean(tmp_path: Path) -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    inp = keras.Input((10,), dtype="int32")
    x = keras.layers.Embedding(50, 8)(inp)
    x = keras.layers.Conv1D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.MultiHeadAttention(2, 4)(x, x)
    x = keras.layers.LayerNormalization()(x)
    x = keras.layers.LSTM(8, return_sequences=True)(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    x = keras.layers.Dropout(0.1)(x)
    inner = keras.Sequential([keras.layers.Dense(4, activation="gelu"), keras.layers.BatchNormalization()])
    model = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(inner(x)))
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    for name in ("model.keras", "model.h5"):
        model.save(tmp_path / name)
        _clean(tmp_path / name)


def test_onnx_exported_by_torch_is_clean(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(144, 2)
    ).eval()
    path = tmp_path / "model.onnx"
    torch.onnx.export(net, (torch.randn(1, 3, 8, 8),), str(path), dynamo=False)
    _clean(path)


LLAMA31_TOOLS = (
    "{{- bos_token }}{%- if custom_tools is defined %}{%- set tools = custom_tools %}{%- endif %}"
    "{%- if not tools_in_user_message is defined %}{%- set tools_in_user_message = true %}{%- endif %}"
    "{%- if not date_string is defined %}{%- if strftime_now is defined %}"
    '{%- set date_string = strftime_now("%d %b %Y") %}{%- else %}{%- set date_string = "26 Jul 2024" %}'
    "{%- endif %}{%- endif %}{%- if messages[0]['role'] == 'system' %}"
    "{%- set system_message = messages[0]['content']|trim %}{%- set messages = messages[1:] %}"
    '{%- else %}{%- set system_message = "" %}{%- endif %}'
    '{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}{{- "Today Date: " + date_string + "\\n\\n" }}'
    "{%- if tools is not none and not tools_in_user_message %}{%- for t in tools %}"
    '{{- t | tojson(indent=4) }}{{- "\\n\\n" }}{%- endfor %}{%- endif %}{{- system_message }}{{- "<|eot_id|>" }}'
    "{%- for message in messages %}{%- if 'tool_calls' in message %}"
    "{%- set tool_call = message.tool_calls[0].function %}"
    '{{- \'{"name": "\' + tool_call.name + \'", "parameters": \' }}{{- tool_call.arguments | tojson }}'
    "{%- else %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim"
    " + '<|eot_id|>' }}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)

DEEPSEEK_R1 = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
    "{% set ns = namespace(is_first=false, is_tool=false, system_prompt='') %}"
    "{%- for message in messages %}{%- if message['role'] == 'system' %}"
    "{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}{{ bos_token }}{{ ns.system_prompt }}"
    "{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}"
    "{{'<｜User｜>' + message['content']}}{%- endif %}"
    "{%- if message['role'] == 'assistant' and message['content'] is not none %}"
    "{% set content = message['content'] %}{% if '</think>' in content %}"
    "{% set content = content.split('</think>')[-1] %}{% endif %}"
    "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}"
    "{%- endif %}{%- endfor -%}{% if add_generation_prompt %}{{'<｜Assistant｜><think>\\n'}}{% endif %}"
)

MISTRAL_TOOLS = (
    "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}"
    "{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}{%- endif %}"
    "{%- set user_messages = loop_messages | selectattr('role', 'equalto', 'user') | list %}{{- bos_token }}"
    "{%- for message in loop_messages %}{%- if message['role'] == 'user' %}"
    "{%- if tools is not none and (message == user_messages[-1]) %}{{- '[AVAILABLE_TOOLS] [' }}"
    '{%- for tool in tools %}{%- set tool = tool.function %}{{- \'{"type": "function", "function": {\' }}'
    "{%- for key, val in tool.items() if key != 'return' %}{%- if val is string %}"
    "{{- '\"' + key + '\": \"' + val + '\"' }}{%- else %}{{- '\"' + key + '\": ' + val|tojson }}{%- endif %}"
    "{%- if not loop.last %}{{- ', ' }}{%- endif %}{%- endfor %}{{- '}}' }}{%- endfor %}{{- '[/AVAILABLE_TOOLS]' }}"
    "{%- endif %}{{- '[INST] ' + message['content'] + '[/INST]' }}"
    "{%- elif message['role'] == 'assistant' %}{{- ' ' + message['content']|trim + eos_token}}"
    "{%- else %}{{- raise_exception('Only user and assistant roles are supported!') }}{%- endif %}{%- endfor %}"
)


@pytest.mark.parametrize(
    "template", [LLAMA31_TOOLS, DEEPSEEK_R1, MISTRAL_TOOLS], ids=["llama31_tools", "deepseek_r1", "mistral_tools"]
)
def test_gguf_real_tool_templates_are_clean(template: str, tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    path = tmp_path / "model.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny")
    writer.add_token_list(["<s>", "</s>", "hi"])
    writer.add_chat_template(template)
    writer.add_tensor("w", np.arange(8, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    _clean(path)
