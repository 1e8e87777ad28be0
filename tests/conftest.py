"""Shared pytest fixtures. Keep this small and generic; area-specific helpers live next to their tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.pickle_exploits import EXPLOITS, Exploit


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
