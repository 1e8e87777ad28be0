"""Keras .h5 and .keras: real Keras 3 fixtures (torch backend), Lambda bytecode, config references."""

from __future__ import annotations

import base64
import json
import marshal
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Keras picks its backend at import time; the tests use the installed torch backend.
os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py
from kerasfix import KerasFixtures, build, edit_keras_config
from scanhelp import of_rule, rule_ids, scan_one

from modelsieve.codeinspect import inspect_marshalled
from modelsieve.limits import Limits
from modelsieve.model import BehaviourKind, Confidence, Severity, Verdict
from modelsieve.options import ScanOptions


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> KerasFixtures:
    return build(tmp_path_factory.mktemp("keras"))


# --- benign models made with Keras ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sequential_keras", "functional_keras", "sequential_h5", "functional_h5"])
def test_benign_keras_models_are_clean(fx: KerasFixtures, name: str) -> None:
    result = scan_one(getattr(fx, name))
    assert result.verdict is Verdict.CLEAN, result.findings
    assert result.findings == ()
    expected = "keras-v3" if name.endswith("_keras") else "keras-h5"
    assert expected in result.formats


def test_benign_lambda_h5_is_low_suspicious(fx: KerasFixtures) -> None:
    result = scan_one(fx.benign_lambda_h5)
    assert rule_ids(result) == {"KER003"}
    (f,) = of_rule(result, "KER003")
    assert f.severity is Severity.LOW
    assert f.location.detail == "layer: lambda_1"
    assert f.subject == "lambda_1"
    assert "BINARY_OP" in f.evidence
    assert result.verdict is Verdict.SUSPICIOUS


def test_benign_lambda_keras_v3_is_low_suspicious(fx: KerasFixtures) -> None:
    result = scan_one(fx.benign_lambda_keras)
    assert rule_ids(result) == {"KER003"}
    (f,) = of_rule(result, "KER003")
    assert f.location.members == ("config.json",)
    assert f.location.detail == "layer: lambda_1"


# --- CVE-2024-3660: Lambda bytecode ----------------------------------------------------------------------------


def test_cve_2024_3660_lambda_os_system_h5(fx: KerasFixtures) -> None:
    result = scan_one(fx.evil_lambda_h5)
    assert result.verdict is Verdict.MALICIOUS
    (f,) = of_rule(result, "KER001")
    assert f.subject == "os.system"
    assert f.location.detail == "layer: lambda_1"
    assert f.behaviour is not None and f.behaviour.kind is BehaviourKind.RUNS_COMMAND
    assert f.behaviour.description == f"runs shell command `touch {fx.marker}`"
    assert "KER003" not in rule_ids(result)


def test_cve_2024_3660_fixture_really_runs_on_load(fx: KerasFixtures) -> None:
    """Loading the scanned file with Keras (in a subprocess) touches the marker: the finding is real."""
    for path in (fx.evil_lambda_h5, fx.evil_nested_h5):
        fx.marker.unlink(missing_ok=True)
        code = "import sys, keras; keras.models.load_model(sys.argv[1], safe_mode=False)"
        env = {**os.environ, "KERAS_BACKEND": "torch"}
        subprocess.run([sys.executable, "-c", code, str(path)], env=env, capture_output=True, timeout=300, check=False)
        assert fx.marker.exists(), path
    fx.marker.unlink(missing_ok=True)


def test_cve_2024_3660_lambda_in_nested_model(fx: KerasFixtures) -> None:
    result = scan_one(fx.evil_nested_h5)
    (f,) = of_rule(result, "KER001")
    assert f.location.detail == "layer: inner_model/lambda_2"
    assert f.subject == "os.system"
    assert result.verdict is Verdict.MALICIOUS


def test_cve_2024_3660_lambda_inside_time_distributed(fx: KerasFixtures) -> None:
    result = scan_one(fx.evil_wrapped_h5)
    (f,) = of_rule(result, "KER001")
    assert f.location.detail == "layer: td/lambda_3"
    assert result.verdict is Verdict.MALICIOUS


def test_cve_2024_3660_lambda_keras_v3(fx: KerasFixtures) -> None:
    result = scan_one(fx.evil_lambda_keras)
    (f,) = of_rule(result, "KER001")
    assert f.location.members == ("config.json",)
    assert f.location.detail == "layer: lambda_1"
    assert result.verdict is Verdict.MALICIOUS


