"""Where files are scanned: in this process, in a local process pool, or on a Dask cluster.

Every executor yields one FileResult per input file, in input order, and calls
``progress`` as each file finishes (in completion order). A file whose worker
fails or disappears gets an inconclusive result (GEN006, or GEN005 when the
worker cannot see the file); it is never dropped, never called clean, and never
ends the whole scan.

Dask is an optional extra (``pip install 'modelsieve[distributed]'``) and is
imported only when a cluster is asked for, so the CLI starts fast without it.
Workers receive file paths, not file contents: they must see the same files
at the same absolute paths (a shared filesystem). The scheduler and every
worker need the same modelsieve installed (Dask unpickles tasks on both).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from modelsieve.model import FileResult
from modelsieve.options import ScanOptions
from modelsieve.walk import FileTarget

if TYPE_CHECKING:
    from concurrent.futures import Future

    from modelsieve.rules.base import Rule
    from modelsieve.warm import WarmWorkers

# concurrent.futures, multiprocessing, logging and socket are imported where used: a one-file scan
# (the common CLI case) runs serially and must not pay ~40 ms to import them.

ProgressCallback = Callable[[FileResult], None]
ScanFn = Callable[[FileTarget, ScanOptions], FileResult]
FailFn = Callable[..., FileResult]

LOCAL_CLUSTER = "local"
INSTALL_HINT = "pip install 'modelsieve[distributed]'"

# Below this many files a pool costs more to start than it saves.
_PARALLEL_MIN_FILES = 4
_POOL_WINDOW_PER_WORKER = 4
_MAX_BATCH = 16
#: AdaptiveExecutor: files timed before deciding, how many recent ones the estimate uses, and how many
#: seconds of estimated remaining work pay for starting a pool.
_ADAPT_SAMPLE = 8
_ADAPT_WINDOW = 32
_POOL_WORTH_SECONDS = 0.25
_DASK_WINDOW_PER_THREAD = 4
_DASK_MIN_WINDOW = 64


class ClusterError(RuntimeError):
    """The cluster cannot be used at all (dask missing, scheduler unreachable, no workers, version skew)."""


@dataclass(frozen=True)
class Job:
    """What to do with each file. ``scan`` runs where the work runs (it must be picklable for pools and
    clusters); ``fail(target, options, reason, rule=...)`` builds the inconclusive result of a file whose
    worker failed."""

    scan: ScanFn
    fail: FailFn
    #: Run once in the parent before local worker processes fork, to import what ``scan`` needs.
    prepare: Callable[[], None] | None = None


class Executor(Protocol):
    """Runs a Job over files; yields results in input order."""

    def map(
        self, job: Job, files: Sequence[FileTarget], options: ScanOptions, progress: ProgressCallback | None = None
    ) -> Iterator[FileResult]: ...


def choose(options: ScanOptions, n_files: int, warm: WarmWorkers | None = None) -> Executor:
    """The executor ``options`` ask for: a Dask cluster with ``cluster``; else the ``warm`` workers forked
    when the command started, if any; else this process moving to a local pool when the work is big enough
    (``AdaptiveExecutor``). Warm workers that are not used are released here."""
    jobs = options.jobs or (os.cpu_count() or 1)
    if warm is not None:
        if not options.cluster and jobs > 1 and 1 <= n_files <= warm.max_files:
            return WarmExecutor(warm, jobs=jobs)
        warm.close()
    if options.cluster:
        return DaskExecutor(options.cluster, jobs=options.jobs)
    if jobs <= 1 or n_files < _PARALLEL_MIN_FILES:
        return SerialExecutor()
    return AdaptiveExecutor(jobs=min(jobs, n_files))


class _Reorder:
    """Holds results that finish early until every result before them has arrived."""

    def __init__(self) -> None:
        self._next = 0
        self._waiting: dict[int, FileResult] = {}

    def put(self, index: int, result: FileResult) -> Iterator[FileResult]:
        self._waiting[index] = result
        while self._next in self._waiting:
            yield self._waiting.pop(self._next)
            self._next += 1


def _internal_error() -> Rule:
    from modelsieve.rules import general

    return general.INTERNAL_ERROR


def _read_error() -> Rule:
    from modelsieve.rules import general

    return general.READ_ERROR


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass(frozen=True)
class SerialExecutor:
    """Scans in this process, one file after another."""

    def map(
        self, job: Job, files: Sequence[FileTarget], options: ScanOptions, progress: ProgressCallback | None = None
    ) -> Iterator[FileResult]:
        for target in files:
            result = scan_one(job, target, options)
            if progress:
                progress(result)
            yield result


def scan_one(job: Job, target: FileTarget, options: ScanOptions) -> FileResult:
    """``job.scan`` of one file; an exception makes that file inconclusive instead of ending the scan."""
    try:
        return job.scan(target, options)
    except Exception as exc:  # one file's failure must not end the scan
        return job.fail(target, options, f"scan failed: {_describe(exc)}", rule=_internal_error())


@dataclass(frozen=True)
class WarmExecutor:
    """Scans with the warm workers forked when the command started (``modelsieve.warm``), ``jobs`` of them
    taking files from one queue; this process only hands the files out and gathers the results, so it never
    imports the scanner itself. Files whose worker died are scanned again each in a process of their own;
    files no worker took (every worker gone) are scanned here.
    """

    warm: WarmWorkers
    jobs: int

    def map(
        self, job: Job, files: Sequence[FileTarget], options: ScanOptions, progress: ProgressCallback | None = None
    ) -> Iterator[FileResult]:
        import select

        from modelsieve.warm import read_results

        try:
            active = self.warm.send((job, list(files), options), len(files), use=min(self.warm.count, self.jobs))
            buffers = {w.result_r: bytearray() for w in active}
            reorder = _Reorder()
            arrived: set[int] = set()

            def take(records: list[tuple[int, FileResult]]) -> Iterator[FileResult]:
                for i, result in records:
                    arrived.add(i)
                    if progress:
                        progress(result)
                    yield from reorder.put(i, result)

            while buffers:
                ready, _, _ = select.select(list(buffers), [], [])
                for fd in ready:
                    records, ended = read_results(fd, buffers[fd])
                    yield from take(records)
                    if ended:
                        del buffers[fd]
            untaken = self.warm.untaken()
            for i in range(len(files)):
                if i not in arrived:
                    # A file a worker took and never answered may have killed it: isolate it.
                    scan = scan_one if i in untaken else _isolated
                    yield from take([(i, scan(job, files[i], options))])
        finally:
            self.warm.close()


@dataclass(frozen=True)
class AdaptiveExecutor:
    """Scans in this process and hands the remaining files to a ``PoolExecutor`` as soon as they look like
    more work than starting workers costs.

    Worker processes are not free: forking, the copy-on-write of the parent's memory as workers touch it,
    and passing results back cost tens of milliseconds of CPU, more than a folder of a few hundred small
    files takes to scan in one process. So the first files are scanned here, each one timed; once
    ``_ADAPT_SAMPLE`` files are done, the remaining work is estimated from the median time per file, and
    when it exceeds ``worth`` seconds the rest goes to a pool of ``jobs`` workers (which start with this
    process's imports and warm caches). Files scanned here have no crash isolation, as with ``--jobs 1``.
    """

    jobs: int
    worth: float = _POOL_WORTH_SECONDS

    def map(
        self, job: Job, files: Sequence[FileTarget], options: ScanOptions, progress: ProgressCallback | None = None
    ) -> Iterator[FileResult]:
        import statistics
        import time

        serial = SerialExecutor()
        durations: list[float] = []
        for i, target in enumerate(files):
            remaining = len(files) - i
            # The median ignores the first files' one-off costs (lazy imports of their formats).
            if (
                len(durations) >= _ADAPT_SAMPLE
                and remaining >= 2 * self.jobs
                and statistics.median(durations[-_ADAPT_WINDOW:]) * remaining > self.worth
            ):
                yield from PoolExecutor(self.jobs).map(job, files[i:], options, progress)
                return
            t0 = time.perf_counter()
            yield from serial.map(job, [target], options, progress)
            durations.append(time.perf_counter() - t0)


@dataclass(frozen=True)
class PoolExecutor:
    """Scans in a local process pool, sending files to workers in small batches.

    Before the pool starts, ``job.prepare`` imports what scanning needs, so forked workers inherit it
    instead of each importing it again. Batches keep the per-file cost of inter-process messages low on
    folders of many small files; a few batches per worker stay in flight so slow files do not stall the
    rest. A worker process that dies (a crash in a native library, the OOM killer) breaks the whole pool
    and fails every batch in flight with it, so those files are scanned again one by one, each in a pool
    of its own: only a file that kills its worker alone is reported inconclusive.
    """

    jobs: int

    def map(
        self, job: Job, files: Sequence[FileTarget], options: ScanOptions, progress: ProgressCallback | None = None
    ) -> Iterator[FileResult]:
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        if job.prepare is not None:
            job.prepare()
        reorder = _Reorder()
        suspects: list[int] = []
        workers = max(1, self.jobs)
        window = workers * _POOL_WINDOW_PER_WORKER
        size = _batch_size(len(files), workers)
        batches = [list(range(i, min(i + size, len(files)))) for i in range(0, len(files), size)]
        pending: dict[Future[list[FileResult]], list[int]] = {}
        queue = iter(batches)
        context = _fork_context()
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        try:
            while True:
                for batch in queue:
                    targets = [files[i] for i in batch]
                    try:
                        pending[pool.submit(_scan_batch, job, targets, options)] = batch
                    except BrokenProcessPool:
                        pool.shutdown(wait=False, cancel_futures=True)
                        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
                        pending[pool.submit(_scan_batch, job, targets, options)] = batch
                    if len(pending) >= window:
                        break
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=lambda f: pending[f][0]):
                    batch = pending.pop(fut)
                    exc = fut.exception()
                    if isinstance(exc, BrokenProcessPool):
                        suspects.extend(batch)
                        continue
                    if exc is not None:
                        reason = f"scan failed: {_describe(exc)}"
                        results = [job.fail(files[i], options, reason, rule=_internal_error()) for i in batch]
                    else:
                        results = fut.result()
                    for i, result in zip(batch, results, strict=True):
                        if progress:
                            progress(result)
                        yield from reorder.put(i, result)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        for i in sorted(suspects):
            result = _isolated(job, files[i], options)
            if progress:
                progress(result)
            yield from reorder.put(i, result)


def _batch_size(n_files: int, workers: int) -> int:
    """Files per task: about eight tasks per worker, at most _MAX_BATCH files each."""
    return max(1, min(_MAX_BATCH, n_files // (workers * 8)))


def _fork_context() -> Any:
    """Fork where the platform has it: workers then start with the parent's imports instead of redoing them.

    Python 3.14 makes forkserver the default on Linux, which would re-import modelsieve in every worker.
    """
    import multiprocessing

    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return None


def _scan_batch(job: Job, targets: Sequence[FileTarget], options: ScanOptions) -> list[FileResult]:
    """Run in a worker: scan a few files; one file's exception does not fail the others."""
    results = []
    for target in targets:
        try:
            results.append(job.scan(target, options))
        except Exception as exc:  # one file's failure must not end the batch
            results.append(job.fail(target, options, f"scan failed: {_describe(exc)}", rule=_internal_error()))
    return results


def _isolated(job: Job, target: FileTarget, options: ScanOptions) -> FileResult:
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    with ProcessPoolExecutor(max_workers=1) as solo:
        try:
            return solo.submit(job.scan, target, options).result()
        except BrokenProcessPool:
            reason = "the worker process died while scanning this file (crash in a parser or out of memory)"
        except Exception as exc:  # reported as inconclusive for this file only
            reason = f"scan failed: {_describe(exc)}"
    return job.fail(target, options, reason, rule=_internal_error())


@dataclass(frozen=True)
class DaskExecutor:
    """Scans on a Dask cluster: ``address`` is a scheduler address (``tcp://10.0.0.5:8786``) or ``local``
    for an in-process LocalCluster of ``jobs`` worker processes (0 = one per core).

    Files are submitted in a bounded window (a few per worker thread) so a folder of a million files never
    becomes a million futures; results stream back as they finish and are yielded in input order.
    """

    address: str
    jobs: int = 0
    connect_timeout: float = 30.0
    window: int = 0

    def map(
        self, job: Job, files: Sequence[FileTarget], options: ScanOptions, progress: ProgressCallback | None = None
    ) -> Iterator[FileResult]:
        if not files:
            return
        # Workers run elsewhere, with another working directory: only absolute paths mean the same file there.
        remote_files = [_absolute(t) for t in files]
        remote_options = dataclasses.replace(options, cluster=None)
        with self._client() as client:
            _check_workers(client, self.connect_timeout, self.address)
            window = self.window or max(_DASK_MIN_WINDOW, _DASK_WINDOW_PER_THREAD * sum(client.nthreads().values()))
            yield from _stream(client, job, files, remote_files, remote_options, progress, window)

    @contextlib.contextmanager
    def _client(self) -> Iterator[Any]:
        import logging

        distributed = import_distributed()
        if self.address == LOCAL_CLUSTER:
            try:
                cluster = distributed.LocalCluster(
                    n_workers=self.jobs or (os.cpu_count() or 1),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    silence_logs=logging.ERROR,
                )
            except Exception as exc:  # any start failure means no cluster to scan with
                raise ClusterError(f"cannot start a local Dask cluster: {_describe(exc)}") from exc
            try:
                with distributed.Client(cluster) as client:
                    yield client
            finally:
                cluster.close()
            return
        try:
            client = distributed.Client(self.address, timeout=self.connect_timeout)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {self.address!r}: {_describe(exc)} "
                f"(give a scheduler address such as tcp://HOST:8786, or 'local')"
            ) from exc
        try:
            yield client
        finally:
            client.close()


