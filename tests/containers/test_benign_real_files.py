"""Benign files made by the real libraries must not be called malicious (state dicts, sklearn, numpy: clean).

Ultralytics and transformers files are rebuilt with stand-in classes under the real module names, saved by
torch.save in a subprocess, so the pickles hold the same globals as the real files.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from ct_scan import assert_clean, describe, of_rule, scan_one

from modelsieve.model import Verdict


@pytest.fixture(scope="session")
def torch_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import torch

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("benign-torch")
    mlp = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    cnn = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1)
    )
    transformer = torch.nn.Transformer(
        d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=32
    )
    files: dict[str, Path] = {}

    def save(name: str, obj: object, **kw: object) -> None:
        files[name] = folder / name
        torch.save(obj, files[name], **kw)

    save("mlp.pt", mlp.state_dict())
    save("cnn.pth", cnn.state_dict())
    save("transformer.bin", transformer.state_dict())
    save("mlp_fp16.pt", {k: v.half() for k, v in mlp.state_dict().items()})
    save("cnn_bf16.pt", {k: v.to(torch.bfloat16) for k, v in cnn.state_dict().items()})
    opt = torch.optim.Adam(mlp.parameters(), lr=1e-3)
    mlp(torch.randn(2, 8)).sum().backward()
    opt.step()
    save("optimizer.pt", opt.state_dict())
    save("checkpoint.ckpt", {"epoch": 3, "model": mlp.state_dict(), "optimizer": opt.state_dict(), "loss": 0.5})
    state = transformer.state_dict()
    keys = sorted(state)
    half = len(keys) // 2
    shards = {"pytorch_model-00001-of-00002.bin": keys[:half], "pytorch_model-00002-of-00002.bin": keys[half:]}
    for shard, names in shards.items():
        save(shard, {k: state[k] for k in names})
    (folder / "pytorch_model.bin.index.json").write_text(
        json.dumps({"weight_map": {k: s for s, names in shards.items() for k in names}})
    )
    save("legacy_pytorch_model.bin", mlp.state_dict(), _use_new_zipfile_serialization=False)
    save("legacy_cnn.bin", cnn.state_dict(), _use_new_zipfile_serialization=False)
    return files


STATE_DICTS = [
    "mlp.pt",
    "cnn.pth",
    "transformer.bin",
    "mlp_fp16.pt",
    "cnn_bf16.pt",
    "optimizer.pt",
    "checkpoint.ckpt",
    "pytorch_model-00001-of-00002.bin",
    "pytorch_model-00002-of-00002.bin",
    "legacy_pytorch_model.bin",
    "legacy_cnn.bin",
]


@pytest.mark.parametrize("name", STATE_DICTS)
def test_torch_state_dicts_are_clean(name: str, torch_files: dict[str, Path]) -> None:
    result = scan_one(torch_files[name])
    assert any(f.startswith("pytorch") for f in result.formats), describe(result)
    assert_clean(result)


def test_full_model_save_needs_project_code_but_is_not_malicious(tmp_path: Path) -> None:
    import torch
    from ct_models import TinyNet

    path = tmp_path / "model.pt"
    torch.save(TinyNet(), path)
    result = scan_one(path)
    assert result.verdict is Verdict.SUSPICIOUS, describe(result)
    assert [f for f in of_rule(result, "PKL004") if "ct_models" in f.subject], describe(result)


_FAKE_PACKAGES = {
    "ultralytics/__init__.py": "",
    "ultralytics/nn/__init__.py": "",
    "ultralytics/nn/modules/__init__.py": "",
    "ultralytics/nn/modules/conv.py": """
        import torch
        class Conv(torch.nn.Module):
            def __init__(self, c1, c2):
                super().__init__()
                self.conv = torch.nn.Conv2d(c1, c2, 3, bias=False)
                self.bn = torch.nn.BatchNorm2d(c2)
                self.act = torch.nn.SiLU()
            def forward_fuse(self, x):
                return self.act(self.conv(x))
            def forward(self, x):
                return self.act(self.bn(self.conv(x)))
    """,
    "ultralytics/nn/tasks.py": """
        import torch
        from ultralytics.nn.modules.conv import Conv
        class DetectionModel(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = torch.nn.Sequential(Conv(3, 8), Conv(8, 8))
                self.names = {0: "person", 1: "bicycle"}
                self.stride = torch.tensor([8.0, 16.0])
                self.save = {1, 2}
                self.yaml = {"nc": 2, "depth_multiple": 0.33}
                # A fused model keeps bound methods: pickled as builtins.getattr(obj, "forward_fuse").
                self.model[0].forward = self.model[0].forward_fuse
    """,
    "transformers/__init__.py": "",
    "transformers/trainer_utils.py": """
        import enum
        class ExplicitEnum(str, enum.Enum):
            pass
        class IntervalStrategy(ExplicitEnum):
            NO = "no"
            STEPS = "steps"
            EPOCH = "epoch"
        class SchedulerType(ExplicitEnum):
            LINEAR = "linear"
        class HubStrategy(ExplicitEnum):
            EVERY_SAVE = "every_save"
    """,
    "transformers/training_args.py": """
        import dataclasses
        import torch
        from transformers.trainer_utils import HubStrategy, IntervalStrategy, SchedulerType, ExplicitEnum
        class OptimizerNames(ExplicitEnum):
            ADAMW_TORCH = "adamw_torch"
        @dataclasses.dataclass
        class TrainingArguments:
            output_dir: str = "out"
            eval_strategy: IntervalStrategy = IntervalStrategy.STEPS
            save_strategy: IntervalStrategy = IntervalStrategy.EPOCH
            lr_scheduler_type: SchedulerType = SchedulerType.LINEAR
            optim: OptimizerNames = OptimizerNames.ADAMW_TORCH
            hub_strategy: HubStrategy = HubStrategy.EVERY_SAVE
            learning_rate: float = 5e-5
            report_to: list = dataclasses.field(default_factory=lambda: ["tensorboard"])
            distributed_state: object = None
            _n_gpu: int = 0
            device: object = None
    """,
    "accelerate/__init__.py": "",
    "accelerate/state.py": """
        import torch
        class PartialState:
            def __init__(self):
                self.distributed_type = "NO"
                self.num_processes = 1
                self.process_index = 0
                self.device = torch.device("cpu")
    """,
}

_MAKE_HUB_FILES = """
import sys, torch
from ultralytics.nn.tasks import DetectionModel
from transformers.training_args import TrainingArguments
from accelerate.state import PartialState
out = sys.argv[1]
model = DetectionModel()
torch.save({"epoch": -1, "best_fitness": None, "model": model.half(), "ema": None, "optimizer": None,
            "train_args": {"model": "yolov8n.yaml", "epochs": 1}, "date": "2024-01-01", "version": "8.1.0"},
           out + "/yolov8n.pt")
args = TrainingArguments(distributed_state=PartialState(), device=torch.device("cpu"))
torch.save(args, out + "/training_args.bin")
"""


@pytest.fixture(scope="session")
def hub_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hub")
    pkgs = folder / "pkgs"
    for rel, text in _FAKE_PACKAGES.items():
        target = pkgs / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    out = folder / "out"
    out.mkdir()
    subprocess.run(
        [sys.executable, "-c", _MAKE_HUB_FILES, str(out)],
        check=True,
        capture_output=True,
        env={"PYTHONPATH": str(pkgs), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    return out


def test_ultralytics_style_checkpoint_is_not_malicious(hub_files: Path) -> None:
    path = hub_files / "yolov8n.pt"
    data = _data_pkl(path)
    assert b"getattr" in data and b"ultralytics.nn.tasks" in data and b"set" in data
    result = scan_one(path)
    assert result.verdict is not Verdict.MALICIOUS, describe(result)
    assert not of_rule(result, "PKL001"), describe(result)


def test_transformers_training_args_is_not_malicious(hub_files: Path) -> None:
    path = hub_files / "training_args.bin"
    data = _data_pkl(path)
    for name in (b"TrainingArguments", b"IntervalStrategy", b"PartialState", b"device"):
        assert name in data
    result = scan_one(path)
    assert result.verdict is not Verdict.MALICIOUS, describe(result)
    assert not of_rule(result, "PKL001"), describe(result)


def _data_pkl(path: Path) -> bytes:
    import zipfile

    with zipfile.ZipFile(path) as z:
        return z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))


@pytest.fixture(scope="session")
def sklearn_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import joblib
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    folder = tmp_path_factory.mktemp("sklearn")
    x, y = make_classification(n_samples=60, n_features=5, random_state=0)
    models = {
        "logreg": LogisticRegression(max_iter=200).fit(x, y),
        "forest": RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(x, y),
        "pipeline": Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=200))]).fit(x, y),
    }
    files: dict[str, Path] = {}
    for name, model in models.items():
        files[f"{name}.pkl"] = folder / f"{name}.pkl"
        files[f"{name}.pkl"].write_bytes(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
        for suffix, compress in (("joblib", 0), ("z3.joblib", 3), ("lzma.joblib", ("lzma", 3))):
            files[f"{name}.{suffix}"] = folder / f"{name}.{suffix}"
            joblib.dump(model, files[f"{name}.{suffix}"], compress=compress)
    return files


SKLEARN = [f"{m}.{s}" for m in ("logreg", "forest", "pipeline") for s in ("pkl", "joblib", "z3.joblib", "lzma.joblib")]


@pytest.mark.parametrize("name", SKLEARN)
def test_sklearn_models_are_clean(name: str, sklearn_files: dict[str, Path]) -> None:
    assert_clean(scan_one(sklearn_files[name]))


def test_numpy_data_is_clean(tmp_path: Path) -> None:
    arrays = {"a": np.arange(12, dtype=np.int64).reshape(3, 4), "b": np.linspace(0, 1, 7, dtype=np.float32)}
    (tmp_path / "arrays.pkl").write_bytes(pickle.dumps(arrays, protocol=2))
    (tmp_path / "arrays4.pkl").write_bytes(pickle.dumps(arrays, protocol=4))
    np.save(tmp_path / "a.npy", arrays["a"])
    np.savez(tmp_path / "both.npz", **arrays)
    for name in ("arrays.pkl", "arrays4.pkl", "a.npy", "both.npz"):
        assert_clean(scan_one(tmp_path / name))


def test_random_float_bin_is_not_malicious(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = rng.standard_normal(100_000).astype(np.float32).tobytes()
    # Bytes that look alarming in isolation, as they may in any tensor blob.
    data = data[:1000] + b"MZ\x90\x00\x7fELF http://example.com/x.sh" + data[1000:]
    path = tmp_path / "weights.bin"
    path.write_bytes(data)
    result = scan_one(path)
    assert result.verdict in (Verdict.NOT_ANALYSED, Verdict.INCONCLUSIVE, Verdict.CLEAN), describe(result)


def test_folder_scan_finds_every_container_by_content(tmp_path: Path, torch_files: dict[str, Path]) -> None:
    """Names do not matter: a folder of oddly named files is routed by bytes."""
    import gzip

    from modelsieve.api import scan
    from modelsieve.options import ScanOptions

    (tmp_path / "a.model").write_bytes(torch_files["mlp.pt"].read_bytes())
    (tmp_path / "b.dat").write_bytes(torch_files["legacy_cnn.bin"].read_bytes())
    (tmp_path / "noext").write_bytes(gzip.compress(pickle.dumps({"x": 1})))
    report = scan(tmp_path, ScanOptions(jobs=1))
    formats = {Path(r.path).name: r.formats for r in report.results}
    assert "pytorch" in formats["a.model"]
    assert "pytorch-legacy" in formats["b.dat"]
    assert formats["noext"][:2] == ("gzip", "pickle")
    assert all(r.verdict is Verdict.CLEAN for r in report.results), [describe(r) for r in report.results]