# --- CVE-2025-1550 and later safe-mode bypasses ------------------------------------------------------------------


def test_cve_2025_1550_module_os_function_system(fx: KerasFixtures) -> None:
    result = scan_one(fx.os_system_keras)
    (f,) = of_rule(result, "KER004")
    assert f.subject == "os.system"
    assert f.location.detail == "layer: hidden"
    assert f.behaviour is not None and f.behaviour.kind is BehaviourKind.RUNS_COMMAND
    assert result.verdict is Verdict.MALICIOUS


def test_cve_2025_8747_get_file_gadget(fx: KerasFixtures) -> None:
    result = scan_one(fx.get_file_keras)
    (f,) = of_rule(result, "KER006")
    assert f.subject == "keras.utils.get_file"
    assert f.behaviour is not None and f.behaviour.kind is BehaviourKind.NETWORK
    assert result.verdict is Verdict.MALICIOUS


def test_cve_2025_9906_enable_unsafe_deserialization(fx: KerasFixtures) -> None:
    result = scan_one(fx.unsafe_toggle_keras)
    (f,) = of_rule(result, "KER006")
    assert f.subject == "keras.config.enable_unsafe_deserialization"
    assert result.verdict is Verdict.MALICIOUS


def test_custom_module_is_needs_code_not_malicious(fx: KerasFixtures) -> None:
    result = scan_one(fx.custom_module_keras)
    assert rule_ids(result) == {"KER005"}
    (f,) = of_rule(result, "KER005")
    assert f.subject == "acme_layers.blocks.FancyDense"
    assert result.verdict is Verdict.SUSPICIOUS


def test_builtins_exec_reference(fx: KerasFixtures, tmp_path: Path) -> None:
    def edit(config: dict) -> None:  # type: ignore[type-arg]
        config["config"]["layers"][1]["config"]["activation"] = {
            "module": "builtins",
            "class_name": "function",
            "config": "exec",
            "registered_name": None,
        }

    path = tmp_path / "exec.keras"
    edit_keras_config(fx.functional_keras, path, edit)
    result = scan_one(path)
    assert [f.subject for f in of_rule(result, "KER004")] == ["builtins.exec"]


# --- Keras 2 style .h5 written with h5py -----------------------------------------------------------------------


def _keras2_h5(path: Path, layer_config: dict, *, userblock: int = 0) -> Path:  # type: ignore[type-arg]
    config = {
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [
                {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 3], "name": "input_1"}},
                {"class_name": "Lambda", "config": {"name": "lambda_7", "trainable": True, **layer_config}},
            ],
        },
    }
    kwargs = {"userblock_size": userblock} if userblock else {}
    with h5py.File(path, "w", **kwargs) as f:
        f.attrs["model_config"] = json.dumps(config).encode()
        f.attrs["keras_version"] = b"2.15.0"
        f.attrs["backend"] = b"tensorflow"
    return path


def _dump(source: str) -> str:
    code = compile(source, "<lambda>", "eval").co_consts[0]
    return base64.b64encode(marshal.dumps(code)).decode()


def test_keras2_lambda_list_form_subprocess_popen(tmp_path: Path) -> None:
    code = _dump("lambda x: __import__('subprocess').Popen(['id']) and x")
    path = _keras2_h5(tmp_path / "k2.h5", {"function": [code, None, None], "function_type": "lambda"})
    result = scan_one(path)
    (f,) = of_rule(result, "KER001")
    assert f.subject == "subprocess.Popen"
    assert f.location.detail == "layer: lambda_7"
    assert f.behaviour is not None and f.behaviour.description == "runs shell command `id`"


def test_keras2_named_function_from_os(tmp_path: Path) -> None:
    path = _keras2_h5(tmp_path / "k2f.h5", {"function": "system", "function_type": "function", "module": "os"})
    result = scan_one(path)
    assert [f.subject for f in of_rule(result, "KER004")] == ["os.system"]
    assert result.verdict is Verdict.MALICIOUS


def test_hdf5_with_userblock_is_found_by_content(tmp_path: Path) -> None:
    code = _dump("lambda x: eval('x')")
    path = _keras2_h5(
        tmp_path / "weights.bin", {"function": [code, None, None], "function_type": "lambda"}, userblock=1024
    )
    assert path.read_bytes()[:8] != b"\x89HDF\r\n\x1a\n"
    result = scan_one(path)
    assert "keras-h5" in result.formats
    assert [f.subject for f in of_rule(result, "KER001")] == ["builtins.eval"]


