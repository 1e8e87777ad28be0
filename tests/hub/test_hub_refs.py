"""Parsing of Hub targets."""

from __future__ import annotations

import pytest

from modelsieve.hub.refs import RepoRef, TargetError, is_hub_target, parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hf://acme/model", RepoRef("acme/model")),
        ("hf://acme/model@v1.0", RepoRef("acme/model", revision="v1.0")),
        ("hf://acme/model@main/sub/model.pkl", RepoRef("acme/model", revision="main", path="sub/model.pkl")),
        ("hf://acme/model@refs/pr/3", RepoRef("acme/model", revision="refs/pr/3")),
        ("hf://acme/model@refs/pr/3/model.pkl", RepoRef("acme/model", revision="refs/pr/3", path="model.pkl")),
        ("hf://acme/model@refs%2Fpr%2F3", RepoRef("acme/model", revision="refs/pr/3")),
        ("hf://datasets/acme/data", RepoRef("acme/data", "dataset")),
        ("hf://spaces/acme/app@abc123", RepoRef("acme/app", "space", "abc123")),
        ("https://huggingface.co/acme/model", RepoRef("acme/model")),
        ("https://huggingface.co/acme/model/tree/dev", RepoRef("acme/model", revision="dev")),
        ("https://huggingface.co/acme/model/blob/main/a/b.bin", RepoRef("acme/model", revision="main", path="a/b.bin")),
        ("https://huggingface.co/datasets/acme/data/tree/main", RepoRef("acme/data", "dataset", "main")),
        ("https://hf.co/spaces/acme/app", RepoRef("acme/app", "space")),
        ("https://huggingface.co/acme/model/tree/refs%2Fpr%2F7", RepoRef("acme/model", revision="refs/pr/7")),
    ],
)
def test_parse(text: str, expected: RepoRef) -> None:
    assert is_hub_target(text)
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "hf://acme",
        "hf://acme/",
        "hf://acme/model@",
        "hf://../x",
        "hf://acme/model@main/../etc/passwd",
        "https://huggingface.co/acme",
        "https://huggingface.co/acme/model/discussions/1",
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(TargetError):
        parse(text)


def test_local_paths_are_not_hub_targets() -> None:
    assert not is_hub_target("/tmp/model.pkl")
    assert not is_hub_target("acme/model")
    assert not is_hub_target("https://example.com/acme/model")


def test_uris_round_trip() -> None:
    ref = parse("hf://datasets/acme/data@main")
    assert ref.uri == "hf://datasets/acme/data@main"
    assert ref.file_uri("x/y.pkl", "abc") == "hf://datasets/acme/data@abc/x/y.pkl"
    assert parse(ref.file_uri("x/y.pkl", "abc")) == RepoRef("acme/data", "dataset", "abc", "x/y.pkl")
