"""Real pickles made by the real libraries: no findings at all (and joblib arrays are skipped exactly)."""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import io
import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from pk import analyse, analyse_file, ids, of, serious

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)

BENIGN = {
    "int_array": np.arange(12, dtype=np.int64).reshape(3, 4),
    "float_array": np.random.default_rng(0).random((5, 5)).astype(np.float32),
    "fortran": np.asfortranarray(np.ones((3, 2))),
    "object_array": np.array([1, "a", None, 2.5], dtype=object),
    "record_array": np.zeros(3, dtype=[("a", "i4"), ("b", "f8")]),
    "scalar": np.float64(1.5),
    "ordered": collections.OrderedDict(a=1, b=[1, 2]),
    "defaultdict": collections.defaultdict(list, a=[1]),
    "sets": [{1, 2}, frozenset({"x"})],
    "datetime": [datetime.datetime(2024, 1, 2, 3, 4, 5), datetime.date(2020, 1, 1), datetime.timedelta(days=2)],
    "decimal": decimal.Decimal("3.14"),
    "enum": re.IGNORECASE,
    "builtins": [slice(1, 5, 2), range(10), bytearray(b"xy"), complex(1, 2), b"bytes", None, True],
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("name", sorted(BENIGN))
def test_real_pickles_have_no_findings(name: str, protocol: int) -> None:
    analysis = analyse(pickle.dumps(BENIGN[name], protocol=protocol))
    assert not analysis.findings, analysis.findings


class Colour(enum.Enum):
    RED = 1


def test_enum_from_main_module_only_needs_code() -> None:
    """An enum defined in the saving script: needs that code (PKL004), nothing more."""
    Colour.__module__ = "__main__"
    try:
        data = pickle.dumps(Colour.RED, protocol=2)
    except pickle.PicklingError:
        data = b"\x80\x02c__main__\nColour\nK\x01\x85R."
    finally:
        Colour.__module__ = __name__
    assert ids(analyse(data)) == {"PKL004"}


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_sklearn_estimators(protocol: int) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.random.default_rng(1).random((40, 3))
    y = (x[:, 0] > 0.5).astype(int)
    for model in (
        RandomForestClassifier(n_estimators=2, random_state=0).fit(x, y),
        Pipeline([("s", StandardScaler()), ("lr", LogisticRegression())]).fit(x, y),
    ):
        assert not analyse(pickle.dumps(model, protocol=protocol)).findings


def test_plain_pickle_of_torch_tensors_is_not_suspicious() -> None:
    torch = pytest.importorskip("torch")
    data = pickle.dumps(torch.nn.Linear(2, 2).state_dict(), protocol=2)
    analysis = analyse(data)
    assert not serious(analysis), analysis.findings
    assert of(analysis, "PKL006")


def _joblib_file(tmp_path: Path, obj: object) -> str:
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "model.joblib"
    joblib.dump(obj, path)
    return str(path)


def test_joblib_arrays_are_skipped_exactly(tmp_path: Path) -> None:
    obj = {"a": np.arange(1000.0), "b": np.ones((7, 3), dtype=np.int8), "o": np.array([1, "x"], dtype=object)}
    analysis = analyse_file(_joblib_file(tmp_path, obj), joblib_arrays=True)
    assert not analysis.findings, analysis.findings


def test_joblib_payload_after_array_is_found(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("echo pwned",))

    path = _joblib_file(tmp_path, [np.arange(100.0), Evil()])
    analysis = analyse_file(path, joblib_arrays=True)
    assert {f.subject for f in of(analysis, "PKL001")} & {"os.system", "posix.system"}
    assert "GEN001" not in ids(analysis)


def test_joblib_payload_inside_object_array_is_found(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("echo pwned",))

    arr = np.empty(2, dtype=object)
    arr[0] = Evil()
    arr[1] = 3
    analysis = analyse_file(_joblib_file(tmp_path, {"x": np.zeros(4), "o": arr, "after": 1}), joblib_arrays=True)
    assert {f.subject for f in of(analysis, "PKL001")} & {"os.system", "posix.system"}


def test_joblib_without_array_emulation_cannot_parse(tmp_path: Path) -> None:
    analysis = analyse_file(_joblib_file(tmp_path, {"a": np.arange(100.0)}), joblib_arrays=False)
    assert analysis.findings


def test_large_numpy_pickle_streams_in_bounded_memory(tmp_path: Path) -> None:
    import time
    import tracemalloc

    path = tmp_path / "big.pkl"
    with open(path, "wb") as f:
        pickle.dump({f"w{i}": np.zeros((256, 1024)) for i in range(8)}, f, protocol=4)
    tracemalloc.start()
    t0 = time.monotonic()
    analysis = analyse_file(str(path))
    elapsed = time.monotonic() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert not analysis.findings
    assert elapsed < 2.0
    assert peak < 8 * 1024 * 1024


@pytest.mark.parametrize("protocol", [0, 1, 2])
def test_large_text_payloads_of_old_protocols_stay_symbolic(protocol: int) -> None:
    """Protocol 0-2 numpy arrays carry their bytes as (latin-1) text: megabytes on one opcode."""
    analysis = analyse(pickle.dumps(np.random.default_rng(3).random(300_000), protocol=protocol))
    assert not analysis.findings, analysis.findings


def test_io_is_not_needed_to_sniff() -> None:
    from modelsieve.pickle import looks_like_pickle

    assert looks_like_pickle(pickle.dumps(io.BytesIO, protocol=2))