def test_lambda_bytecode_of_other_python_version_falls_back_to_names(tmp_path: Path) -> None:
    raw = marshal.dumps(compile("lambda x: __import__('os').system('id')", "<l>", "eval").co_consts[0])
    foreign = b"\xe3" + b"\xff" * 8 + raw[9:]  # header no interpreter accepts
    inspection = inspect_marshalled(foreign)
    assert not inspection.decoded and "raw bytes" in inspection.note
    path = _keras2_h5(
        tmp_path / "foreign.h5",
        {"function": [base64.b64encode(foreign).decode(), None, None], "function_type": "lambda"},
    )
    result = scan_one(path)
    (f,) = of_rule(result, "KER001")
    assert f.confidence is Confidence.MEDIUM
    assert f.subject == "os.system"
    assert "raw bytes" in f.message


def test_codeinspect_reports_imports_and_calls() -> None:
    def sample(x):  # type: ignore[no-untyped-def]
        import subprocess as sp
        from os import system

        sp.check_output(["uname", "-a"])
        system("whoami")
        return open("/tmp/out.txt", "w")

    result = inspect_marshalled(marshal.dumps(sample.__code__))
    assert result.decoded
    assert set(result.imports) >= {"subprocess", "os"}
    found = {d.call.callable: d.behaviour.description for d in result.dangerous}
    assert found["subprocess.check_output"] == "runs shell command `uname -a`"
    assert found["os.system"] == "runs shell command `whoami`"
    assert found["builtins.open"] == "writes file `/tmp/out.txt`"


def test_codeinspect_pyc_of_other_version_is_byte_scanned() -> None:
    import importlib.util

    from modelsieve.codeinspect import inspect_pyc

    body = marshal.dumps(compile("import os\nos.system('id')", "<m>", "exec"))
    here = inspect_pyc(importlib.util.MAGIC_NUMBER + b"\0" * 12 + body)
    assert here.decoded and here.dangerous[0].call.callable == "os.system"
    other = inspect_pyc(b"\x6f\x0d\x0d\x0a" + b"\0" * 12 + body)
    assert not other.decoded and "another Python version" in other.note
    assert {"os", "system"} <= set(other.names)


