"""Hostile input: mutated pickles never raise out of analyse_pickle, never crash the emulation, and finish fast."""

from __future__ import annotations

import pickle
import time

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pk import P2, analyse, os_system

from modelsieve.limits import Limits

SEEDS = [
    pickle.dumps({"a": [1, 2.5, "x" * 40], "b": (None, True, b"raw"), "c": {1, 2}}, protocol=p) for p in range(6)
] + [
    pickle.dumps(np.arange(6).reshape(2, 3), protocol=2),
    pickle.dumps(np.array([1, "a"], dtype=object), protocol=4),
    P2 + os_system("id") + pickle.STOP,
]

_LIMITS = Limits(max_opcodes=20_000, max_value_nodes=50_000, max_seconds_per_file=5.0)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            del data[pos : pos + draw(st.integers(1, 4))]
        elif op == "truncate":
            del data[pos:]
        elif op == "dup":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 16))]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_pickles_never_escape(data: bytes) -> None:
    t0 = time.monotonic()
    analysis = analyse(data, _LIMITS)
    assert time.monotonic() - t0 < 2.0
    internal = [f for f in analysis.findings if f.rule_id == "GEN006"]
    assert not internal, internal


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_escape(data: bytes) -> None:
    analysis = analyse(data, _LIMITS)
    assert not [f for f in analysis.findings if f.rule_id == "GEN006"]
