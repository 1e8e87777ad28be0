"""Warm workers: processes forked when `modelsieve scan` starts, importing the scanner while the CLI starts.

A scan of a folder spends its first ~100 ms importing the CLI framework and the scanner before it reads a
file. One *leader* process forked at the very start (after only the small core both sides need, see
``modelsieve.entry``) imports the scanner on another core while this process starts the command line, then
forks the other workers from itself: they begin with the imports and warm caches already made, instead of
each importing the scanner again on a core the others need. The command-line process never imports the
scanner on this path: it parses the command line, lists the files, hands them out and writes the report,
so the workers have every core to themselves while they scan.

Protocol (all over pipes, nothing shared but file descriptors):
- one *work* pipe holds the index of every file to scan, 4 bytes each; every worker reads one index at a
  time (reads of 4 bytes from a pipe are atomic), so files are shared out as they finish, like a queue, and
  a worker that dies takes only the file it was scanning;
- each worker has a *task* pipe on which it receives the job, the file list and the options once (or EOF:
  nothing to do, exit), and a *result* pipe on which it sends each ``(index, FileResult)`` as it finishes.

The workers form a process group of their own, led by the leader, so that ``close`` can stop every one of
them although only the leader is this process's child. Files whose result never arrives (their worker
died) are scanned again in a process of their own by the executor; a file that kills that one too is
reported inconclusive.
"""

from __future__ import annotations

# Kept to modules the interpreter has already loaded (plain classes, no dataclasses or typing, pickle where
# it is used): this module is imported by every `modelsieve scan` of local files, before the fork, and what it
# imports there delays both the workers and the command line.
import os
import struct
import sys

# Not typing.TYPE_CHECKING: typing alone costs ~10 ms, and this module is imported first (mypy honours the name).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_INDEX = struct.Struct("<I")
_LENGTH = struct.Struct("<Q")
#: Pipe capacity assumed where it cannot be asked (POSIX guarantees little; 16 KiB is the smallest default
#: of the systems with fork).
_DEFAULT_PIPE_BYTES = 16 * 1024
_F_GETPIPE_SZ = 1032  # Linux fcntl command