def test_codeinspect_decoder_crash_is_contained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A blob that kills the isolated decoder gives a byte-scan result, and later blobs still get decoded."""
    from modelsieve import _codeworker
    from modelsieve.codeinspect import inspect_many

    crasher = tmp_path / "crashing_worker.py"
    real = Path(_codeworker.__file__).read_text()
    crasher.write_text(
        real.replace(
            "def _one(raw: bytes) -> dict[str, object]:\n",
            "def _one(raw: bytes) -> dict[str, object]:\n    if b'CRASH' in raw:\n        import os; os.abort()\n",
        )
    )
    monkeypatch.setattr(_codeworker, "__file__", str(crasher))
    good = marshal.dumps(compile("lambda x: __import__('os').system('id')", "<l>", "eval").co_consts[0])
    bad = marshal.dumps(compile("lambda x: 'CRASH'", "<l>", "eval").co_consts[0])
    first, crashed, last = inspect_many([good, bad, good])
    assert first.decoded and last.decoded
    assert not crashed.decoded and "crashed the isolated decoder" in crashed.note


def test_codeinspect_survives_mutated_marshal() -> None:
    import random

    from modelsieve.codeinspect import inspect_many

    def sample(x):  # type: ignore[no-untyped-def]
        import os

        table = {1: 2.5, "a": (1j, None, ...), 3: frozenset({1}), 4: 10**40, 6: [b"x"]}
        return [lambda y, i=i: y + i for i in range(3)], table, os.system("x")

    raw = marshal.dumps(sample.__code__)
    rng = random.Random(11)
    blobs = []
    for _ in range(400):
        mutated = bytearray(raw)
        for _ in range(rng.randint(1, 5)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        blobs.append(bytes(mutated))
    results = inspect_many(blobs)
    assert len(results) == 400
    assert any(r.decoded for r in results) and any(not r.decoded for r in results)
    bomb = b"\xe3" + b"\x00" * 20 + b"(" + (2**31 - 1).to_bytes(4, "little")
    assert not inspect_many([bomb])[0].decoded


def test_codeinspect_tensor_lambda_has_no_dangerous_calls() -> None:
    result = inspect_marshalled(marshal.dumps((lambda x: x.mean(axis=-1) * 2).__code__))
    assert result.decoded and result.dangerous == () and result.dangerous_references == ()


# --- hostile HDF5 --------------------------------------------------------------------------------------------------


def test_truncated_hdf5_is_inconclusive(fx: KerasFixtures, tmp_path: Path) -> None:
    data = fx.functional_h5.read_bytes()
    path = tmp_path / "cut.h5"
    path.write_bytes(data[: len(data) // 3])
    result = scan_one(path)
    assert "GEN001" in rule_ids(result)
    assert result.verdict is Verdict.INCONCLUSIVE


def test_hdf5_library_crash_is_contained(fx: KerasFixtures, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """h5py runs in a child process: a segfault there (seen while fuzzing) is GEN001, not a dead scanner."""
    from modelsieve import _h5worker

    crasher = tmp_path / "crashing_h5worker.py"
    crasher.write_text("import ctypes\nctypes.string_at(0)\n")
    monkeypatch.setattr(_h5worker, "__file__", str(crasher))
    result = scan_one(fx.evil_lambda_h5)
    (f,) = of_rule(result, "GEN001")
    assert "crashed" in f.message and "signal 11" in f.message
    assert result.verdict is Verdict.INCONCLUSIVE


def test_model_config_not_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = b"{not json"
    result = scan_one(path)
    (f,) = of_rule(result, "GEN001")
    assert f.location.detail == "attribute: model_config"
    assert result.verdict is Verdict.INCONCLUSIVE


def test_model_config_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"pad": "x" * 300_000}}).encode()
    result = scan_one(path, ScanOptions(jobs=1, limits=Limits(max_header_bytes=100_000)))
    assert "GEN002" in rule_ids(result)
    assert result.verdict is Verdict.INCONCLUSIVE


def test_model_config_nested_too_deep(tmp_path: Path) -> None:
    path = tmp_path / "deep.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = ("[" * 100_000 + "]" * 100_000).encode()
    result = scan_one(path)
    assert rule_ids(result) & {"GEN001", "GEN002"}
    assert result.verdict is Verdict.INCONCLUSIVE


def test_lambda_code_not_base64_is_inconclusive(tmp_path: Path) -> None:
    path = _keras2_h5(tmp_path / "junk.h5", {"function": ["!!!not code!!!", None, None], "function_type": "lambda"})
    result = scan_one(path)
    assert "GEN001" in rule_ids(result)
    assert result.verdict is not Verdict.CLEAN


def test_keras_v3_config_not_json(fx: KerasFixtures, tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "broken.keras"
    with zipfile.ZipFile(fx.functional_keras) as zin, zipfile.ZipFile(path, "w") as zout:
        for item in zin.infolist():
            data = b"{oops" if item.filename == "config.json" else zin.read(item.filename)
            zout.writestr(item, data)
    result = scan_one(path)
    assert "keras-v3" in result.formats
    (f,) = of_rule(result, "GEN001")
    assert f.location.members == ("config.json",)


def test_keras_v3_config_over_the_bound(fx: KerasFixtures) -> None:
    result = scan_one(fx.functional_keras, ScanOptions(jobs=1, limits=Limits(max_header_bytes=200)))
    # The shared zip reader reports the bounded member as an expansion limit (ARC003); the config is not analysed.
    (f,) = of_rule(result, "ARC003")
    assert f.location.detail == "config.json"
    assert result.verdict is not Verdict.CLEAN


@pytest.mark.parametrize("name", ["evil_lambda_h5", "evil_lambda_keras"])
def test_mutated_files_never_crash_the_analyser(fx: KerasFixtures, tmp_path: Path, name: str) -> None:
    import random

    rng = random.Random(7)
    data = getattr(fx, name).read_bytes()
    for i in range(16):
        mutated = bytearray(data)
        if i % 2:
            mutated = mutated[: rng.randrange(len(mutated))]
        else:
            for _ in range(rng.randint(1, 16)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        path = tmp_path / f"m{i}"
        path.write_bytes(bytes(mutated))
        result = scan_one(path)
        assert "GEN006" not in rule_ids(result), [f.message for f in result.findings]
