"""The Python API: ``scan(path) -> Report``. Never executes anything it reads."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from modelsieve import __version__, executors
from modelsieve.loading import MAX_INDEX_BYTES, loaded_by_default, shard_names, unloaded_reasons
from modelsieve.model import Analysis, FileResult, Finding, Location, Report, SkippedItem
from modelsieve.options import ScanOptions
from modelsieve.rules import RULESET_VERSION
from modelsieve.verdict import auto_status, file_verdict, repo_verdict
from modelsieve.walk import FileTarget, expand

if TYPE_CHECKING:
    from modelsieve.baseline import Baseline
    from modelsieve.rules.base import Rule
    from modelsieve.warm import WarmWorkers

ProgressCallback = Callable[[FileResult], None]


def scan(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    options: ScanOptions | None = None,
    progress: ProgressCallback | None = None,
    *,
    baseline: Baseline | None = None,
    warm: WarmWorkers | None = None,
) -> Report:
    """Scan files and folders; return one Report with a verdict per file and overall.

    ``baseline`` marks accepted findings as suppressed (they stay in the report). ``warm``: workers forked
    when the command started (``modelsieve.warm.start``); they are used or released, and closed either way.
    """
    options = options or ScanOptions()
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    targets = [os.fspath(p) for p in paths]
    from modelsieve.hub.refs import is_hub_target

    if any(is_hub_target(t) for t in targets):
        # Hub repositories are listed and read remotely; hub.scan hands local paths back here.
        from modelsieve.hub.scan import scan as scan_hub

        if warm is not None:
            warm.close()

        return scan_hub(targets, options, progress=progress, baseline=baseline)
    started = datetime.now(timezone.utc)
    t0 = time.monotonic()
    files, skipped = expand(targets)
    results = _weigh(files, _label_companion_data(files, _scan_all(files, options, progress, warm)), baseline)
    return build_report(targets, results, skipped, options, started, t0)


def build_report(
    targets: Sequence[str],
    results: Sequence[FileResult],
    skipped: Sequence[SkippedItem],
    options: ScanOptions,
    started: datetime,
    t0: float,
) -> Report:
    """The Report of a finished scan (local or remote), with its aggregate verdict."""
    return Report(
        tool_version=__version__,
        ruleset_version=RULESET_VERSION,
        targets=tuple(targets),
        results=tuple(results),
        skipped=tuple(skipped),
        summary=repo_verdict(results, include_unloaded=options.include_unloaded),
        started_at=started.isoformat(timespec="seconds"),
        duration_s=round(time.monotonic() - t0, 3),
        options=_describe(options),
    )


def _scan_all(
    files: list[FileTarget], options: ScanOptions, progress: ProgressCallback | None, warm: WarmWorkers | None = None
) -> list[FileResult]:
    executor = executors.choose(options, len(files), warm)
    job = executors.Job(scan=scan_file, fail=failed_result, prepare=prepare_workers)
    return list(executor.map(job, files, options, progress))


def prepare_workers() -> None:
    """Import the pickle engine, the formats nearly every model folder holds and the policy once, in the
    parent, and run the engine over a small benign pickle made here: forked workers then start with warm
    caches instead of each paying for imports, pattern compilation and first-run slowness."""
    import collections
    import pickle

    from modelsieve.dispatch import analyse, make_context
    from modelsieve.formats import registry
    from modelsieve.limits import Limits
    from modelsieve.rules.policy import load_policy
    from modelsieve.source import bytes_artifact

    load_policy()
    for entry in registry.scanners():
        if entry.name in ("pytorch", "numpy", "pickle", "keras-v3"):
            entry.load()
    # Written with pickle.dumps (never loaded): a state_dict-like mapping of tuples, floats and strings.
    sample = pickle.dumps(collections.OrderedDict(weight=(1.0, 2.0), bias=[0, 1], name="layer"), protocol=2)
    analyse(bytes_artifact(sample, Location(path="<warm-up>"), "warm-up.pkl"), make_context(Limits()))


def scan_file(target: FileTarget, options: ScanOptions) -> FileResult:
    """Scan one file on disk."""
    # Imported here: the command-line process of a scan with warm workers never scans, and must not pay
    # for importing the analysers.
    from modelsieve.dispatch import analyse, make_context
    from modelsieve.source import Artifact

    t0 = time.monotonic()
    location = Location(path=target.display)
    try:
        with open(target.path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            artifact = Artifact(
                stream=stream, size=size, location=location, name=target.path.name, explicit=target.explicit
            )
            analysis = analyse(artifact, make_context(options.limits, strict=options.strict))
            digest = _sha256(stream, size, options)
    except OSError as exc:
        from modelsieve.rules import general

        size, digest = 0, None
        analysis = Analysis(findings=(general.READ_ERROR.finding(location, f"could not read: {exc.strerror}"),))
    return build_result(
        target.display,
        size,
        digest,
        analysis,
        options,
        loaded=loaded_by_default(target.relative),
        duration=time.monotonic() - t0,
    )


def failed_result(target: FileTarget, options: ScanOptions, reason: str, *, rule: Rule | None = None) -> FileResult:
    """The inconclusive result of a file whose scan could not run (a worker failed or cannot see the file);
    ``rule`` defaults to GEN006 (analyser error)."""
    if rule is None:
        from modelsieve.rules import general

        rule = general.INTERNAL_ERROR
    analysis = Analysis(
        findings=(rule.finding(Location(path=target.display), reason, subject="worker", evidence=reason),)
    )
    return build_result(target.display, 0, None, analysis, options, loaded=loaded_by_default(target.relative))


def build_result(
    path: str,
    size: int,
    digest: str | None,
    analysis: Analysis,
    options: ScanOptions,
    *,
    loaded: bool = True,
    duration: float = 0.0,
) -> FileResult:
    """Turn an analysis into a FileResult: filter rules, draw the verdict."""
    findings = tuple(sorted(_filter(analysis.findings, options), key=_order))
    verdict, reasons = file_verdict(findings)
    return FileResult(
        path=path,
        size=size,
        sha256=digest,
        formats=analysis.formats,
        verdict=verdict,
        reasons=reasons,
        findings=findings,
        imports=analysis.imports,
        calls=analysis.calls,
        status=auto_status(verdict, findings),
        loaded_by_default=loaded,
        duration_s=round(duration, 4),
    )


def _filter(findings: Sequence[Finding], options: ScanOptions) -> list[Finding]:
    out = []
    for f in findings:
        # Inconclusive and not-analysed findings cannot be deselected: hiding them would call a file clean.
        if f.effect.name in ("INCONCLUSIVE", "NOT_ANALYSED"):
            out.append(f)
            continue
        if options.select and not any(f.rule_id.startswith(s) for s in options.select):
            continue
        if any(f.rule_id.startswith(i) for i in options.ignore):
            continue
        out.append(f)
    return out


def _order(f: Finding) -> tuple[object, ...]:
    loc = f.location
    return (
        -f.effect.verdict.rank,
        -f.severity.rank,
        loc.members,
        loc.offset if loc.offset is not None else -1,
        f.rule_id,
        f.subject,
    )


def _sha256(stream: BinaryIO, size: int, options: ScanOptions) -> str | None:
    if size > options.hash_limit and not options.always_hash:
        return None
    stream.seek(0)
    h = hashlib.sha256()
    while chunk := stream.read(1 << 20):
        h.update(chunk)
    return h.hexdigest()


def _describe(options: ScanOptions) -> tuple[tuple[str, str], ...]:
    return (
        ("strict", str(options.strict).lower()),
        ("include_unloaded", str(options.include_unloaded).lower()),
        ("select", ",".join(sorted(options.select))),
        ("ignore", ",".join(sorted(options.ignore))),
    )


def _weigh(files: list[FileTarget], results: list[FileResult], baseline: Baseline | None) -> list[FileResult]:
    """Label files that standard loading never reads (judged with their siblings) and apply the baseline."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, target in enumerate(files):
        depth = len(PurePosixPath(target.relative).parts)
        groups.setdefault(target.path.parts[:-depth], []).append(i)
    reasons: dict[int, str] = {}
    for members in groups.values():
        indexes = {}
        for i in members:
            if files[i].relative.endswith(".index.json"):
                names = _read_index(files[i].path)
                if names is not None:
                    indexes[files[i].relative] = names
        why = unloaded_reasons([files[i].relative for i in members], indexes)
        for i in members:
            if files[i].relative in why:
                reasons[i] = why[files[i].relative]
    out = []
    for i, result in enumerate(results):
        reason = reasons.get(i)
        # Most files keep what their scan said (loaded, no reason): copying each result costs the command's
        # last milliseconds on folders of many files.
        if result.loaded_by_default != (reason is None) or result.unloaded_reason != reason:
            result = dataclasses.replace(result, loaded_by_default=reason is None, unloaded_reason=reason)
        out.append(baseline.apply(result) if baseline is not None else result)
    return out


