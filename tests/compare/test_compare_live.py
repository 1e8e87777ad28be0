"""The installed peers run for real on a harmless malicious pickle and on benign files."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from modelsieve.compare.format import render_markdown
from modelsieve.compare.peers import DANGEROUS, ERROR, PEERS, SAFE, Peer
from modelsieve.compare.run import CompareOptions, compare

INSTALLED = [p for p in PEERS if p.available()]


class _Touch:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.path}",))


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("peers")
    evil = folder / "evil.pkl"
    evil.write_bytes(pickle.dumps({"x": _Touch(str(folder / "marker"))}, protocol=2))
    good = folder / "good.pkl"
    good.write_bytes(pickle.dumps({"weights": [0.5, 1.5], "name": "tiny"}, protocol=4))
    return {"evil": evil, "good": good}


@pytest.mark.parametrize("tool", INSTALLED, ids=[p.name for p in INSTALLED])
def test_peer_flags_the_malicious_pickle(tool: Peer, samples: dict[str, Path]) -> None:
    outcome = tool.run(str(samples["evil"]), timeout=120)
    assert outcome.label == DANGEROUS, outcome
    assert outcome.duration_s > 0


@pytest.mark.parametrize("tool", INSTALLED, ids=[p.name for p in INSTALLED])
def test_peer_passes_the_benign_pickle(tool: Peer, samples: dict[str, Path]) -> None:
    outcome = tool.run(str(samples["good"]), timeout=120)
    assert outcome.label == SAFE, outcome


def test_missing_input_and_garbage_are_errors_not_verdicts(tmp_path: Path) -> None:
    for tool in INSTALLED:
        assert tool.run(str(tmp_path / "absent.pkl"), timeout=60).label == ERROR, tool.name
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"\x00not a pickle at all")
    if any(p.name == "fickling" for p in INSTALLED):
        assert next(p for p in INSTALLED if p.name == "fickling").run(str(garbage), timeout=60).label == ERROR


def test_compare_runs_every_installed_tool(samples: dict[str, Path]) -> None:
    if not INSTALLED:
        pytest.skip("no peer scanner installed")
    first = INSTALLED[0].name
    result = compare([str(samples["evil"]), str(samples["good"])], CompareOptions(tools=("modelsieve", first)))
    assert result.tools == ("modelsieve", first)
    assert [i.item for i in result.items] == [str(samples["evil"]), str(samples["good"])]
    assert result.items[0].label(first) == DANGEROUS
    assert result.items[1].label(first) == SAFE
    (pair,) = result.pairs
    assert pair.compared + len(pair.errors) == 2
    assert f"### modelsieve vs {first}" in render_markdown(result)


def test_unknown_and_missing_tools_are_listed() -> None:
    result = compare([], CompareOptions(tools=("modelsieve", "no-such-tool")))
    assert ("no-such-tool", "unknown tool") in result.skipped_tools
    assert result.tools == ("modelsieve",)
