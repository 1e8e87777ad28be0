"""Scanning on a Dask cluster gives the same results as scanning here, and a failing worker costs one file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dist_support
import pytest
from dist_support import MALICIOUS, raising_scan, slow_first_scan, slow_scan, summary

from modelsieve import executors
from modelsieve.api import failed_result, scan, scan_file
from modelsieve.model import Status, Verdict
from modelsieve.options import ScanOptions
from modelsieve.walk import FileTarget, expand

pytest.importorskip("dask.distributed")


def _files(folder: Path) -> list[FileTarget]:
    files, _ = expand([str(folder)])
    return files


def _check_mixed(results: Any) -> None:
    by_name = {Path(r.path).relative_to(r.path.split("mixed")[0]).as_posix().split("/", 1)[1]: r for r in results}
    for name in MALICIOUS:
        result = by_name[name]
        assert result.verdict is Verdict.MALICIOUS, name
        assert [(f.rule_id, f.subject) for f in result.findings] == [("PKL001", "os.system")], name
    assert by_name["benign_p0.pkl"].verdict is Verdict.CLEAN
    assert by_name["nested/config.pkl"].verdict is Verdict.CLEAN
    assert by_name["nested/truncated.pkl"].verdict is Verdict.INCONCLUSIVE
    assert by_name["empty.pkl"].verdict is not Verdict.CLEAN


def test_cluster_scan_equals_serial_scan(mixed_folder: Path, dask_cluster: Any) -> None:
    serial = scan(mixed_folder, ScanOptions(jobs=1))
    remote = scan(mixed_folder, ScanOptions(cluster=dask_cluster.scheduler_address))
    _check_mixed(serial.results)
    assert summary(remote.results) == summary(serial.results)
    assert remote.summary == serial.summary
    assert [r.path for r in remote.results] == [t.display for t in _files(mixed_folder)]


def test_relative_paths_are_sent_as_absolute_but_reported_as_given(
    mixed_folder: Path, dask_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(mixed_folder.parent)
    relative = mixed_folder.name
    serial = scan(relative, ScanOptions(jobs=1))
    remote = scan(relative, ScanOptions(cluster=dask_cluster.scheduler_address))
    assert all(not Path(r.path).is_absolute() for r in remote.results)
    assert summary(remote.results) == summary(serial.results)


def test_worker_exception_is_inconclusive_for_that_file_only(mixed_folder: Path, dask_cluster: Any) -> None:
    files = _files(mixed_folder)
    options = ScanOptions()
    job = executors.Job(scan=raising_scan, fail=failed_result)
    results = list(executors.DaskExecutor(dask_cluster.scheduler_address).map(job, files, options))
    expected = [scan_file(t, options) for t in files]
    assert len(results) == len(files)
    for target, got, want in zip(files, results, expected, strict=True):
        if target.path.name == "evil_a.pkl":
            assert got.verdict is Verdict.INCONCLUSIVE
            assert got.status is not Status.NO_FINDINGS
            assert [f.rule_id for f in got.findings] == ["GEN006"]
            assert "RuntimeError: simulated worker failure" in got.findings[0].message
            assert got.path == target.display
        else:
            assert summary([got]) == summary([want])


def test_worker_process_death_is_inconclusive_for_that_file_only(mixed_folder: Path, dask_cluster: Any) -> None:
    files = _files(mixed_folder)
    options = ScanOptions()
    job = executors.Job(scan=dist_support.dying_scan, fail=failed_result)
    results = list(executors.DaskExecutor(dask_cluster.scheduler_address).map(job, files, options))
    assert [r.path for r in results] == [t.display for t in files]
    dead = [r for r in results if r.path.endswith("config.pkl")]
    assert len(dead) == 1
    assert dead[0].verdict is Verdict.INCONCLUSIVE
    assert [f.rule_id for f in dead[0].findings] == ["GEN006"]
    assert "KilledWorker" in dead[0].findings[0].message
    others = [(t, r) for t, r in zip(files, results, strict=True) if t.path.name != "config.pkl"]
    assert summary([r for _, r in others]) == summary([scan_file(t, options) for t, _ in others])
    dask_cluster.wait_for_workers(2, timeout=30)


def test_bounded_window_streams_out_of_order_but_yields_in_input_order(
    mixed_folder: Path, dask_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dask.distributed

    files = _files(mixed_folder)
    window = 3
    submitted: list[int] = []
    progressed: list[str] = []
    in_flight: list[int] = []
    submit = dask.distributed.Client.submit

    def counting_submit(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if fn is executors.remote_scan:
            submitted.append(1)
        return submit(self, fn, *args, **kwargs)

    def progress(result: Any) -> None:
        progressed.append(result.path)
        in_flight.append(len(submitted) - len(progressed) + 1)

    monkeypatch.setattr(dask.distributed.Client, "submit", counting_submit)
    job = executors.Job(scan=slow_first_scan, fail=failed_result)
    executor = executors.DaskExecutor(dask_cluster.scheduler_address, window=window)
    results = list(executor.map(job, files, ScanOptions(), progress))
    assert len(submitted) == len(files)
    assert max(in_flight) <= window
    assert [r.path for r in results] == [t.display for t in files]
    assert sorted(progressed) == sorted(t.display for t in files)
    assert progressed[0] != files[0].display  # the slow first file really finished later


def test_file_missing_on_worker_says_shared_filesystem(tmp_path: Path, dask_cluster: Any) -> None:
    gone = FileTarget(tmp_path / "only-on-the-client.pkl", "only-on-the-client.pkl", "only-on-the-client.pkl", True)
    job = executors.Job(scan=scan_file, fail=failed_result)
    (result,) = executors.DaskExecutor(dask_cluster.scheduler_address).map(job, [gone], ScanOptions())
    assert result.verdict is Verdict.INCONCLUSIVE
    assert [f.rule_id for f in result.findings] == ["GEN005"]
    assert "shared filesystem" in result.findings[0].message


def test_unreachable_scheduler_is_a_clear_error(mixed_folder: Path) -> None:
    executor = executors.DaskExecutor("tcp://127.0.0.1:9", connect_timeout=1)
    job = executors.Job(scan=scan_file, fail=failed_result)
    with pytest.raises(executors.ClusterError, match=r"cannot reach the Dask scheduler at 'tcp://127\.0\.0\.1:9'"):
        list(executor.map(job, _files(mixed_folder), ScanOptions()))


def test_scheduler_without_workers_is_a_clear_error(mixed_folder: Path) -> None:
    import dask.distributed

    with dask.distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty:
        executor = executors.DaskExecutor(empty.scheduler_address, connect_timeout=0.5)
        job = executors.Job(scan=scan_file, fail=failed_result)
        with pytest.raises(executors.ClusterError, match="no Dask worker joined"):
            list(executor.map(job, _files(mixed_folder), ScanOptions()))


def test_workers_with_another_modelsieve_version_are_refused() -> None:
    class SkewedClient:
        def wait_for_workers(self, n: int, timeout: float) -> None:
            return None

        def run(self, fn: Any) -> dict[str, str]:
            return {"tcp://w1:1": fn(), "tcp://w2:1": "0.0.0-old"}

    with pytest.raises(executors.ClusterError, match=r"another modelsieve version.*tcp://w2:1: 0\.0\.0-old"):
        executors._check_workers(SkewedClient(), 1, "tcp://sched:8786")


def test_scheduler_that_cannot_unpickle_tasks_is_refused_before_scanning() -> None:
    class Failed:
        def result(self, timeout: float) -> str:
            raise RuntimeError("Error during deserialization of the task graph.")

    class NoModelsieveScheduler:
        def wait_for_workers(self, n: int, timeout: float) -> None:
            return None

        def run(self, fn: Any) -> dict[str, str]:
            return {"tcp://w1:1": fn()}

        def submit(self, fn: Any, pure: bool) -> Failed:
            return Failed()

    with pytest.raises(executors.ClusterError, match=r"cannot run modelsieve tasks.*deserialization"):
        executors._check_workers(NoModelsieveScheduler(), 1, "tcp://sched:8786")


def test_cli_cluster_local_matches_serial_json(mixed_folder: Path) -> None:
    """`scan --cluster local` end to end in a fresh process: a real LocalCluster of two worker processes."""
    command = [sys.executable, "-c", "from modelsieve.cli import run; run()", "scan", "-f", "json", "--no-progress"]
    env = {**os.environ, "MODELSIEVE_DB": ""}
    local = subprocess.run(
        [*command, "--cluster", "local", "-j", "2", str(mixed_folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    serial = subprocess.run(
        [*command, "-j", "1", str(mixed_folder)], capture_output=True, text=True, env=env, timeout=60
    )
    assert local.returncode == serial.returncode == 1, local.stderr

    def files(text: str) -> list[tuple[object, ...]]:
        report = json.loads(text)
        return [
            (f["path"], f["verdict"], [(x["rule_id"], x.get("subject")) for x in f["findings"]])
            for f in report["files"]
        ]

    assert files(local.stdout) == files(serial.stdout)
    assert any(rules == [("PKL001", "os.system")] for _, _, rules in files(local.stdout))


def _wait_for(path: Path, proc: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() or not path.read_text().strip():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"dask scheduler did not start (exit {proc.poll()})")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_scheduler_and_worker_as_separate_processes(mixed_folder: Path, tmp_path: Path) -> None:
    """The deployment shape: `dask scheduler` and `dask worker` processes on 127.0.0.1, found by address."""
    scheduler_file = tmp_path / "scheduler.json"
    quiet = subprocess.DEVNULL
    # Tasks name the test scan functions of dist_support by reference: scheduler and worker must import it too.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(dist_support.__file__).parent), *sys.path])}
    command = ["--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)]
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", *command], stdout=quiet, stderr=quiet, env=env
    )
    worker = None
    try:
        _wait_for(scheduler_file, scheduler, 30)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        command = ["--nworkers", "1", "--nthreads", "1", "--no-dashboard", "--no-nanny", "--host", "127.0.0.1"]
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, *command],
            stdout=quiet,
            stderr=quiet,
            env=env,
        )
        remote = scan(mixed_folder, ScanOptions(cluster=address))
        serial = scan(mixed_folder, ScanOptions(jobs=1))
        assert summary(remote.results) == summary(serial.results)
        _check_mixed(remote.results)

        # Then the scheduler disappears mid-scan: the files not yet scanned are inconclusive, nothing hangs.
        files = _files(mixed_folder)
        done: list[str] = []

        def kill_scheduler_after_three(result: Any) -> None:
            done.append(result.path)
            if len(done) == 3:
                scheduler.kill()

        job = executors.Job(scan=slow_scan, fail=failed_result)
        started = time.monotonic()
        results = list(executors.DaskExecutor(address).map(job, files, ScanOptions(), kill_scheduler_after_three))
        assert time.monotonic() - started < 20
        assert [r.path for r in results] == [t.display for t in files]
        lost = [r for r in results if r.findings and r.findings[0].rule_id == "GEN006"]
        assert len(lost) >= len(files) - 4
        for result in lost:
            assert result.verdict is Verdict.INCONCLUSIVE
            assert "connection to the Dask scheduler was lost" in result.findings[0].message
        assert summary([r for r in results if r not in lost]) == summary(
            [scan_file(t, ScanOptions()) for t, r in zip(files, results, strict=True) if r not in lost]
        )
    finally:
        if worker is not None:
            _stop(worker)
        _stop(scheduler)
