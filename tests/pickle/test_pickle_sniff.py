"""looks_like_pickle: claims pickles of every protocol, not text, JSON or random bytes."""

from __future__ import annotations

import json
import pickle
import random

import numpy as np
import pytest

from modelsieve.pickle import looks_like_pickle


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickles_of_every_protocol(protocol: int) -> None:
    assert looks_like_pickle(pickle.dumps({"a": [1, 2], "b": "x"}, protocol=protocol))
    big = pickle.dumps(np.zeros(100_000), protocol=protocol)
    assert looks_like_pickle(big[:4096])


def test_tiny_pickles() -> None:
    assert looks_like_pickle(b"N.")
    assert looks_like_pickle(b"].")


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"N",
        json.dumps({"a": [1, 2, 3]}).encode(),
        b"Hello world, this is a README file.\n",
        b"Note: this is text\n",
        b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64,
        b"PK\x03\x04" + b"\x00" * 64,
        b"\x80\x09garbage",
        b"config\nvalue\nmore text here\n",
    ],
)
def test_non_pickles(head: bytes) -> None:
    assert not looks_like_pickle(head)


def test_random_bytes_are_rarely_claimed() -> None:
    rng = random.Random(7)
    claimed = sum(looks_like_pickle(rng.randbytes(512)) for _ in range(2000))
    assert claimed <= 2


def test_broken_after_valid_start_is_still_a_pickle() -> None:
    """nullifAI: the stream is a pickle even though it breaks after its payload."""
    head = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R\xff\xfejunk"
    assert looks_like_pickle(head)
