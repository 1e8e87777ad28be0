"""Shared pytest fixtures. Keep this small and generic; area-specific helpers live next to their tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.pickle_exploits import EXPLOITS, Exploit


@pytest.fixture(autouse=True, scope="session")
def _isolated_user_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test (nor a CLI subprocess it starts) may read or write the real per-user triage database."""
    saved = {k: os.environ.get(k) for k in ("XDG_DATA_HOME", "MODELSIEVE_DB")}
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("user-data"))
    os.environ.pop("MODELSIEVE_DB", None)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(params=EXPLOITS, ids=[e.test_id for e in EXPLOITS])
def exploit(request: pytest.FixtureRequest) -> Exploit:
    """Every pickle attack technique of the catalogue, one test per technique."""
    param: Exploit = request.param
    return param


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    """Where a harmless payload would leave its trace; it must never appear during a scan."""
    return tmp_path / "MARKER"


@pytest.fixture
def exploit_file(exploit: Exploit, marker: Path, tmp_path: Path) -> Path:
    """The exploit written to disk under its own (often misleading) file name."""
    path = tmp_path / exploit.file_name
    path.write_bytes(exploit.build(str(marker)))
    return path
