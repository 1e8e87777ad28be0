"""Route an artifact to the format scanner its bytes match, containing failures."""

from __future__ import annotations

import time

from modelsieve.formats.base import AnalysisTimeout, ScanContext
from modelsieve.formats.registry import scanners
from modelsieve.limits import Limits
from modelsieve.model import Analysis
from modelsieve.rules import general
from modelsieve.source import Artifact


def analyse(artifact: Artifact, ctx: ScanContext) -> Analysis:
    """Sniff and analyse one artifact; any failure becomes a finding, never an exception."""
    if artifact.depth > ctx.limits.max_nesting_depth:
        return Analysis(
            findings=(
                general.LIMIT_EXCEEDED.finding(
                    artifact.location,
                    f"nesting deeper than {ctx.limits.max_nesting_depth} layers; inner content not analysed",
                    subject="nesting-depth",
                ),
            )
        )
    try:
        head = artifact.head()
    except OSError as exc:
        return Analysis(findings=(general.READ_ERROR.finding(artifact.location, f"could not read: {exc}"),))
    if not head:
        return Analysis(
            formats=("empty",),
            findings=(
                general.UNRECOGNISED_MODEL.finding(
                    artifact.location, "empty content: nothing to analyse", subject="empty"
                ),
            ),
        )
    for scanner in scanners():
        try:
            matched = scanner.sniff(head, artifact)
        except Exception:  # a sniffer bug must not hide the file
            matched = False
        if not matched:
            continue
        try:
            return scanner.scan(artifact, ctx)
        except AnalysisTimeout as exc:
            return Analysis(
                formats=(scanner.name,),
                findings=(general.LIMIT_EXCEEDED.finding(artifact.location, str(exc), subject="time"),),
            )
        except MemoryError:
            return Analysis(
                formats=(scanner.name,),
                findings=(general.LIMIT_EXCEEDED.finding(artifact.location, "out of memory", subject="memory"),),
            )
        except Exception as exc:  # contained and reported as inconclusive
            return Analysis(
                formats=(scanner.name,),
                findings=(
                    general.INTERNAL_ERROR.finding(
                        artifact.location,
                        f"{scanner.name} analyser failed: {type(exc).__name__}: {exc}",
                        subject=scanner.name,
                        evidence=f"{type(exc).__name__}: {exc}",
                    ),
                ),
            )
    return _unrecognised(artifact)


def _unrecognised(artifact: Artifact) -> Analysis:
    if artifact.explicit:
        return Analysis(
            formats=("unknown",),
            findings=(
                general.UNRECOGNISED_MODEL.finding(
                    artifact.location,
                    "content matches no known format (random, corrupted or unsupported bytes)",
                    subject="unknown",
                    evidence=f"first bytes: {artifact.head(16).hex()}",
                ),
            ),
        )
    return Analysis(
        formats=("unknown",),
        findings=(
            general.NOT_ANALYSED.finding(
                artifact.location,
                "content matches no known format; not analysed",
                subject="unknown",
                evidence=f"first bytes: {artifact.head(16).hex()}",
            ),
        ),
    )


def make_context(limits: Limits, *, strict: bool = False) -> ScanContext:
    """A context whose ``dispatch`` recurses through this module, with a fresh deadline."""
    holder: list[ScanContext] = []

    def recurse(child: Artifact) -> Analysis:
        return analyse(child, holder[0])

    ctx = ScanContext(
        limits=limits,
        dispatch=recurse,
        deadline=time.monotonic() + limits.max_seconds_per_file,
        strict=strict,
    )
    holder.append(ctx)
    return ctx
