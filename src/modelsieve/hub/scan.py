"""Scan a Hub repository by id, without cloning it.

Files are listed with their sizes and LFS hashes; the ones worth scanning are
chosen by name and, after a small ranged read of their head, by content. Small
chosen files are downloaded into the Hugging Face cache; big ones are analysed
through HTTP range requests (``remote.RemoteFile``), so a 10 GB checkpoint costs
its central directory and its pickle. A repository, revision or file that could
not be fetched yields an inconclusive finding, never a clean result.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, BinaryIO, cast

from modelsieve.baseline import Baseline
from modelsieve.hub.client import HubClient, HubConfig, HubError, RemoteEntry, RepoListing, safe_repo_path
from modelsieve.hub.refs import RepoRef, parse
from modelsieve.hub.remote import BudgetExceeded, HttpRangeFetcher, RemoteFile, RemoteReadError
from modelsieve.hub.select import content_hint, name_hint
from modelsieve.hub.status import RepoSecurity
from modelsieve.model import Analysis, FileResult, Finding, Location, Report, SkippedItem
from modelsieve.options import ScanOptions
from modelsieve.rules import general, hub_rules
from modelsieve.source import Artifact, bytes_artifact

ProgressCallback = Callable[[FileResult], None]


@dataclass(frozen=True)
class HubOptions:
    """How to reach the Hub and how much to fetch.

    ``max_file_size``: files above it are reported not analysed (HUB004) instead of read.
    ``download_threshold``: chosen files up to this size are downloaded into the cache; bigger
    ones are read through range requests, at most ``remote_budget`` bytes each.
    ``all_files``: scan every file, not only those chosen by name or content.
    """

    config: HubConfig = field(default_factory=HubConfig)
    max_file_size: int | None = None
    download_threshold: int = 16 * 1024**2
    remote_budget: int = 512 * 1024**2
    block_size: int = 64 * 1024
    head_bytes: int = 4096
    max_files: int = 10_000
    max_probes: int = 500
    all_files: bool = False
    hub_status: bool = True


@dataclass(frozen=True)
class RemoteStats:
    """What reading one file remotely cost (for tests and the verbose display)."""

    path: str
    size: int
    bytes_fetched: int
    requests: int


@dataclass
class RepoScan:
    """One repository scan: its results, skipped files, the Hub's status and read costs.

    Mutable while the scan runs (never shared across threads); callers read it afterwards.
    """

    client: HubClient
    ref: RepoRef
    revision: str | None
    options: ScanOptions
    hub: HubOptions
    progress: ProgressCallback | None
    security: RepoSecurity | None = None
    gated: bool = False
    results: list[FileResult] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)
    remote_stats: list[RemoteStats] = field(default_factory=list)

    def emit(self, result: FileResult) -> None:
        prefix = self.ref.file_uri("", self.revision)
        if self.security is not None and result.path.startswith(prefix):
            ext = self.security.external_for(result.path[len(prefix) :])
            if ext is not None:
                result = replace(result, external=(*result.external, ext))
        self.results.append(result)
        if self.progress:
            self.progress(result)


def scan(
    targets: str | Sequence[str],
    options: ScanOptions | None = None,
    hub: HubOptions | None = None,
    progress: ProgressCallback | None = None,
    *,
    client: HubClient | None = None,
    baseline: Baseline | None = None,
) -> Report:
    """Scan Hub targets (``hf://owner/name[@rev][/path]``, huggingface.co URLs) and local paths into one Report.

    ``baseline`` marks accepted findings as suppressed, as for local files (matched by the LFS sha256).
    """
    options = options or ScanOptions()
    hub = hub or HubOptions()
    targets = [targets] if isinstance(targets, str) else list(targets)
    started = datetime.now(timezone.utc)
    t0 = time.monotonic()
    from modelsieve.hub.refs import is_hub_target

    results: list[FileResult] = []
    skipped: list[SkippedItem] = []
    local = [t for t in targets if not is_hub_target(t)]
    if local:
        from modelsieve.api import scan as scan_local

        local_report = scan_local(local, options, progress, baseline=baseline)
        results.extend(local_report.results)
        skipped.extend(local_report.skipped)
    client = client or HubClient(hub.config)
    for target in targets:
        if is_hub_target(target):
            run = scan_repo(target, options, hub, progress, client=client)
            results.extend(baseline.apply(r) if baseline is not None else r for r in run.results)
            skipped.extend(run.skipped)
    from modelsieve.api import build_report

    return build_report(targets, results, skipped, options, started, t0)


def scan_repo(
    target: str,
    options: ScanOptions,
    hub: HubOptions,
    progress: ProgressCallback | None = None,
    *,
    client: HubClient | None = None,
) -> RepoScan:
    """Scan one Hub target; the returned bookkeeping holds results, skipped items and read costs."""
    client = client or HubClient(hub.config)
    try:
        ref = parse(target)
    except ValueError as exc:
        run = RepoScan(client, RepoRef("invalid/target"), None, options, hub, progress)
        run.emit(_error_result(target, HubError("not-found", f"not a repository reference: {exc}"), options))
        return run
    run = RepoScan(client, ref, ref.revision, options, hub, progress)
    try:
        listing = client.listing(ref)
    except HubError as exc:
        run.emit(_error_result(ref.uri if ref.path is None else ref.file_uri(ref.path), exc, options))
        return run
    run.revision = listing.sha or ref.revision or "main"
    run.gated = bool(listing.gated)
    if hub.hub_status:
        from modelsieve.hub import status

        run.security = status.fetch(client, ref, run.revision, listing.security_repo_status)
    if ref.path is not None:
        entry = next((f for f in listing.files if f.path == ref.path), None)
        if entry is None:
            missing = HubError("missing-file", f"{ref.path} is not in {ref.repo_id}@{run.revision}", 404)
            run.emit(_error_result(ref.file_uri(ref.path, run.revision), missing, options))
        else:
            _scan_entry(run, entry, explicit=True, head=None)
        return run
    _scan_listing(run, listing)
    return run


def _scan_listing(run: RepoScan, listing: RepoListing) -> None:
    files = sorted(listing.files, key=lambda f: f.path)
    if len(files) > run.hub.max_files:
        finding = hub_rules.LISTING_INCOMPLETE.finding(
            Location(run.ref.uri),
            f"repository has {len(files)} files; only the first {run.hub.max_files} were considered",
            subject="max-files",
        )
        run.emit(
            _result(run, run.ref.with_revision(run.revision or "main").uri, 0, None, Analysis(findings=(finding,)))
        )
        files = files[: run.hub.max_files]
    probes = 0
    for entry in files:
        uri = run.ref.file_uri(entry.path, run.revision)
        if not safe_repo_path(entry.path):
            # A real Hub never lists such names; a hostile mirror could, to write outside the cache.
            exc = HubError("failed", f"refusing to fetch a file whose path leaves the repository: {entry.path!r}")
            run.emit(_error_result(uri, exc, run.options, entry=entry))
            continue
        hint = name_hint(entry.path)
        if hint is not None or run.hub.all_files:
            _scan_entry(run, entry, explicit=hint == "model format", head=None)
            continue
        if entry.size == 0:
            run.skipped.append(SkippedItem(uri, "empty file"))
            continue
        if probes >= run.hub.max_probes:
            run.skipped.append(
                SkippedItem(uri, f"not probed: more than {run.hub.max_probes} files without a model name")
            )
            continue
        probes += 1
        try:
            head = _read_head(run, entry)
        except RemoteReadError as exc:
            run.emit(_error_result(uri, _as_hub_error(exc, run.gated), run.options, entry=entry))
            continue
        found = content_hint(head)
        if found is None:
            run.skipped.append(
                SkippedItem(uri, f"not a model format by name or content (first bytes {head[:8].hex()})")
            )
            continue
        _scan_entry(run, entry, explicit=True, head=head)
    _weigh(run, files)


def _weigh(run: RepoScan, files: list[RemoteEntry]) -> None:
    """Mark files that standard loading never reads, judged with their siblings and shard indexes."""
    from modelsieve.loading import MAX_INDEX_BYTES, shard_names, unloaded_reasons

    indexes: dict[str, frozenset[str]] = {}
    for entry in files:
        if entry.path.endswith(".index.json") and (entry.size or 0) <= MAX_INDEX_BYTES:
            try:
                with open(run.client.download(run.ref, entry.path, run.revision), "rb") as stream:
                    names = shard_names(stream.read(MAX_INDEX_BYTES + 1))
            except (HubError, OSError):
                continue
            if names is not None:
                indexes[entry.path] = names
    reasons = unloaded_reasons([f.path for f in files], indexes)
    prefix = run.ref.file_uri("", run.revision)
    for i, result in enumerate(run.results):
        rel = result.path[len(prefix) :] if result.path.startswith(prefix) else None
        if rel is not None:
            reason = reasons.get(rel)
            run.results[i] = replace(result, loaded_by_default=reason is None, unloaded_reason=reason)


def _read_head(run: RepoScan, entry: RemoteEntry) -> bytes:
    size = entry.size if entry.size is not None else run.hub.head_bytes
    remote = _remote(run, entry, size)
    return remote.read(run.hub.head_bytes)


def _remote(run: RepoScan, entry: RemoteEntry, size: int) -> RemoteFile:
    url = run.client.file_url(run.ref, entry.path, run.revision)
    fetcher = HttpRangeFetcher(url, run.client.headers(), timeout=run.client.config.timeout)
    return RemoteFile(fetcher, size, block_size=run.hub.block_size, budget=run.hub.remote_budget, name=entry.path)


def _scan_entry(run: RepoScan, entry: RemoteEntry, *, explicit: bool, head: bytes | None) -> None:
    uri = run.ref.file_uri(entry.path, run.revision)
    t0 = time.monotonic()
    size = entry.size
    if run.hub.max_file_size is not None and size is not None and size > run.hub.max_file_size:
        finding = hub_rules.OVER_SIZE_LIMIT.finding(
            Location(uri),
            f"{size} bytes is over the size limit of {run.hub.max_file_size}; not fetched",
            subject="max-size",
        )
        run.emit(_result(run, uri, size, entry.lfs_sha256, Analysis(findings=(finding,)), entry))
        return
    location = Location(path=uri)
    name = entry.path.rsplit("/", 1)[-1]
    if head is not None and size is not None and len(head) == size:
        # The probe already read the whole file.
        artifact = bytes_artifact(head, location, name)
        artifact = replace(artifact, explicit=explicit)
        analysis = _analyse(artifact, run.options)
        digest = entry.lfs_sha256 or hashlib.sha256(head).hexdigest()
        run.emit(_result(run, uri, size, digest, analysis, entry, time.monotonic() - t0))
    elif size is not None and size > run.hub.download_threshold:
        _scan_remote(run, entry, uri, size, explicit, t0)
    else:
        _scan_download(run, entry, uri, explicit, t0)


def _scan_remote(run: RepoScan, entry: RemoteEntry, uri: str, size: int, explicit: bool, t0: float) -> None:
    remote = _remote(run, entry, size)
    stream = cast(BinaryIO, remote)
    artifact = Artifact(stream, size, Location(uri), entry.path.rsplit("/", 1)[-1], explicit=explicit)
    analysis = _analyse(artifact, run.options)
    if remote.error is not None:
        analysis = analysis.merge(Analysis(findings=(_read_error_finding(uri, remote.error, run.gated),)))
    run.remote_stats.append(RemoteStats(entry.path, size, remote.bytes_fetched, remote.fetches))
    run.emit(_result(run, uri, size, entry.lfs_sha256, analysis, entry, time.monotonic() - t0))


def _scan_download(run: RepoScan, entry: RemoteEntry, uri: str, explicit: bool, t0: float) -> None:
    try:
        local = run.client.download(run.ref, entry.path, run.revision)
    except HubError as exc:
        run.emit(_error_result(uri, exc, run.options, entry=entry, gated=run.gated))
        return
    extra: list[Finding] = []
    with open(local, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        artifact = Artifact(
            stream=stream, size=size, location=Location(uri), name=entry.path.rsplit("/", 1)[-1], explicit=explicit
        )
        analysis = _analyse(artifact, run.options)
        stream.seek(0)
        digest = _sha256(stream)
    if entry.size is not None and entry.size != size:
        extra.append(
            hub_rules.DOWNLOAD_FAILED.finding(
                Location(uri), f"downloaded {size} bytes but the Hub lists {entry.size}", subject="size-mismatch"
            )
        )
    if entry.lfs_sha256 and entry.lfs_sha256 != digest:
        extra.append(
            hub_rules.DOWNLOAD_FAILED.finding(
                Location(uri),
                "downloaded content does not match the Hub's LFS sha256",
                subject="hash-mismatch",
                evidence=f"expected {entry.lfs_sha256}, got {digest}",
            )
        )
    if extra:
        analysis = analysis.merge(Analysis(findings=tuple(extra)))
    run.emit(_result(run, uri, size, entry.lfs_sha256 or digest, analysis, entry, time.monotonic() - t0))


def _analyse(artifact: Artifact, options: ScanOptions) -> Analysis:
    from modelsieve.dispatch import analyse, make_context

    return analyse(artifact, make_context(options.limits, strict=options.strict))


def _sha256(stream: Any) -> str:
    h = hashlib.sha256()
    while chunk := stream.read(1 << 20):
        h.update(chunk)
    return h.hexdigest()


def _result(
    run: RepoScan,
    uri: str,
    size: int | None,
    digest: str | None,
    analysis: Analysis,
    entry: RemoteEntry | None = None,
    duration: float = 0.0,
) -> FileResult:
    from modelsieve.api import build_result
    from modelsieve.loading import loaded_by_default

    loaded = loaded_by_default(entry.path) if entry is not None else True
    return build_result(uri, size or 0, digest, analysis, run.options, loaded=loaded, duration=duration)


def _error_result(
    uri: str,
    exc: HubError,
    options: ScanOptions,
    *,
    entry: RemoteEntry | None = None,
    gated: bool = False,
) -> FileResult:
    from modelsieve.api import build_result

    finding = _hub_error_finding(uri, exc, gated)
    size = entry.size if entry is not None and entry.size is not None else 0
    digest = entry.lfs_sha256 if entry is not None else None
    return build_result(uri, size, digest, Analysis(findings=(finding,)), options)


def _hub_error_finding(uri: str, exc: HubError, gated: bool = False) -> Finding:
    location = Location(uri)
    if exc.kind == "gated" or (gated and exc.status in (401, 403)):
        return hub_rules.REPO_GATED.finding(location, str(exc), subject="gated", evidence=f"HTTP {exc.status}")
    if exc.kind in ("not-found", "revision"):
        return hub_rules.REPO_UNAVAILABLE.finding(location, str(exc), subject=exc.kind, evidence=f"HTTP {exc.status}")
    return hub_rules.DOWNLOAD_FAILED.finding(location, str(exc), subject=exc.kind, evidence=f"HTTP {exc.status}")


def _as_hub_error(exc: RemoteReadError, gated: bool) -> HubError:
    if exc.status in (401, 403):
        return HubError("gated" if gated else "failed", f"access denied: {exc}", exc.status)
    if exc.status == 404:
        return HubError("missing-file", f"file not found: {exc}", 404)
    return HubError("failed", str(exc), exc.status)


def _read_error_finding(uri: str, exc: RemoteReadError, gated: bool) -> Finding:
    if isinstance(exc, BudgetExceeded):
        return general.LIMIT_EXCEEDED.finding(Location(uri), str(exc), subject="remote-read-budget")
    return _hub_error_finding(uri, _as_hub_error(exc, gated), gated)
