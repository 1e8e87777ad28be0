"""The allow-list covers what real libraries write: objects pickled by pandas, omegaconf, torch, numpy and the
standard library are CLEAN with no finding of LOW or above; the dangerous neighbours of those names stay
dangerous (pandas' expression evaluator, torch.return_types helpers that are not result types).
"""

from __future__ import annotations

import argparse
import collections
import datetime
import fractions
import pathlib
import pickle
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pk import P2, analyse, bu, call, g, sg

import modelsieve
from modelsieve.model import FileResult, Severity, Verdict
from modelsieve.options import ScanOptions
from modelsieve.rules.policy import Safety, load_policy


def _scan(path: Path) -> FileResult:
    report = modelsieve.scan(path, ScanOptions(jobs=1))
    assert len(report.results) == 1
    return report.results[0]


def _assert_clean(path: Path) -> None:
    result = _scan(path)
    loud = [
        f"{f.rule_id} {f.severity.value} {f.subject}: {f.message}"
        for f in result.findings
        if f.severity >= Severity.LOW
    ]
    assert not loud, loud
    assert result.verdict is Verdict.CLEAN, [f.message for f in result.findings]


# -- objects built by the real libraries -------------------------------------------------------------------


def _pandas() -> dict[str, Any]:
    pd = pytest.importorskip("pandas")
    return {
        "dataframe_mixed": pd.DataFrame(
            {"a": [1, 2], "b": ["x", "y"], "t": pd.to_datetime(["2020-01-01", "2020-01-02"]), "f": [0.5, 1.5]}
        ),
        "categorical_series": pd.Series(["a", "b", "a"], dtype="category"),
        "categorical_index": pd.CategoricalIndex(["a", "b"]),
        "tz_datetimes_zoneinfo": pd.DataFrame({"t": pd.date_range("2020", periods=3, tz="Europe/Paris")}),
        "tz_datetimes_utc": pd.Series(pd.date_range("2020", periods=2, tz="UTC")),
        "periods": pd.Series(pd.period_range("2020-01", periods=3, freq="M")),
        "intervals": pd.Series(pd.interval_range(0, 3)),
        "multiindex": pd.DataFrame({"a": [1, 2]}, index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)])),
        "range_index": pd.RangeIndex(5),
        "timedeltas": pd.Series(pd.to_timedelta([1, 2], unit="s")),
        "nullable_int": pd.Series([1, None], dtype="Int64"),
        "nullable_float": pd.Series([1.0, None], dtype="Float64"),
        "nullable_bool": pd.Series([True, None], dtype="boolean"),
        "string_dtype": pd.Series(["a", None], dtype="string"),
        "sparse": pd.Series(pd.arrays.SparseArray([0, 0, 1])),
        "scalars": [pd.Timestamp("2020-01-01", tz="UTC"), pd.Timedelta(1, "s"), pd.NaT, pd.NA],
        "offsets": [pd.offsets.Day(2), pd.offsets.BusinessDay(), pd.offsets.MonthEnd(), pd.DateOffset(months=1)],
        "dtypes": [pd.CategoricalDtype(["a"]), pd.DatetimeTZDtype(tz="UTC"), pd.Int64Dtype(), pd.StringDtype()],
    }


def _omegaconf() -> dict[str, Any]:
    omegaconf = pytest.importorskip("omegaconf")
    oc = omegaconf.OmegaConf

    # Structured configs name the user's dataclass (object_type): that one needs the user's code, rightly.
    struct_mode = oc.create({"trainer": {"max_epochs": 3, "devices": [0, 1]}, "out": pathlib.Path("/runs")})
    oc.set_struct(struct_mode, True)
    return {
        "dict_config": oc.create(
            {"model": {"lr": 0.1, "layers": [64, 64]}, "name": "run", "ref": "${name}", "missing": "???"}
        ),
        "list_config": oc.create([1, "a", {"b": 2.5}, None]),
        "readonly": oc.create({"a": 1}, flags={"readonly": True}),
        "struct_mode": struct_mode,
    }


def _stdlib_and_numpy() -> dict[str, Any]:
    import zoneinfo

    rng = np.random.default_rng(0)
    return {
        "zoneinfo_datetime": datetime.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
        "zoneinfo_alone": zoneinfo.ZoneInfo("America/New_York"),
        "counter": collections.Counter("mississippi"),
        "paths": [pathlib.PosixPath("/data"), pathlib.PurePosixPath("a/b"), pathlib.PureWindowsPath("C:/x")],
        "namespace": argparse.Namespace(lr=0.1, data=pathlib.PosixPath("/d")),
        "uuid": uuid.UUID(int=5),
        "fraction": fractions.Fraction(1, 3),
        "numpy_random_states": [np.random.RandomState(0), rng, rng.bit_generator.state],
        "numpy_bit_generators": [np.random.PCG64(1), np.random.MT19937(1), np.random.Philox(1), np.random.SFC64(1)],
        "numpy_dtypes": [np.dtype("float16"), np.dtype("<U3"), np.dtype([("a", "<i4")]), np.float32(1.0)],
    }