def _label_companion_data(files: list[FileTarget], results: list[FileResult]) -> list[FileResult]:
    """Raw tensor files a scanned model names as its external data are that model's data, not unknown
    content: an ONNX folder must not come out "not analysed" because of its ``model.onnx.data``."""
    from modelsieve.rules import formats_rules, general

    owners: dict[str, str] = {}
    for target, result in zip(files, results, strict=True):
        for f in result.findings:
            if f.rule_id == formats_rules.ONNX_EXTERNAL_DATA.id:
                path = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(target.path)), f.subject))
                owners.setdefault(path, target.display)
    if not owners:
        return results
    out = []
    for target, result in zip(files, results, strict=True):
        owner = owners.get(os.path.abspath(target.path))
        if (
            owner is not None
            and result.formats == ("unknown",)
            and {f.rule_id for f in result.findings}
            <= {
                general.NOT_ANALYSED.id,
                general.UNRECOGNISED_MODEL.id,
            }
        ):
            label = formats_rules.ONNX_EXTERNAL_DATA.finding(
                Location(target.display),
                f"raw tensor data read by {owner}; holds no code",
                subject=PurePosixPath(target.relative).name,
            )
            verdict, reasons = file_verdict((label,))
            result = dataclasses.replace(
                result,
                formats=("onnx-external-data",),
                findings=(label,),
                verdict=verdict,
                reasons=reasons,
                status=auto_status(verdict, (label,)),
            )
        out.append(result)
    return out


def _read_index(path: Path) -> frozenset[str] | None:
    try:
        with open(path, "rb") as stream:
            return shard_names(stream.read(MAX_INDEX_BYTES + 1))
    except OSError:
        return None
