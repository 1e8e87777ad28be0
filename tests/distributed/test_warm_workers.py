"""Warm workers (modelsieve.warm): a leader forked at start-up forks the others once the scanner is imported; they
share one queue, and a file is never lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from dist_support import (
    PARENT_PID,
    dies_outside_parent_scan,
    prints_outside_parent_scan,
    slow_pid_scan,
    summary,
)

from modelsieve import executors, warm
from modelsieve.api import failed_result, scan, scan_file
from modelsieve.model import Verdict
from modelsieve.options import ScanOptions
from modelsieve.walk import expand

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="warm workers need fork")


def _files(folder: Path):  # type: ignore[no-untyped-def]
    files, _ = expand([str(folder)])
    return files


def _reaped(workers: warm.WarmWorkers) -> bool:
    try:
        os.waitpid(workers.leader, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def _group_alive(pgid: int) -> list[int]:
    """Processes of the group ``pgid`` that still run (zombies waiting for their parent do not)."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(entry))
    return alive


def _many(tmp_path: Path, n: int = 30) -> Path:
    for i in range(n):
        (tmp_path / f"f{i:02}.pkl").write_bytes(b"\x80\x02K\x01.")
    return tmp_path


def test_warm_scan_equals_serial_scan(mixed_folder: Path) -> None:
    workers = warm.start(2)
    assert workers is not None
    warmed = scan(mixed_folder, ScanOptions(jobs=2), warm=workers)
    assert workers.closed and _reaped(workers)
    assert summary(warmed.results) == summary(scan(mixed_folder, ScanOptions(jobs=1)).results)


def test_workers_share_the_files_and_results_come_in_order(tmp_path: Path) -> None:
    files = _files(_many(tmp_path))
    workers = warm.start(2)
    assert workers is not None
    seen: list[str] = []
    job = executors.Job(scan=slow_pid_scan, fail=failed_result)
    results = list(
        executors.WarmExecutor(workers, jobs=2).map(job, files, ScanOptions(), lambda r: seen.append(r.path))
    )
    assert [r.path for r in results] == [t.display for t in files]
    assert sorted(seen) == sorted(t.display for t in files)
    pids = {r.formats[0] for r in results}
    # Two workers, the leader and the one it forked; this process only hands out files and gathers results.
    assert len(pids) == 2
    assert f"pid:{PARENT_PID}" not in pids
    assert f"pid:{workers.leader}" in pids
    assert _reaped(workers)


def test_a_worker_that_dies_costs_only_the_file_it_was_scanning(tmp_path: Path) -> None:
    files = _files(_many(tmp_path, 12))
    workers = warm.start(2)
    assert workers is not None
    job = executors.Job(scan=dies_outside_parent_scan, fail=failed_result)
    results = list(executors.WarmExecutor(workers, jobs=2).map(job, files, ScanOptions()))
    assert [r.path for r in results] == [t.display for t in files]
    dead = [r for r in results if r.verdict is Verdict.INCONCLUSIVE]
    # Each worker died on its first file; rescanned in a process of its own, that file killed it again. The
    # files left in the queue were scanned by this process.
    assert len(dead) == 2
    for result in dead:
        assert [f.rule_id for f in result.findings] == ["GEN006"]
        assert "worker process died" in result.findings[0].message
    for target, result in zip(files, results, strict=True):
        if result not in dead:
            assert summary([result]) == summary([scan_file(target, ScanOptions())])
    assert _reaped(workers)


def test_files_no_worker_took_are_scanned_here(mixed_folder: Path) -> None:
    workers = warm.start(2)
    assert workers is not None
    os.killpg(workers.leader, 9)  # every worker gone before the job arrives
    results = list(
        executors.WarmExecutor(workers, jobs=2).map(
            executors.Job(scan=scan_file, fail=failed_result), _files(mixed_folder), ScanOptions()
        )
    )
    assert summary(results) == summary(scan(mixed_folder, ScanOptions(jobs=1)).results)
    assert _reaped(workers)


def _wait_for(check: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.05)


def _three_running_workers() -> warm.WarmWorkers:
    workers = warm.start(3)
    assert workers is not None
    # The leader forks the other two once it has imported the scanner.
    _wait_for(lambda: len(_group_alive(workers.leader)) == 3)
    assert len(_group_alive(workers.leader)) == 3
    return workers


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads the process table from /proc")
def test_close_stops_every_worker_of_the_group() -> None:
    workers = _three_running_workers()
    workers.close()
    assert _reaped(workers)
    _wait_for(lambda: not _group_alive(workers.leader))
    assert _group_alive(workers.leader) == []


