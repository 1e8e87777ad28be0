"""``compare`` on Hub repositories: the Hub's status as a tool, peers on the downloaded files."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakehub import FakeHub
from typer.testing import CliRunner

from modelsieve.cli import app
from modelsieve.compare.peers import peer
from modelsieve.compare.run import CompareOptions, compare
from modelsieve.hub.client import HubConfig
from modelsieve.hub.scan import HubOptions

picklescan_installed = pytest.mark.skipif(not peer("picklescan").available(), reason="picklescan not installed")


@pytest.fixture
def options(tmp_path: Path) -> CompareOptions:
    return CompareOptions(
        tools=("modelsieve", "hf-hub", "picklescan"),
        hub=HubOptions(config=HubConfig(cache_dir=str(tmp_path / "cache"))),
        timeout=120,
    )


@picklescan_installed
def test_hub_status_and_peer_on_repositories(hub_env: FakeHub, options: CompareOptions) -> None:
    result = compare(["hf://acme/evil", "hf://acme/benign", "hf://acme/gated"], options)
    assert result.tools == ("modelsieve", "hf-hub", "picklescan")
    evil, benign, gated = result.items
    assert evil.label("hf-hub") == "dangerous"
    assert evil.label("picklescan") == "dangerous"
    assert evil.label("modelsieve") != "safe"
    assert benign.label("hf-hub") == "safe"
    assert benign.label("picklescan") == "safe"
    # Nothing could be downloaded from the gated repository: no tool may call it safe.
    assert gated.label("modelsieve") == "error"
    assert gated.label("picklescan") == "error"
    hub_vs_peer = next(p for p in result.pairs if (p.tool_a, p.tool_b) == ("hf-hub", "picklescan"))
    assert hub_vs_peer.both_dangerous == 1 and hub_vs_peer.both_safe == 1


@picklescan_installed
def test_compare_command_markdown(hub_env: FakeHub, tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("hf://acme/evil\n")
    out = tmp_path / "cmp.md"
    result = CliRunner().invoke(app, ["compare", f"@{listing}", "-t", "hf-hub", "-t", "picklescan", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "### hf-hub vs picklescan (agreement 100% of 1 compared)" in text
    assert "| hf://acme/evil | dangerous" in text