def import_distributed() -> Any:
    """``dask.distributed``, or a ClusterError saying how to install it."""
    try:
        import dask.distributed as distributed
    except ImportError as exc:
        raise ClusterError(
            f"--cluster needs the optional Dask dependency, which is not installed ({exc}); "
            f"install it with: {INSTALL_HINT}"
        ) from exc
    return distributed


def _absolute(target: FileTarget) -> FileTarget:
    """The target as a worker must open it; its display path (what reports show) stays as the user gave it."""
    return dataclasses.replace(target, path=target.path.absolute())


def _check_workers(client: Any, timeout: float, address: str) -> None:
    """Fail early, with a reason, when no worker is there or workers run another modelsieve."""
    from modelsieve import __version__

    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError) as exc:
        raise ClusterError(f"no Dask worker joined the scheduler at {address!r} within {timeout:g} s") from exc
    try:
        versions = client.run(worker_version)
    except Exception as exc:  # whatever a worker raised, the cluster cannot scan
        raise ClusterError(
            f"Dask workers cannot run modelsieve ({_describe(exc)}): install modelsieve {__version__} "
            f"with the same Python on every worker"
        ) from exc
    skew = sorted(f"{worker}: {version}" for worker, version in versions.items() if version != __version__)
    if skew:
        raise ClusterError(
            f"Dask workers run another modelsieve version than this client ({__version__}): " + ", ".join(skew)
        )
    # The scheduler unpickles every task too: without modelsieve there, each file would fail one by one.
    try:
        client.submit(worker_version, pure=False).result(timeout=timeout)
    except Exception as exc:  # the probe task failing means every scan task would fail the same way
        raise ClusterError(
            f"the Dask scheduler at {address!r} cannot run modelsieve tasks ({_describe(exc)}): install "
            f"modelsieve {__version__} with the same Python on the scheduler and every worker"
        ) from exc


