"""joblib dumps (raw arrays between pickle parts, compressed variants) and NumPy .npy/.npz object arrays."""

from __future__ import annotations

import pickletools
from pathlib import Path

import numpy as np
import pytest
from ct_payloads import TouchMarker, pickled_as_os_system, prove_many
from ct_scan import assert_clean, assert_runs_os_system, describe, of_rule, scan_one

from modelsieve.model import Effect, Severity

COMPRESSIONS: dict[str, object] = {
    "raw": 0,
    "zlib-3": 3,
    "lzma": ("lzma", 3),
    "gzip": ("gzip", 3),
    "bz2": ("bz2", 3),
    "xz": ("xz", 3),
    "lz4": ("lz4", 3),
}


@pytest.fixture(scope="session")
def joblib_cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, bool]]:
    """joblib dumps with the payload AFTER a numpy array, in every compression joblib offers."""
    import joblib

    cases: dict[str, tuple[str, Path]] = {}
    paths: dict[str, Path] = {}
    for name, compress in COMPRESSIONS.items():
        folder = tmp_path_factory.mktemp(f"joblib-{name}")
        marker = folder / "MARKER"
        path = folder / "model.joblib"
        with pickled_as_os_system():
            joblib.dump([np.arange(2000, dtype=np.float64), TouchMarker(marker)], path, compress=compress)
        paths[name] = path
        cases[name] = (f"import joblib; joblib.load({str(path)!r})", marker)
    proven = prove_many(cases)
    return {k: (paths[k], proven[k]) for k in paths}


def test_genops_walker_dies_at_the_array(joblib_cases: dict[str, tuple[Path, bool]]) -> None:
    """The GHSA trick is real: a plain opcode walker never reaches the payload after the array."""
    data = joblib_cases["raw"][0].read_bytes()
    with pytest.raises(ValueError):
        list(pickletools.genops(data))


@pytest.mark.parametrize("compression", list(COMPRESSIONS))
def test_joblib_payload_after_array(compression: str, joblib_cases: dict[str, tuple[Path, bool]]) -> None:
    path, joblib_ran_it = joblib_cases[compression]
    assert joblib_ran_it, "joblib.load no longer runs the payload"
    result = scan_one(path)
    members = () if compression == "raw" else ("model.joblib!",)
    assert_runs_os_system(result, members)
    assert "joblib" in result.formats, describe(result)


@pytest.fixture(scope="session")
def numpy_cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, bool]]:
    folder = tmp_path_factory.mktemp("numpy")
    marker = folder / "MARKER"
    arr = np.empty(3, dtype=object)
    with pickled_as_os_system():
        arr[0] = TouchMarker(marker)
        arr[1] = "text"
        arr[2] = 7
        npy = folder / "weights.npy"
        np.save(npy, arr, allow_pickle=True)
        npz = folder / "weights.npz"
        np.savez(npz, plain=np.arange(4.0), objects=arr)
        npz_deflated = folder / "weights_c.npz"
        np.savez_compressed(npz_deflated, plain=np.arange(4.0), objects=arr)
    cases = {
        "npy": (f"import numpy as np; np.load({str(npy)!r}, allow_pickle=True)", marker),
        "npz": (f"import numpy as np; np.load({str(npz)!r}, allow_pickle=True)['objects']", marker),
        "npz-deflated": (f"import numpy as np; np.load({str(npz_deflated)!r}, allow_pickle=True)['objects']", marker),
    }
    proven = {k: prove_many({k: v})[k] for k, v in cases.items()}
    return {
        "npy": (npy, proven["npy"]),
        "npz": (npz, proven["npz"]),
        "npz-deflated": (npz_deflated, proven["npz-deflated"]),
    }


def test_npy_object_array_payload(numpy_cases: dict[str, tuple[Path, bool]]) -> None:
    path, ran = numpy_cases["npy"]
    assert ran
    result = scan_one(path)
    assert_runs_os_system(result, ())
    npy = of_rule(result, "NPY001")
    assert npy and npy[0].severity is Severity.MEDIUM, describe(result)


@pytest.mark.parametrize("case", ["npz", "npz-deflated"])
def test_npz_containing_object_array_payload(case: str, numpy_cases: dict[str, tuple[Path, bool]]) -> None:
    path, ran = numpy_cases[case]
    assert ran
    result = scan_one(path)
    assert_runs_os_system(result, ("objects.npy",))
    assert "npz" in result.formats


def test_plain_arrays_are_clean_and_data_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "big.npy"
    np.save(path, np.zeros((256, 256), dtype=np.float32))
    result = scan_one(path)
    assert result.findings == (), describe(result)
    assert_clean(result)
    npz = tmp_path / "arrays.npz"
    np.savez_compressed(npz, a=np.arange(10), b=np.ones((3, 3), dtype=np.float16))
    assert_clean(scan_one(npz))


def test_object_array_of_plain_data_is_info_only(tmp_path: Path) -> None:
    path = tmp_path / "strings.npy"
    np.save(path, np.array(["a", 1, 2.5, None, ("t", 1)], dtype=object), allow_pickle=True)
    result = scan_one(path)
    npy = of_rule(result, "NPY001")
    assert npy and npy[0].severity is Severity.INFO and npy[0].effect is Effect.NONE, describe(result)
    assert_clean(result)


def test_structured_dtype_with_object_field_is_analysed(tmp_path: Path) -> None:
    path = tmp_path / "records.npy"
    np.save(path, np.array([(1, "x")], dtype=[("id", "<i4"), ("obj", "O")]), allow_pickle=True)
    result = scan_one(path)
    assert of_rule(result, "NPY001"), describe(result)


@pytest.mark.parametrize("cut", [8, 40, 100])
def test_truncated_npy_is_a_parse_error(cut: int, tmp_path: Path) -> None:
    full = tmp_path / "full.npy"
    np.save(full, np.arange(100, dtype=np.float64))
    path = tmp_path / "cut.npy"
    path.write_bytes(full.read_bytes()[:cut])
    result = scan_one(path)
    assert of_rule(result, "GEN001"), describe(result)


def test_joblib_object_array_nested_pickle(tmp_path: Path) -> None:
    """An object-dtype array in a joblib dump is itself a pickle spliced into the stream, between raw arrays."""
    import joblib

    marker = tmp_path / "MARKER"
    objects = np.empty(2, dtype=object)
    with pickled_as_os_system():
        objects[0] = TouchMarker(marker)
        objects[1] = 3
        path = tmp_path / "estimator.pkl"
        joblib.dump({"coef": np.arange(10.0), "objs": objects, "bias": np.ones(3)}, path)
    assert prove_many({"j": (f"import joblib; joblib.load({str(path)!r})", marker)})["j"]
    result = scan_one(path)
    assert_runs_os_system(result, ())
