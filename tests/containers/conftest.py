"""Fixtures for the container tests: a real torch.save archive to tamper with, markers, benign files."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def torch_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ``torch.save`` state_dict archive; its top folder is the file stem ``archive``."""
    import torch

    path = tmp_path_factory.mktemp("torch") / "archive.pt"
    torch.save({"weight": torch.arange(6, dtype=torch.float32).reshape(2, 3), "bias": torch.zeros(2)}, path)
    return path


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "MARKER"