class Channel:
    """The command-line process's ends of one worker's pipes."""

    __slots__ = ("result_r", "task_w")

    def __init__(self, task_w: int, result_r: int) -> None:
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

    __slots__ = ("closed", "leader", "work_r", "work_w", "workers")

    def __init__(self, leader: int, workers: list[Channel], work_r: int, work_w: int) -> None:
        #: pid of the leader, this process's only child among the workers and the id of their process group.
        self.leader = leader
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

    def send(self, payload: Any, n_files: int, use: int) -> list[Channel]:
        """Queue ``n_files`` indices and give ``payload`` to the first ``use`` workers; the rest are released.

        A worker that is gone already (its task pipe is broken) is left out; the others share its files."""
        os.write(self.work_w, b"".join(_INDEX.pack(i) for i in range(n_files)))
        os.close(self.work_w)
        self.work_w = -1
        import pickle

        data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        active = self.workers[:use]
        for w in self.workers[use:]:
            w.close_task()
        sent = []
        for w in active:
            try:
                _write_all(w.task_w, _LENGTH.pack(len(data)) + data)
                sent.append(w)
            except OSError:
                w.close_results()
            w.close_task()
        return sent

    def untaken(self) -> set[int]:
        """Indices no worker took from the queue; call once every worker has ended (the queue is then final)."""
        left: set[int] = set()
        if self.work_r >= 0:
            os.set_blocking(self.work_r, False)
            try:
                while chunk := os.read(self.work_r, 1 << 16):
                    left.update(i for (i,) in _INDEX.iter_unpack(chunk[: len(chunk) // _INDEX.size * _INDEX.size]))
            except BlockingIOError:
                pass
        return left

    def close(self) -> None:
        """Release every worker not yet released, stop those still running, and reap the leader."""
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

        # Workers that finished are gone already; released or abandoned ones (still importing, or scanning
        # for a run that ended early, or left running by a leader that crashed) are stopped: nothing they
        # would do is wanted any more. The group is signalled before the leader is reaped: until then its pid,
        # which is the group's id, cannot be given to anything else.
        try:
            os.killpg(self.leader, signal.SIGKILL)
        except ProcessLookupError:
            # No such group: setpgid was refused, or everything is gone. The leader alone, while it runs and
            # is ours (a pid already reaped may name another process by now).
            try:
                if os.waitpid(self.leader, os.WNOHANG)[0] == 0:
                    os.kill(self.leader, signal.SIGKILL)
            except ChildProcessError:
                return
        except OSError:
            pass
        try:  # noqa: SIM105 - contextlib is not imported before the fork
            os.waitpid(self.leader, 0)
        except ChildProcessError:
            pass


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def start(count: int | None = None) -> WarmWorkers | None:
    """Fork the leader of ``count`` workers (default: one per core; this process only coordinates).

    None where fork is not available, for no worker, or when the fork fails.
    """
    if not hasattr(os, "fork"):
        return None
    count = usable_cores() if count is None else count
    if count < 1:
        return None
    work_r, work_w = os.pipe()
    # (task_r, task_w, result_r, result_w) of each worker, all made before the one fork.
    pipes = [(*os.pipe(), *os.pipe()) for _ in range(count)]
    try:
        pid = os.fork()
    except OSError:
        for fd in (work_r, work_w, *(fd for p in pipes for fd in p)):
            _close(fd)
        return None
    if pid == 0:  # pragma: no cover - runs in the forked leader (covered through its results)
        code = 0
        try:
            os.setpgid(0, 0)
            _close(work_w)
            for _task_r, task_w, result_r, _result_w in pipes:
                _close(task_w)
                _close(result_r)
            _lead(pipes, work_r)
        except BaseException:  # a worker never takes the command line down with it
            code = 1
        os._exit(code)
    try:  # noqa: SIM105 - both sides set the group, whichever runs first (contextlib is not imported yet)
        os.setpgid(pid, pid)
    except OSError:
        pass
    channels = []
    for task_r, task_w, result_r, result_w in pipes:
        _close(task_r)
        _close(result_w)
        channels.append(Channel(task_w=task_w, result_r=result_r))
    return WarmWorkers(leader=pid, workers=channels, work_r=work_r, work_w=work_w)


def _lead(pipes: list[tuple[int, int, int, int]], work_r: int) -> None:  # pragma: no cover - in the leader
    # Whatever a library prints must not end up in the command's report on stdout.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    # Import the scanner now, while the command line is still starting: this is what the leader is for.
    from modelsieve import api

    api.prepare_workers()
    import gc

    # Objects made so far are shared with the workers forked below; a collection touching them would copy
    # every page they sit on into each worker. (The command disabled collections while importing.)
    gc.freeze()
    gc.enable()
    children = []
    mine, *waiting = pipes
    while waiting:
        slot = waiting.pop(0)
        try:
            pid = os.fork()
        except OSError:
            # Fewer workers: the queue is shared, so the others take these files. Closing their pipes tells
            # the command-line process they are gone.
            for left in (slot, *waiting):
                _close(left[0])
                _close(left[3])
            break
        if pid == 0:
            code = 0
            try:
                # Only pipes still open in the leader: the numbers of those closed may name other files now.
                for other in (mine, *waiting):
                    _close(other[0])
                    _close(other[3])
                _serve(slot[0], work_r, slot[3])
            except BaseException:
                code = 1
            os._exit(code)
        children.append(pid)
        _close(slot[0])
        _close(slot[3])
    try:
        _serve(mine[0], work_r, mine[3])
    finally:
        _close(mine[3])
        for pid in children:
            try:  # noqa: SIM105
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _serve(task_r: int, work_r: int, result_w: int) -> None:  # pragma: no cover - runs in a worker
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
