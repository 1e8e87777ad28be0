"""Helpers for the distributed tests: fixture bytes, result summaries and scan functions sent to workers.

Dask sends the scan functions by reference, so workers import this module: LocalCluster workers inherit the
test process's sys.path, separate `dask worker` processes get it through PYTHONPATH.
"""

from __future__ import annotations

import os
import time

from modelsieve.api import scan_file
from modelsieve.model import FileResult
from modelsieve.options import ScanOptions
from modelsieve.walk import FileTarget

MALICIOUS = ("evil_a.pkl", "nested/evil_b.pkl", "nested/deeper/weights.bin", "z_last_evil.pkl")


def os_system_pickle(command: str) -> bytes:
    """Protocol-0 pickle whose loading calls os.system(command): GLOBAL 'os system', MARK, STRING, TUPLE, REDUCE."""
    return b"cos\nsystem\n(S'" + command.encode() + b"'\ntR."


def summary(results: tuple[FileResult, ...] | list[FileResult]) -> list[tuple[object, ...]]:
    """What must not depend on where a file was scanned (durations may)."""
    return [
        (
            r.path,
            r.verdict,
            r.status,
            r.formats,
            r.sha256,
            r.size,
            r.loaded_by_default,
            tuple((f.rule_id, f.subject, f.message, f.location) for f in r.findings),
        )
        for r in results
    ]


def raising_scan(target: FileTarget, options: ScanOptions) -> FileResult:
    """A scan that breaks on one file, as an analyser bug or a worker-side error would."""
    if target.path.name == "evil_a.pkl":
        raise RuntimeError("simulated worker failure")
    return scan_file(target, options)


def dying_scan(target: FileTarget, options: ScanOptions) -> FileResult:
    """A scan whose process dies on one file, as a segfault in a native parser or the OOM killer would."""
    if target.path.name == "config.pkl":
        os._exit(13)
    return scan_file(target, options)


def slow_first_scan(target: FileTarget, options: ScanOptions) -> FileResult:
    """The first file finishes last, so results arrive out of order."""
    if target.path.name == "benign_p0.pkl":
        time.sleep(0.5)
    return scan_file(target, options)


def slow_scan(target: FileTarget, options: ScanOptions) -> FileResult:
    """A scan slow enough for the test to pull the scheduler away in the middle."""
    time.sleep(0.2)
    return scan_file(target, options)


def pid_scan(target: FileTarget, options: ScanOptions) -> FileResult:
    """A fast scan whose result names the process that made it (in ``formats``)."""
    import dataclasses

    return dataclasses.replace(scan_file(target, options), formats=(f"pid:{os.getpid()}",))


def slow_pid_scan(target: FileTarget, options: ScanOptions) -> FileResult:
    """A slow scan (20 ms a file) whose result names the process that made it."""
    time.sleep(0.02)
    return pid_scan(target, options)


#: The pid of the test process, fixed when the module is imported there: forked workers see it too.
PARENT_PID = os.getpid()


def dies_outside_parent_scan(target: FileTarget, options: ScanOptions) -> FileResult:
    """Kills any process but the test process on its first file (a worker, a rescan process); the test process
    scans normally."""
    if os.getpid() != PARENT_PID:
        os._exit(13)
    return scan_file(target, options)


def prints_outside_parent_scan(target: FileTarget, options: ScanOptions) -> FileResult:
    """Prints to stdout in a worker (as a chatty library might)."""
    if os.getpid() != PARENT_PID:
        print("LEAKED-FROM-WORKER", flush=True)
    return scan_file(target, options)
