"""The seekable remote file: block cache, budget, failures, and range economy over real HTTP."""

from __future__ import annotations

import io
import os
import random

import pytest
from fakehub import FakeHub
from hubrepos import BIG_TENSOR_ELEMENTS

from modelsieve.hub.remote import BudgetExceeded, HttpRangeFetcher, RemoteFile, RemoteReadError
from modelsieve.limits import Limits
from modelsieve.model import Location
from modelsieve.source import Artifact


class MemoryFetcher:
    """Serves ranges of bytes in memory and records every range asked for."""

    def __init__(self, data: bytes, *, short: bool = False, fail: bool = False) -> None:
        self.data = data
        self.calls: list[tuple[int, int]] = []
        self.short = short
        self.fail = fail

    def fetch(self, start: int, stop: int) -> bytes:
        self.calls.append((start, stop))
        if self.fail:
            raise RemoteReadError("HTTP 500", 500)
        chunk = self.data[start:stop]
        return chunk[:-1] if self.short else chunk


def test_random_reads_match_the_bytes() -> None:
    data = os.urandom(1_000_003)
    remote = RemoteFile(MemoryFetcher(data), len(data), block_size=4096, cache_blocks=8)
    local = io.BytesIO(data)
    rng = random.Random(7)
    for _ in range(300):
        offset = rng.randrange(0, len(data) + 10)
        n = rng.choice([0, 1, 17, 4096, 5000, 70_000])
        remote.seek(offset)
        local.seek(offset)
        assert remote.read(n) == local.read(n)
    remote.seek(-10, io.SEEK_END)
    assert remote.read() == data[-10:]
    assert remote.tell() == len(data)


def test_a_read_larger_than_the_cache_is_complete() -> None:
    data = os.urandom(3_000_000)
    remote = RemoteFile(MemoryFetcher(data), len(data), block_size=1024, cache_blocks=4)
    assert remote.read() == data


def test_cached_blocks_are_not_fetched_twice() -> None:
    data = bytes(range(256)) * 1024
    fetcher = MemoryFetcher(data)
    remote = RemoteFile(fetcher, len(data), block_size=4096)
    remote.seek(100_000)
    remote.read(10)
    remote.seek(100_005)
    remote.read(10)
    assert fetcher.calls == [(98_304, 102_400)]


def test_sequential_reads_grow_the_read_ahead() -> None:
    data = os.urandom(4 * 1024 * 1024)
    fetcher = MemoryFetcher(data)
    remote = RemoteFile(fetcher, len(data), block_size=4096)
    while remote.read(4096):
        pass
    # 1024 blocks in far fewer requests than blocks.
    assert len(fetcher.calls) < 60


def test_budget_is_enforced_and_remembered() -> None:
    data = b"x" * 100_000
    remote = RemoteFile(MemoryFetcher(data), len(data), block_size=1024, budget=10_000)
    remote.read(5000)
    with pytest.raises(BudgetExceeded):
        remote.read()
    assert isinstance(remote.error, BudgetExceeded)


def test_short_answer_is_an_error_not_silent_truncation() -> None:
    remote = RemoteFile(MemoryFetcher(b"y" * 10_000, short=True), 10_000, block_size=1024)
    with pytest.raises(RemoteReadError, match="short read"):
        remote.read(10)
    assert remote.error is not None


def test_fetch_failure_is_remembered() -> None:
    remote = RemoteFile(MemoryFetcher(b"z" * 100, fail=True), 100)
    with pytest.raises(RemoteReadError):
        remote.read(1)
    assert remote.error is not None and remote.error.status == 500


def _big_url(hub: FakeHub) -> str:
    repo = hub.repos[("model", "acme/big")]
    return f"{hub.url}/acme/big/resolve/{repo.sha}/pytorch_model.bin"


def test_zip_checkpoint_read_remotely_costs_a_small_fraction(hub_env: FakeHub) -> None:
    """The shared zip reader over a RemoteFile: central directory + data.pkl, not the 200 MB of tensors."""
    from modelsieve.formats import ziplenient

    size = hub_env.repos[("model", "acme/big")].files["pytorch_model.bin"].size
    assert size > BIG_TENSOR_ELEMENTS * 4
    fetcher = HttpRangeFetcher(_big_url(hub_env))
    remote = RemoteFile(fetcher, size)
    artifact = Artifact(stream=remote, size=size, location=Location("hf://acme/big/pytorch_model.bin"), name="x")  # type: ignore[arg-type]
    directory = ziplenient.read_directory(artifact, Limits())
    names = [e.name for e in directory.entries]
    pkl = next(e for e in directory.entries if e.name.endswith("data.pkl"))
    extracted = ziplenient.extract(artifact, pkl, Limits())
    extracted.stream.seek(0)
    assert extracted.stream.read(2) == b"\x80\x02"
    assert any(n.endswith("/data/0") for n in names)
    sent = hub_env.sent_for("pytorch_model.bin")
    assert 0 < sent < size // 100, f"read {sent} of {size} bytes"
    assert remote.bytes_fetched == fetcher.bytes_received
    # After the first request the CDN link is used directly, without the Hub's redirect.
    assert sum(1 for method, path, _ in hub_env.requests if "/resolve/" in path) == 1


def test_http_errors_surface_with_their_status(hub_env: FakeHub) -> None:
    url = f"{hub_env.url}/acme/gated/resolve/main/big.bin"
    remote = RemoteFile(HttpRangeFetcher(url, retries=0), 1000)
    with pytest.raises(RemoteReadError) as info:
        remote.read(10)
    assert info.value.status == 403
