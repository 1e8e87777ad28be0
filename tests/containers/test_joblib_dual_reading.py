"""joblib dumps are read both as joblib.load reads them and as pickle.load would.

joblib.load skips the alignment padding and raw array bytes spliced in after each
NumpyArrayWrapper; pickle.load runs them as opcodes. A payload hidden there is
invisible to a joblib-only reading, and a dump whose first array lies past the
sniffed head must still be read the joblib way (not reported as broken).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np

import modelsieve
from modelsieve.model import Verdict


def _padding_payload_dump(path: Path, marker: Path) -> None:
    """A protocol-2 joblib dump whose alignment padding is a pickle that runs os.system."""
    base = path.with_suffix(".base")
    joblib.dump([np.arange(4, dtype=np.uint8)], base, protocol=2)
    data = base.read_bytes()
    start = data.index(b"ub", data.index(b"numpy_array_alignment_bytes")) + 2
    old_len = data[start]
    payload = b"cos\nsystem\n(Vtouch " + marker.name.encode() + b"\ntR."
    # joblib reads one length byte, skips that many padding bytes, then the array; 0x7d is
    # also the EMPTY_DICT opcode, so pickle.load goes on into the padding and runs the payload.
    pad = payload.ljust(0x7D, b"\x00")
    path.write_bytes(data[:start] + bytes([len(pad)]) + pad + data[start + 1 + old_len :])


def _load_in_subprocess(code: str, marker: Path) -> bool:
    marker.unlink(missing_ok=True)
    subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, check=False, cwd=marker.parent)
    return marker.exists()


def test_payload_only_pickle_load_runs_is_found(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    path = tmp_path / "model.joblib"
    _padding_payload_dump(path, marker)
    assert not _load_in_subprocess(f"import joblib; joblib.load({str(path)!r})", marker)
    assert _load_in_subprocess(f"import pickle; pickle.load(open({str(path)!r}, 'rb'))", marker)
    marker.unlink(missing_ok=True)

    (result,) = modelsieve.scan(path).results
    assert result.verdict is Verdict.MALICIOUS
    assert "joblib" in result.formats
    hits = [f for f in result.findings if f.rule_id == "PKL001"]
    assert hits and hits[0].subject == "os.system"
    assert hits[0].location.offset is not None
    assert not marker.exists()


def test_dump_whose_first_array_is_past_the_head_is_read_as_joblib(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    joblib.dump({"notes": "x" * 20_000, "w": np.linspace(0.0, 1.0, 5000)}, path)
    assert b"NumpyArrayWrapper" not in path.read_bytes()[:4096]

    (result,) = modelsieve.scan(path).results
    assert result.verdict is Verdict.CLEAN, [(f.rule_id, f.message) for f in result.findings]
    assert "joblib" in result.formats


def test_payload_after_a_late_array_is_found(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    path = tmp_path / "weights.bin"

    class Touch:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            import os

            return (os.system, (f"touch {marker.name}",))

    joblib.dump({"notes": "x" * 20_000, "w": np.linspace(0.0, 1.0, 5000), "z": Touch()}, path)
    assert _load_in_subprocess(f"import joblib; joblib.load({str(path)!r})", marker)
    marker.unlink(missing_ok=True)

    (result,) = modelsieve.scan(path).results
    assert result.verdict is Verdict.MALICIOUS
    # pickle writes os.system under its platform module name (posix.system on Linux).
    assert any(f.rule_id == "PKL001" and f.subject in ("os.system", "posix.system") for f in result.findings)
