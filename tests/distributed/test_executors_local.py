"""The executor interface without a cluster: serial and process-pool scans, lazy Dask import, Dask missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from dist_support import dying_scan, pid_scan, raising_scan, slow_pid_scan, summary
from typer.testing import CliRunner

from modelsieve import executors
from modelsieve.api import failed_result, scan, scan_file
from modelsieve.cli import EXIT_USAGE, app
from modelsieve.model import Verdict
from modelsieve.options import ScanOptions
from modelsieve.walk import FileTarget, expand


def _files(folder: Path) -> list[FileTarget]:
    files, _ = expand([str(folder)])
    return files


def test_cli_and_api_import_without_dask() -> None:
    code = (
        "import sys, modelsieve.cli, modelsieve.api, modelsieve.executors; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_choose_picks_the_executor_the_options_ask_for() -> None:
    assert isinstance(executors.choose(ScanOptions(jobs=1), 100), executors.SerialExecutor)
    assert isinstance(executors.choose(ScanOptions(jobs=4), 2), executors.SerialExecutor)
    assert executors.choose(ScanOptions(jobs=4), 100) == executors.AdaptiveExecutor(jobs=4)
    assert executors.choose(ScanOptions(jobs=3, cluster="local"), 1) == executors.DaskExecutor("local", jobs=3)


def test_pool_scan_equals_serial_scan(mixed_folder: Path) -> None:
    serial = scan(mixed_folder, ScanOptions(jobs=1))
    pooled = scan(mixed_folder, ScanOptions(jobs=2))
    assert summary(pooled.results) == summary(serial.results)


@pytest.mark.parametrize(
    "executor",
    [executors.SerialExecutor(), executors.PoolExecutor(jobs=2), executors.AdaptiveExecutor(jobs=2, worth=0.0)],
    ids=["serial", "pool", "adaptive"],
)
def test_scan_exception_is_inconclusive_for_that_file_only(mixed_folder: Path, executor: executors.Executor) -> None:
    files = _files(mixed_folder)
    seen: list[str] = []
    job = executors.Job(scan=raising_scan, fail=failed_result)
    results = list(executor.map(job, files, ScanOptions(), lambda r: seen.append(r.path)))
    assert [r.path for r in results] == [t.display for t in files]
    assert sorted(seen) == sorted(t.display for t in files)
    for target, result in zip(files, results, strict=True):
        if target.path.name == "evil_a.pkl":
            assert result.verdict is Verdict.INCONCLUSIVE
            assert [f.rule_id for f in result.findings] == ["GEN006"]
            assert "RuntimeError: simulated worker failure" in result.findings[0].message
        else:
            assert summary([result]) == summary([scan_file(target, ScanOptions())])


def test_pool_worker_death_costs_only_the_file_that_killed_it(mixed_folder: Path) -> None:
    files = _files(mixed_folder)
    job = executors.Job(scan=dying_scan, fail=failed_result)
    results = list(executors.PoolExecutor(jobs=2).map(job, files, ScanOptions()))
    assert [r.path for r in results] == [t.display for t in files]
    for target, result in zip(files, results, strict=True):
        if target.path.name == "config.pkl":
            assert result.verdict is Verdict.INCONCLUSIVE
            assert [f.rule_id for f in result.findings] == ["GEN006"]
            assert "worker process died" in result.findings[0].message
        else:
            assert summary([result]) == summary([scan_file(target, ScanOptions())])


def test_dask_missing_is_a_clear_error(mixed_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry makes `import dask.distributed` fail exactly as it does when the extra is not installed.
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(executors.ClusterError, match=r"pip install 'modelsieve\[distributed\]'"):
        scan(mixed_folder, ScanOptions(cluster="local"))
    result = CliRunner().invoke(app, ["scan", "--no-progress", "--cluster", "tcp://127.0.0.1:8786", str(mixed_folder)])
    assert result.exit_code == EXIT_USAGE
    assert "modelsieve[distributed]" in result.stderr
    assert "Traceback" not in result.output


def test_scan_help_documents_cluster() -> None:
    result = CliRunner().invoke(app, ["scan", "--help"], env={"COLUMNS": "200"})
    assert "--cluster" in result.output
    assert "shared filesystem" in result.output


def _pids(results: list) -> list[str]:  # type: ignore[type-arg]
    return [r.formats[0] for r in results]


def test_adaptive_scans_small_work_in_this_process(tmp_path: Path) -> None:
    import os

    for i in range(40):
        (tmp_path / f"f{i:02}.pkl").write_bytes(b"\x80\x02K\x01.")
    files = _files(tmp_path)
    job = executors.Job(scan=pid_scan, fail=failed_result)
    results = list(executors.AdaptiveExecutor(jobs=2).map(job, files, ScanOptions()))
    assert [r.path for r in results] == [t.display for t in files]
    assert set(_pids(results)) == {f"pid:{os.getpid()}"}


def test_adaptive_moves_big_work_to_worker_processes(tmp_path: Path) -> None:
    import os

    for i in range(40):
        (tmp_path / f"f{i:02}.pkl").write_bytes(b"\x80\x02K\x01.")
    files = _files(tmp_path)
    job = executors.Job(scan=slow_pid_scan, fail=failed_result)
    seen: list[str] = []
    # 20 ms a file: after the 8 timed files, 32 remain, an estimated 0.64 s, above 0.25 s.
    results = list(executors.AdaptiveExecutor(jobs=2).map(job, files, ScanOptions(), lambda r: seen.append(r.path)))
    assert [r.path for r in results] == [t.display for t in files]
    assert sorted(seen) == sorted(t.display for t in files)
    pids = _pids(results)
    here = f"pid:{os.getpid()}"
    assert pids[:8] == [here] * 8
    assert here not in pids[8:] and len(set(pids[8:])) >= 1
