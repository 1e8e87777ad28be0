"""``hunt``: candidates selected by risky formats, size, downloads, search words and the Hub's flag."""

from __future__ import annotations

import json
from pathlib import Path

from fakehub import FakeHub

from modelsieve.hub.client import HubClient, HubConfig
from modelsieve.hub.hunt import (
    HuntCriteria,
    expand_at_files,
    hunt,
    read_target_file,
    render_json,
    render_lines,
    risky_files,
)


def test_default_selection(hub_env: FakeHub) -> None:
    found = {c.repo_id: c for c in hunt(HubClient(), HuntCriteria())}
    # acme/big has 50,000 downloads; acme/broken holds only safetensors; gated is small and risky.
    assert {"acme/benign", "acme/evil", "acme/gated"} <= set(found)
    assert "acme/big" not in found
    evil = found["acme/evil"]
    assert evil.uri == "hf://acme/evil"
    assert evil.risky_files == ("model.pkl",)
    assert evil.downloads == 3


def test_size_and_download_limits(hub_env: FakeHub) -> None:
    small = {c.repo_id for c in hunt(HubClient(), HuntCriteria(max_total_size=10_000))}
    assert "acme/gated" not in small  # holds a 200 MB file
    assert "acme/evil" in small
    popular = {c.repo_id for c in hunt(HubClient(), HuntCriteria(max_downloads=100_000, max_total_size=10**12))}
    assert "acme/big" in popular


def test_search_words_and_hub_flag(hub_env: FakeHub) -> None:
    (only,) = hunt(HubClient(), HuntCriteria(search=("evil", "EVI")))
    assert only.repo_id == "acme/evil" and only.matched == ("evil", "EVI")
    unsafe = hunt(HubClient(), HuntCriteria(only_hub_unsafe=True))
    assert [(c.repo_id, c.hub_verdict) for c in unsafe] == [("acme/evil", "dangerous")]


def test_limit_stops_early(hub_env: FakeHub) -> None:
    assert len(hunt(HubClient(), HuntCriteria(limit=1))) == 1


def test_outputs_feed_back_as_target_lists(hub_env: FakeHub, tmp_path: Path) -> None:
    found = hunt(HubClient(HubConfig()), HuntCriteria(search=("evil",)))
    lines = tmp_path / "list.txt"
    lines.write_text("# candidates\n" + render_lines(found) + "\n")
    assert read_target_file(lines) == ["hf://acme/evil"]
    as_json = tmp_path / "list.json"
    as_json.write_text(render_json(found))
    assert json.loads(as_json.read_text())[0]["risky_files"] == ["model.pkl"]
    assert read_target_file(as_json) == ["hf://acme/evil"]
    assert list(expand_at_files(["a.bin", f"@{lines}"])) == ["a.bin", "hf://acme/evil"]


def test_risky_files_by_extension() -> None:
    names = ["README.md", "model.safetensors", "a/b/model.PT", "x.joblib", "tok.json", "w.gguf"]
    assert risky_files(names) == ("a/b/model.PT", "x.joblib", "w.gguf")
