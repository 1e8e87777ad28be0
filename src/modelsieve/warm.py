"""Warm workers: processes forked when `modelsieve scan` starts, importing the scanner while the CLI starts.

A scan of a folder spends its first ~100 ms importing the CLI framework and the scanner before it reads a
file. Workers forked at the very start (before those imports, so the fork copies almost nothing) import the
scanner on the other cores in the meantime, and are ready when the file list is. The command-line process
scans too, taking files from the same queue, so every core works and no core waits.

Protocol (all over pipes, nothing shared but file descriptors):
- one *work* pipe holds the index of every file to scan, 4 bytes each; every process (workers and the
  command-line process) reads one index at a time (reads of 4 bytes from a pipe are atomic), so files are
  shared out as they finish, like a queue, and a worker that dies takes only the file it was scanning;
- each worker has a *task* pipe on which it receives the job, the file list and the options once (or EOF:
  nothing to do, exit), and a *result* pipe on which it sends each ``(index, FileResult)`` as it finishes.

Files whose result never arrives (their worker died) are scanned again in a process of their own by the
executor; a file that kills that one too is reported inconclusive.
"""

from __future__ import annotations

# Only modules the interpreter has already loaded are imported before the fork: every millisecond spent
# here delays the workers. Hence plain classes below, not dataclasses (which import inspect and more), and
# pickle imported where it is used.
import os
import struct
import sys

# Not typing.TYPE_CHECKING: importing typing alone costs ~10 ms before the fork (mypy honours the name).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_INDEX = struct.Struct("<I")
_LENGTH = struct.Struct("<Q")
#: Pipe capacity assumed where it cannot be asked (POSIX guarantees little; 16 KiB is the smallest default
#: of the systems with fork).
_DEFAULT_PIPE_BYTES = 16 * 1024
_F_GETPIPE_SZ = 1032  # Linux fcntl command


class Worker:
    """One forked worker: its pid and the parent's ends of its pipes."""

    __slots__ = ("pid", "result_r", "task_w")

    def __init__(self, pid: int, task_w: int, result_r: int) -> None:
        self.pid = pid
        self.task_w = task_w
        self.result_r = result_r

    def close_task(self) -> None:
        _close(self.task_w)
        self.task_w = -1

    def close_results(self) -> None:
        _close(self.result_r)
        self.result_r = -1


class WarmWorkers:
    """Forked workers waiting for a job; ``close`` ends whatever is left of them."""

    __slots__ = ("closed", "work_r", "work_w", "workers")

    def __init__(self, workers: list[Worker], work_r: int, work_w: int) -> None:
        self.workers = workers
        self.work_r = work_r
        self.work_w = work_w
        self.closed = False

    @property
    def count(self) -> int:
        return len(self.workers)

    @property
    def max_files(self) -> int:
        """The most files this pool takes: the work pipe must hold every index before anyone reads it, or
        writing them could wait forever on workers that are gone. Bigger scans use the other executors."""
        capacity = _DEFAULT_PIPE_BYTES
        if sys.platform.startswith("linux"):
            import fcntl

            try:  # noqa: SIM105 - contextlib is not imported before the fork
                capacity = fcntl.fcntl(self.work_w, _F_GETPIPE_SZ)
            except OSError:
                pass
        return capacity // _INDEX.size - 1

    def send(self, payload: Any, n_files: int, use: int) -> list[Worker]:
        """Queue ``n_files`` indices and give ``payload`` to the first ``use`` workers; the rest are released."""
        os.write(self.work_w, b"".join(_INDEX.pack(i) for i in range(n_files)))
        os.close(self.work_w)
        self.work_w = -1
        import pickle

        data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        active = self.workers[:use]
        for w in self.workers[use:]:
            w.close_task()
        for w in active:
            _write_all(w.task_w, _LENGTH.pack(len(data)) + data)
            w.close_task()
        return active

    def next_index(self) -> int | None:
        """The next file index from the shared queue, or None when it is empty."""
        got = os.read(self.work_r, _INDEX.size)
        return _INDEX.unpack(got)[0] if len(got) == _INDEX.size else None

    def close(self) -> None:
        """Release every worker not yet released, and reap them all."""
        if self.closed:
            return
        self.closed = True
        _close(self.work_w)
        _close(self.work_r)
        self.work_w = self.work_r = -1
        for w in self.workers:
            w.close_task()
            w.close_results()
        import signal

        for w in self.workers:
            # Workers that finished are reaped; released or abandoned ones (still importing, or scanning
            # for a run that ended early) are stopped: nothing they would do is wanted any more.
            try:
                if os.waitpid(w.pid, os.WNOHANG)[0] == 0:
                    os.kill(w.pid, signal.SIGKILL)
                    os.waitpid(w.pid, 0)
            except (ChildProcessError, ProcessLookupError):
                pass