def worker_version() -> str:
    """Run on each worker: the modelsieve version it would scan with."""
    from modelsieve import __version__

    return __version__


def remote_scan(job: Job, target: FileTarget, options: ScanOptions) -> FileResult:
    """Run on a worker: scan one file, saying so plainly when this worker cannot see it."""
    import socket

    if not os.path.lexists(target.path):
        return job.fail(
            target,
            options,
            f"not found on worker {socket.gethostname()} at {target.path}: Dask workers must see the files "
            f"at the same absolute paths as the client (shared filesystem)",
            rule=_read_error(),
        )
    return job.scan(target, options)


def _stream(
    client: Any,
    job: Job,
    files: Sequence[FileTarget],
    remote_files: Sequence[FileTarget],
    options: ScanOptions,
    progress: ProgressCallback | None,
    window: int,
) -> Iterator[FileResult]:
    from concurrent.futures import CancelledError

    from dask.distributed import as_completed

    reorder = _Reorder()
    pending: dict[Any, int] = {}
    queue = iter(enumerate(remote_files))
    completed = as_completed()

    def submit_more() -> None:
        for i, target in queue:
            future = client.submit(remote_scan, job, target, options, pure=False, retries=0)
            pending[future] = i
            completed.add(future)
            if len(pending) >= window:
                return

    submit_more()
    try:
        for future in completed:
            i = pending.pop(future)
            try:
                result = future.result()
            except CancelledError as exc:
                result = job.fail(
                    files[i],
                    options,
                    f"the scan of this file was cancelled ({getattr(exc, 'reason', None) or 'no reason given'}): "
                    f"the connection to the Dask scheduler was lost or the task was cancelled",
                    rule=_internal_error(),
                )
            except Exception as exc:  # a worker error, a dead worker (KilledWorker) or a lost scheduler
                result = job.fail(
                    files[i],
                    options,
                    f"distributed worker failed on this file: {_describe(exc)}",
                    rule=_internal_error(),
                )
            future.release()
            if progress:
                progress(result)
            yield from reorder.put(i, result)
            submit_more()
    finally:
        if pending:
            client.cancel(list(pending))
