"""benchmarks/noise.py runs standalone and reports verdicts and severity counts per fixture."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_noise_benchmark_runs_standalone(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "noise.py"),
            "--family",
            "safetensors",
            "--family",
            "numpy",
            "--no-peers",
            "--json",
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads(proc.stdout)
    rows = {r["fixture"]: r for r in doc["rows"]}
    assert {"one tensor", "npy", "npz"} <= set(rows)
    safetensors = rows["one tensor"]
    assert safetensors["family"] == "safetensors" and not safetensors["malicious"]
    assert safetensors["verdict"] == "clean" and not safetensors["wrong"]
    assert set(safetensors["severity_counts"]) == {"critical", "high", "medium", "low", "info"}
    assert safetensors["peers"] == {
        "picklescan": "skipped",
        "modelscan": "skipped",
        "modelaudit": "skipped",
        "fickling": "skipped",
    }
    assert proc.returncode == (1 if any(r["wrong"] for r in doc["rows"]) else 0)
