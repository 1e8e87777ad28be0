"""Fixtures for the reporting layer (see reportfix.py for the stand-in format)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reportfix import FAKE, MAGIC, Writer

from modelsieve import dispatch


@pytest.fixture
def fake_format(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real = dispatch.scanners
    monkeypatch.setattr(dispatch, "scanners", lambda: (FAKE, *real()))
    yield


@pytest.fixture
def write_fake(fake_format: None) -> Writer:
    """``write_fake(path, *specs)`` writes a file that the fake scanner reports with those findings."""

    def write(path: Path, *specs: dict[str, Any]) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(MAGIC + json.dumps(list(specs)).encode())
        return path

    return write