def test_worker_output_never_reaches_stdout(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    files = _files(_many(tmp_path, 12))
    workers = warm.start(2)
    assert workers is not None
    job = executors.Job(scan=prints_outside_parent_scan, fail=failed_result)
    results = list(executors.WarmExecutor(workers, jobs=2).map(job, files, ScanOptions()))
    assert len(results) == len(files)
    assert "LEAKED-FROM-WORKER" not in capfd.readouterr().out


@pytest.mark.parametrize(
    ("options", "n_files"),
    [(ScanOptions(jobs=1), 100), (ScanOptions(jobs=2), 0), (ScanOptions(jobs=2, cluster="local"), 100)],
    ids=["one-job", "no-file", "cluster"],
)
def test_unused_warm_workers_are_released(options: ScanOptions, n_files: int) -> None:
    workers = warm.start(2)
    assert workers is not None
    executor = executors.choose(options, n_files, workers)
    assert not isinstance(executor, executors.WarmExecutor)
    assert workers.closed and _reaped(workers)


def test_the_command_line_scans_with_warm_workers(mixed_folder: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "modelsieve", "scan", str(mixed_folder), "-f", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    expected = scan(mixed_folder, ScanOptions(jobs=1))
    assert [(f["path"], f["verdict"]) for f in report["files"]] == [(r.path, r.verdict.value) for r in expected.results]


def test_workers_wanted_for_the_scan_arguments(tmp_path: Path) -> None:
    from modelsieve.entry import _workers_wanted

    one = tmp_path / "a.pkl"
    one.write_bytes(b"\x80\x02N.")
    two = tmp_path / "b.pkl"
    two.write_bytes(b"\x80\x02N.")
    # One file: one worker imports the analysers while this process imports the command line.
    assert _workers_wanted([str(one)]) == 1
    assert _workers_wanted([str(one), "-f", "json", "-o", str(tmp_path / "out.json")]) == 1
    assert _workers_wanted([str(one), str(two)]) == 2
    assert _workers_wanted([str(tmp_path)]) == (os.cpu_count() or 1)
    assert _workers_wanted(["@targets.txt"]) == (os.cpu_count() or 1)
    assert _workers_wanted(["hf://owner/name"]) == 0
    assert _workers_wanted([str(tmp_path), "--help"]) == 0
    assert _workers_wanted([str(tmp_path / "missing.pkl")]) == 0


def test_one_file_is_scanned_by_a_lone_leader(tmp_path: Path) -> None:
    path = tmp_path / "evil.pkl"
    path.write_bytes(b"cos\nsystem\n(S'true'\ntR.")
    workers = warm.start(1)
    assert workers is not None and workers.count == 1
    job = executors.Job(scan=scan_file, fail=failed_result)
    executor = executors.choose(ScanOptions(jobs=2), 1, workers)
    assert isinstance(executor, executors.WarmExecutor)
    (result,) = executor.map(job, _files(path), ScanOptions())
    assert summary([result]) == summary([scan_file(_files(path)[0], ScanOptions())])
    assert result.verdict is Verdict.MALICIOUS
    assert _reaped(workers)


def test_a_scan_bigger_than_the_work_pipe_uses_the_other_executors() -> None:
    workers = warm.start(2)
    assert workers is not None
    limit = workers.max_files
    assert limit >= 4000
    executor = executors.choose(ScanOptions(jobs=2), limit + 1, workers)
    assert isinstance(executor, executors.AdaptiveExecutor)
    assert workers.closed and _reaped(workers)


_CLI_MODULES = """
import json, sys
from modelsieve.entry import main
sys.argv = ["modelsieve", "scan", "--no-progress", "-f", "json", sys.argv[1]]
try:
    main()
except SystemExit as exc:
    sys.stderr.write(json.dumps({"code": exc.code, "modules": sorted(sys.modules)}))
"""


@pytest.mark.skipif(warm.usable_cores() < 2, reason="warm workers need two cores")
def test_the_command_line_process_never_imports_the_analysers(mixed_folder: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _CLI_MODULES, str(mixed_folder)], capture_output=True, text=True, timeout=120
    )
    state = json.loads(out.stderr.strip().splitlines()[-1])
    assert state["code"] == 1
    report = json.loads(out.stdout)
    expected = scan(mixed_folder, ScanOptions(jobs=1))
    assert [(f["path"], f["verdict"]) for f in report["files"]] == [(r.path, r.verdict.value) for r in expected.results]
    # The workers scanned; this process only parsed, listed, gathered and reported.
    analysers = [m for m in state["modules"] if m.startswith(("modelsieve.pickle", "modelsieve.formats"))]
    assert analysers == []
    assert "modelsieve.dispatch" not in state["modules"]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads the process table from /proc")
def test_close_stops_the_workers_of_a_leader_that_died() -> None:
    workers = _three_running_workers()
    os.kill(workers.leader, 9)  # the leader crashes; the two workers it forked live on, orphaned
    _wait_for(lambda: len(_group_alive(workers.leader)) == 2)
    assert len(_group_alive(workers.leader)) == 2
    workers.close()
    assert _reaped(workers)
    _wait_for(lambda: not _group_alive(workers.leader))
    assert _group_alive(workers.leader) == []


def test_file_targets_reach_the_workers_unchanged(mixed_folder: Path) -> None:
    import pickle

    files = _files(mixed_folder)
    back = pickle.loads(pickle.dumps(files, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == files
    assert all(type(b.path) is type(f.path) for b, f in zip(back, files, strict=True))
    # The path travels as text, not as a Path object's parts.
    assert b"PosixPath" not in pickle.dumps(files[0]) and b"WindowsPath" not in pickle.dumps(files[0])