def _pickles(objects: dict[str, Any]) -> list[Any]:
    return [pytest.param(obj, proto, id=f"{name}-p{proto}") for name, obj in objects.items() for proto in (2, 4, 5)]


def _lazy(factory: Callable[[], dict[str, Any]], names: list[str]) -> list[Any]:
    """Parameters by name; the objects are built in the test (so a missing library skips, not errors)."""
    return [pytest.param(factory, name, proto, id=f"{name}-p{proto}") for name in names for proto in (2, 4)]


PANDAS_NAMES = [
    "dataframe_mixed",
    "categorical_series",
    "categorical_index",
    "tz_datetimes_zoneinfo",
    "tz_datetimes_utc",
    "periods",
    "intervals",
    "multiindex",
    "range_index",
    "timedeltas",
    "nullable_int",
    "nullable_float",
    "nullable_bool",
    "string_dtype",
    "sparse",
    "scalars",
    "offsets",
    "dtypes",
]
OMEGACONF_NAMES = ["dict_config", "list_config", "readonly", "struct_mode"]


@pytest.mark.parametrize(
    ("factory", "name", "protocol"), _lazy(_pandas, PANDAS_NAMES) + _lazy(_omegaconf, OMEGACONF_NAMES)
)
def test_library_objects_are_clean(
    factory: Callable[[], dict[str, Any]], name: str, protocol: int, tmp_path: Path
) -> None:
    path = tmp_path / f"{name}.pkl"
    path.write_bytes(pickle.dumps(factory()[name], protocol=protocol))
    _assert_clean(path)


@pytest.mark.parametrize(("obj", "protocol"), _pickles(_stdlib_and_numpy()))
def test_stdlib_and_numpy_objects_are_clean(obj: Any, protocol: int, tmp_path: Path) -> None:
    path = tmp_path / "value.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    _assert_clean(path)


def test_pandas_to_pickle_compressed_is_clean(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    path = tmp_path / "frame.pkl.gz"
    pd.DataFrame({"a": [1, 2], "c": pd.Categorical(["x", "y"])}).to_pickle(path)
    _assert_clean(path)


@pytest.fixture(scope="module")
def torch_objects() -> dict[str, Any]:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    optimisers = {
        "sgd": torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9),
        "adam": torch.optim.Adam(net.parameters()),
        "adamw": torch.optim.AdamW(net.parameters()),
    }
    for opt in optimisers.values():
        net(torch.randn(4, 3)).sum().backward()
        opt.step()
    values = torch.arange(6.0)
    return {
        "generator": {"generator": torch.Generator().manual_seed(1)},
        "return_types": {
            "topk": torch.topk(values, 2),
            "max": torch.max(torch.ones(2, 2), 0),
            "sort": torch.sort(values),
            "svd": torch.linalg.svd(torch.eye(2)),
        },
        "optimiser_states": {k: opt.state_dict() for k, opt in optimisers.items()},
        "scheduler_state": torch.optim.lr_scheduler.CosineAnnealingLR(optimisers["sgd"], 10).state_dict(),
        "grad_scaler_state": torch.amp.GradScaler("cpu").state_dict(),
        "dtypes": [torch.float32, torch.bfloat16, torch.float8_e4m3fn, torch.uint16, torch.complex64, torch.bool],
        "parameter": torch.nn.Parameter(torch.ones(2)),
        "rng_state": torch.get_rng_state(),
        "sparse": torch.eye(3).to_sparse(),
        "untyped_storage": torch.ones(2).untyped_storage(),
        "full_module": net,
        "numpy_inside": {"a": np.arange(3), "s": np.float64(1.0)},
    }


@pytest.mark.parametrize(
    "name",
    [
        "generator",
        "return_types",
        "optimiser_states",
        "scheduler_state",
        "grad_scaler_state",
        "dtypes",
        "parameter",
        "rng_state",
        "sparse",
        "untyped_storage",
        "full_module",
        "numpy_inside",
    ],
)
def test_torch_save_objects_are_clean(name: str, torch_objects: dict[str, Any], tmp_path: Path) -> None:
    import torch

    path = tmp_path / f"{name}.pt"
    torch.save(torch_objects[name], path)
    _assert_clean(path)


