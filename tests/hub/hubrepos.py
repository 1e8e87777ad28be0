"""Fixtures: a fake Hub on 127.0.0.1 serving benign, malicious, big, gated and broken repositories."""

from __future__ import annotations

import io
import json
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakehub import FakeFile, FakeHub, FakeRepo

BIG_TENSOR_ELEMENTS = 50_000_000  # 200 MB of float32 stored uncompressed in the zip

SAFE_STATUS = {
    "status": "safe",
    "avScan": {"status": "safe", "message": "No security issues detected"},
    "pickleImportScan": {
        "status": "safe",
        "pickleImports": [
            {"module": "collections", "name": "OrderedDict", "safety": "innocuous"},
            {"module": "torch._utils", "name": "_rebuild_tensor_v2", "safety": "innocuous"},
            {"module": "torch", "name": "FloatStorage", "safety": "innocuous"},
        ],
        "version": "0.0.32",
    },
    "protectAiScan": {"status": "safe", "message": "This file has no security findings."},
    "jFrogScan": {"status": "safe", "message": "Safe PyTorch model"},
}
UNSAFE_STATUS = {
    "status": "unsafe",
    "avScan": {"status": "safe", "message": "No security issues detected"},
    "pickleImportScan": {
        "status": "unsafe",
        "pickleImports": [{"module": "posix", "name": "system", "safety": "dangerous"}],
        "version": "0.0.32",
    },
    "protectAiScan": {"status": "unsafe", "message": "Suspicious pickle import detected"},
    "jFrogScan": {"status": "unsafe", "message": "Model supports code execution on load"},
}


class _RunsCommand:
    """Pickles to a call of os.system; the fixture is only ever read, never loaded (except in a subprocess test)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (self.command,))


def malicious_pickle(command: str = "touch /tmp/modelsieve-hub-marker-never-run") -> bytes:
    return pickle.dumps({"weights": [1, 2, 3], "hook": _RunsCommand(command)}, protocol=2)


def torch_state_dict_bytes() -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save({"layer.weight": torch.arange(12, dtype=torch.float32).reshape(3, 4)}, buf)
    return buf.getvalue()


@pytest.fixture(scope="session")
def big_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    path = tmp_path_factory.mktemp("bighub") / "pytorch_model.bin"
    torch.save({"embed.weight": torch.zeros(BIG_TENSOR_ELEMENTS, dtype=torch.float32)}, path)
    return path


@pytest.fixture(scope="session")
def fake_hub(big_checkpoint: Path) -> Iterator[FakeHub]:
    hub = FakeHub(max_seconds=600)
    config = json.dumps({"model_type": "bert", "hidden_size": 4}).encode()
    hub.add(
        FakeRepo(
            "acme/benign",
            {
                "config.json": FakeFile(config, lfs=False),
                "pytorch_model.bin": FakeFile(torch_state_dict_bytes(), security=SAFE_STATUS),
                "README.md": FakeFile(b"# A benign model\n", lfs=False),
            },
            security_repo={"scansDone": True, "filesWithIssues": []},
            downloads=120,
        )
    )
    hub.add(
        FakeRepo(
            "acme/evil",
            {
                "model.pkl": FakeFile(malicious_pickle(), security=UNSAFE_STATUS),
                "weights": FakeFile(malicious_pickle("id"), lfs=True),
                "notes.txt": FakeFile(b"just some notes about the model\n" * 4, lfs=False),
                "README.md": FakeFile(b"# totally normal\n", lfs=False),
            },
            sha="feedfacefeedfacefeedfacefeedfacefeedface",
            security_repo={"scansDone": True, "filesWithIssues": [{"path": "model.pkl", "level": "danger"}]},
            downloads=3,
            tags=("pytorch",),
        )
    )
    hub.add(
        FakeRepo(
            "acme/big",
            {"pytorch_model.bin": FakeFile(disk=big_checkpoint, security=SAFE_STATUS)},
            sha="b16b16b16b16b16b16b16b16b16b16b16b16b16b",
            security_repo={"scansDone": True, "filesWithIssues": []},
            downloads=50_000,
        )
    )
    hub.add(
        FakeRepo(
            "acme/gated",
            {"pytorch_model.bin": FakeFile(torch_state_dict_bytes()), "big.bin": FakeFile(disk=big_checkpoint)},
            gated="manual",
            token="hf_secret_token",
        )
    )
    hub.add(
        FakeRepo(
            "acme/broken",
            {
                "model.safetensors": FakeFile(missing_size=1234),
                "big.bin": FakeFile(missing_size=300 * 1024**2),
                "config.json": FakeFile(b"{}", lfs=False),
            },
        )
    )
    hub.add(
        FakeRepo(
            "acme/data",
            {"train.pkl": FakeFile(malicious_pickle()), "README.md": FakeFile(b"# data\n", lfs=False)},
            repo_type="dataset",
        )
    )
    hub.add(
        FakeRepo(
            "acme/app",
            {"app.py": FakeFile(b"import gradio\n", lfs=False), "model.pkl": FakeFile(malicious_pickle())},
            repo_type="space",
        )
    )
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()


@pytest.fixture
def hub_env(fake_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    """Point huggingface_hub at the fake Hub, with a private cache and no token."""
    monkeypatch.setenv("HF_ENDPOINT", fake_hub.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    from huggingface_hub import constants

    # The library reads the variable once, at import; downloads read this attribute at call time.
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    fake_hub.reset_counters()
    return fake_hub