def start(count: int | None = None) -> WarmWorkers | None:
    """Fork ``count`` workers (default: one per core but one, since this process scans too).

    None where fork is not available, on one core, or when a fork fails.
    """
    if not hasattr(os, "fork"):
        return None
    count = (os.cpu_count() or 1) - 1 if count is None else count
    if count < 1:
        return None
    work_r, work_w = os.pipe()
    warm = WarmWorkers(workers=[], work_r=work_r, work_w=work_w)
    for _ in range(count):
        task_r, task_w = os.pipe()
        result_r, result_w = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            for fd in (task_r, task_w, result_r, result_w):
                _close(fd)
            break
        if pid == 0:  # pragma: no cover - runs in the forked worker (covered through its results)
            _close(work_w)
            _close(task_w)
            _close(result_r)
            for w in warm.workers:
                _close(w.task_w)
                _close(w.result_r)
            code = 0
            try:
                _worker(task_r, work_r, result_w)
            except BaseException:  # a worker never takes the command line down with it
                code = 1
            os._exit(code)
        _close(task_r)
        _close(result_w)
        warm.workers.append(Worker(pid=pid, task_w=task_w, result_r=result_r))
    if not warm.workers:
        warm.close()
        return None
    return warm


def _worker(task_r: int, work_r: int, result_w: int) -> None:  # pragma: no cover - runs in a worker
    # Whatever a library prints must not end up in the command's report on stdout.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    # Import the scanner now, while the command line is still starting: this is what the worker is for.
    from modelsieve import api

    api.prepare_workers()
    header = _read_exactly(task_r, _LENGTH.size)
    if len(header) < _LENGTH.size:
        return  # released: nothing to scan here
    import pickle

    job, files, options = pickle.loads(_read_exactly(task_r, _LENGTH.unpack(header)[0]))
    from modelsieve.executors import scan_one

    while True:
        got = os.read(work_r, _INDEX.size)
        if len(got) < _INDEX.size:
            return
        i = _INDEX.unpack(got)[0]
        data = pickle.dumps((i, scan_one(job, files[i], options)), protocol=pickle.HIGHEST_PROTOCOL)
        _write_all(result_w, _LENGTH.pack(len(data)) + data)


def read_results(fd: int, buffer: bytearray) -> tuple[list[tuple[int, Any]], bool]:
    """Complete ``(index, result)`` records readable from ``fd`` now; True once the worker has closed it."""
    import pickle

    chunk = os.read(fd, 1 << 16)
    if not chunk:
        return [], True
    buffer += chunk
    out = []
    while len(buffer) >= _LENGTH.size:
        (n,) = _LENGTH.unpack_from(buffer)
        if len(buffer) < _LENGTH.size + n:
            break
        out.append(pickle.loads(bytes(buffer[_LENGTH.size : _LENGTH.size + n])))
        del buffer[: _LENGTH.size + n]
    return out, False


def _read_exactly(fd: int, n: int) -> bytes:
    parts = []
    while n > 0:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            break
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _close(fd: int) -> None:
    if fd >= 0:
        try:  # noqa: SIM105 - contextlib is not imported before the fork
            os.close(fd)
        except OSError:
            pass