# -- the dangerous side stays dangerous ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "safety"),
    [
        ("pandas.DataFrame", Safety.SAFE),
        ("pandas.core.frame.DataFrame", Safety.SAFE),
        ("pandas.core.internals.managers.BlockManager", Safety.SAFE),
        ("pandas._libs.internals._unpickle_block", Safety.SAFE),
        ("omegaconf.dictconfig.DictConfig", Safety.SAFE),
        ("torch._C.Generator", Safety.SAFE),
        ("torch.return_types.topk", Safety.SAFE),
        ("zoneinfo.ZoneInfo._unpickle", Safety.SAFE),
        # a deny key deeper than a class prefix wins over it
        ("pandas.core.computation.expr.Expr", Safety.DANGEROUS),
        ("pandas.core.computation.ops.Term", Safety.DANGEROUS),
        ("pandas.DataFrame.query", Safety.DANGEROUS),
        ("pandas.core.frame.DataFrame.eval", Safety.DANGEROUS),
        # torch.return_types also holds helpers and modules: only the result types are allowed
        ("torch.return_types.pytree_register_structseq", Safety.UNKNOWN),
        ("torch.return_types.torch", Safety.UNKNOWN),
        ("omegaconf.OmegaConf", Safety.UNKNOWN),
        ("pandas.HDFStore", Safety.UNKNOWN),
        ("pandas.read_csv", Safety.UNKNOWN),
    ],
)
def test_allow_list_neighbours(name: str, safety: Safety) -> None:
    assert load_policy().classify(name).safety is safety


def test_pandas_expression_evaluator_is_a_dangerous_call() -> None:
    """``Expr(text)`` evaluates calls and attribute chains while it parses: a code-execution gadget."""
    payload = call(g("pandas.core.computation.expr", "Expr"), bu("(1).__class__.__base__.__subclasses__()"))
    analysis = analyse(P2 + payload + pickle.STOP)
    found = [f for f in analysis.findings if f.rule_id == "PKL001"]
    assert [f.subject for f in found] == ["pandas.core.computation.expr.Expr"], analysis.findings
    assert found[0].behaviour is not None and "__subclasses__" in found[0].behaviour.description


@pytest.mark.parametrize(
    ("name", "safety"),
    [
        ("scipy.sparse._csr.csr_matrix", Safety.SAFE),
        ("pandas._libs.tslibs.timestamps._unpickle_timestamp", Safety.SAFE),
        ("pathlib.PosixPath", Safety.SAFE),
        # a single "*" stays within one dotted part: what an allowed module imports is not allowed with it
        ("joblib._store_backends.numpy_pickle.load", Safety.UNKNOWN),
        # ... nor is a method of an allowed store class (load_item unpickles a file: denied on its own)
        ("joblib._store_backends.FileSystemStoreBackend.load_item", Safety.DANGEROUS),
        ("joblib._store_backends.FileSystemStoreBackend.some_helper", Safety.UNKNOWN),
        ("datetime.sys.exit", Safety.UNKNOWN),
        ("transformers.trainer_utils.find_executable_batch_size", Safety.UNKNOWN),
    ],
)
def test_wildcards_stay_within_one_part(name: str, safety: Safety) -> None:
    assert load_policy().classify(name).safety is safety


@pytest.mark.parametrize(
    ("module", "name", "subject"),
    [
        ("scipy.sparse", "_base.np.load", "numpy.load"),
        ("pandas.core.arrays.base", "np.load", "numpy.load"),
        ("transformers.trainer_utils", "torch.load", "torch.load"),
    ],
)
def test_module_imported_under_another_name_is_followed(module: str, name: str, subject: str) -> None:
    """``scipy.sparse._base.np`` is numpy: an allowed prefix must not launder ``np.load`` into a safe name."""
    data = pickle.PROTO + b"\x04" + sg(module, name) + pickle.MARK + bu("x.npy") + pickle.TUPLE + pickle.REDUCE
    analysis = analyse(data + pickle.STOP)
    assert subject in {f.subject for f in analysis.findings if f.severity >= Severity.MEDIUM}, analysis.findings


def test_sklearn_parallel_runner_is_a_dangerous_call(tmp_path: Path) -> None:
    """``Parallel()([(os.system, (cmd,), {})])`` runs the job on load; sklearn classes are otherwise allowed."""
    pytest.importorskip("sklearn")
    marker = tmp_path / "MARKER"
    runner = call(g("sklearn.utils.parallel", "Parallel"))
    job = g("os", "system") + bu(f"touch {marker}") + pickle.TUPLE1 + pickle.EMPTY_DICT + pickle.TUPLE3
    data = P2 + call(runner, pickle.MARK + job + pickle.LIST) + pickle.STOP
    path = tmp_path / "parallel.pkl"
    path.write_bytes(data)
    loader = "import pickle, sys\npickle.loads(open(sys.argv[1], 'rb').read())\n"
    subprocess.run([sys.executable, "-c", loader, str(path)], capture_output=True, timeout=60, check=False)
    assert marker.exists(), "the real loader did not run the job"
    marker.unlink()
    result = _scan(path)
    assert not marker.exists()
    assert result.verdict is Verdict.MALICIOUS
    assert "sklearn.utils.parallel.Parallel" in {f.subject for f in result.findings if f.rule_id == "PKL001"}
