"""Proof that every fixture of the catalogue is a real attack.

Each fixture is loaded by the real loader in a SUBPROCESS (never in the test process), with a
harmless payload whose only effect is to create a marker file in ``tmp_path``. If the marker
appears, the technique works against the real loader, so a scanner that misses it misses a real
attack. Fixtures that cannot be proven harmlessly say why in their ``no_proof`` and are skipped.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.pickle_exploits import BY_NAME, EXPLOITS, Exploit

# Loads the file the way the named loader does and reports what happened; the test reads the marker.
_DRIVER = r"""
import io, pickle, sys
path, mode = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
try:
    if mode == "pickle":
        pickle.loads(data)
    elif mode == "pure-python-pickle":
        pickle._loads(data)
    elif mode == "dill":
        import dill
        dill.loads(data)
    elif mode == "pickle-stream":
        stream = io.BytesIO(data)
        while stream.tell() < len(data):
            pickle.load(stream)
    elif mode == "torch":
        import torch
        torch.load(path, weights_only=False)
    else:
        raise SystemExit("unknown mode " + mode)
except Exception as exc:
    print("LOADER-RAISED", type(exc).__name__, exc)
else:
    print("LOADER-RETURNED")
"""

PROVABLE = [e for e in EXPLOITS if e.loader != "none"]
UNPROVABLE = [e for e in EXPLOITS if e.loader == "none"]


def _env(home: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        # webbrowser honours $BROWSER: the "browser" is `touch URL`, and the URL is the marker path.
        "BROWSER": "touch %s",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
    }


def load_in_subprocess(exploit: Exploit, tmp_path: Path, mode: str | None = None) -> tuple[Path, str]:
    """Write the fixture, load it in a child interpreter, return (marker, child output)."""
    marker = tmp_path / "MARKER"
    path = tmp_path / exploit.file_name
    path.write_bytes(exploit.build(str(marker)))
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(path), mode or exploit.loader],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return marker, proc.stdout + proc.stderr


def _skip_if_missing(exploit: Exploit) -> None:
    if exploit.needs and importlib.util.find_spec(exploit.needs) is None:
        pytest.skip(f"{exploit.needs} is not installed")
    if exploit.loader == "torch" and importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")


@pytest.mark.parametrize("exploit", PROVABLE, ids=[e.test_id for e in PROVABLE])
def test_real_loader_runs_payload(exploit: Exploit, tmp_path: Path) -> None:
    _skip_if_missing(exploit)
    marker, output = load_in_subprocess(exploit, tmp_path)
    assert marker.exists(), f"{exploit.name}: the real {exploit.loader} loader did not run the payload:\n{output}"
    if exploit.raises:
        assert "LOADER-RAISED" in output, f"{exploit.name} should make the loader fail after the payload:\n{output}"


@pytest.mark.parametrize("exploit", UNPROVABLE, ids=[e.test_id for e in UNPROVABLE])
def test_unprovable_fixture_says_why(exploit: Exploit, tmp_path: Path) -> None:
    """Fixtures without a proof still build, and their reason for having none is recorded."""
    assert exploit.no_proof, f"{exploit.name} has no loader proof and no reason for it"
    data = exploit.build(str(tmp_path / "MARKER"))
    assert data[:1] in (b"\x80", b"c", b"(") and len(data) > 4
    pytest.skip(f"no execution proof: {exploit.no_proof}")


def test_nullifai_loader_fails_only_after_payload(tmp_path: Path) -> None:
    """The broken stream is rejected by pickle.loads, yet the call before the break already happened."""
    marker, output = load_in_subprocess(BY_NAME["nullifai_broken_after_payload"], tmp_path)
    assert "LOADER-RAISED" in output
    assert marker.exists()


def test_frame_divergence_c_unpickler_runs_what_frame_reader_rejects(tmp_path: Path) -> None:
    """CPython's C unpickler ignores FRAME boundaries; the frame-respecting pure-Python unpickler stops at the
    boundary before any call. Different readers see different opcodes, and only the C one is what users run."""
    exploit = BY_NAME["frame_divergence"]
    python_dir = tmp_path / "python"
    python_dir.mkdir()
    marker, output = load_in_subprocess(exploit, python_dir, mode="pure-python-pickle")
    assert not marker.exists()
    assert "frame" in output.lower(), output
    c_dir = tmp_path / "c"
    c_dir.mkdir()
    marker, output = load_in_subprocess(exploit, c_dir, mode="pickle")
    assert marker.exists(), output


def test_stacked_pickle_first_load_is_benign(tmp_path: Path) -> None:
    """A single pickle.loads only reads the decoy; a loader that reads every pickle (legacy torch) runs the
    second one. Scanners must analyse every pickle in the stream."""
    exploit = BY_NAME["stacked_second_pickle"]
    first = tmp_path / "first"
    first.mkdir()
    marker, output = load_in_subprocess(exploit, first, mode="pickle")
    assert not marker.exists(), output
    every = tmp_path / "every"
    every.mkdir()
    marker, output = load_in_subprocess(exploit, every, mode="pickle-stream")
    assert marker.exists(), output


def test_stack_global_bytes_operands_are_refused_by_cpython(tmp_path: Path) -> None:
    """Documents why this anomaly fixture has no proof: CPython refuses it before any call."""
    marker, output = load_in_subprocess(BY_NAME["stack_global_short_binbytes_memo"], tmp_path, mode="pickle")
    assert "STACK_GLOBAL requires str" in output
    assert not marker.exists()


@pytest.mark.skipif(importlib.util.find_spec("dill") is None, reason="dill is not installed")
@pytest.mark.parametrize("name", ["os_system_proto2", "stack_global_memo_operands", "nested_base64", "copyreg_ext1"])
def test_dill_loads_runs_payload_too(name: str, tmp_path: Path) -> None:
    """dill.loads is pickle underneath: every technique applies to .pkl files written by dill."""
    marker, output = load_in_subprocess(BY_NAME[name], tmp_path, mode="dill")
    assert marker.exists(), output


def test_proof_environment_cannot_reach_a_real_browser() -> None:
    """The webbrowser proof must not open anything: $BROWSER is replaced by `touch`."""
    env = _env(Path("/nonexistent"))
    assert env["BROWSER"].startswith("touch ")
    assert "DISPLAY" not in env and "WAYLAND_DISPLAY" not in env
    assert os.pathsep not in env["BROWSER"]


def test_catalogue_is_consistent(tmp_path: Path) -> None:
    """Names are unique, every expectation names a real rule, and every fixture without a proof says why."""
    from modelsieve.rules.catalog import get

    assert len({e.name for e in EXPLOITS}) == len(EXPLOITS)
    for e in EXPLOITS:
        assert e.loader in ("pickle", "pickle-stream", "torch", "none"), e.name
        assert (e.loader == "none") == bool(e.no_proof), e.name
        for rule_id in (e.rule_id, *(r for r, _ in e.extra)):
            assert get(rule_id).id == rule_id
        assert e.callable or e.rule_id != "PKL001", f"{e.name}: a PKL001 expectation must name the callable"
        marker = str(tmp_path / "MARKER")
        assert e.build(marker) == e.build(marker), f"{e.name}: builder is not deterministic"
