"""Run modelsieve, the Hub's own status and the installed peers on the same inputs."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from modelsieve.compare.matrix import Comparison, ItemResult
from modelsieve.compare.peers import DANGEROUS, ERROR, PEERS, SAFE, Outcome, Peer
from modelsieve.hub.scan import HubOptions, RepoScan
from modelsieve.model import RepoVerdict, Verdict
from modelsieve.options import ScanOptions

MODELSIEVE = "modelsieve"
HUB = "hf-hub"


@dataclass(frozen=True)
class CompareOptions:
    """``tools``: names to run (None: modelsieve, every installed peer, and the Hub status for hf:// inputs).
    ``timeout``: seconds per tool per input. ``max_download``: bytes a Hub input may download for the peers."""

    tools: tuple[str, ...] | None = None
    timeout: float = 300.0
    max_download: int = 1024**3
    scan: ScanOptions = field(default_factory=ScanOptions)
    hub: HubOptions = field(default_factory=HubOptions)


def label_of(verdict: Verdict) -> str:
    """modelsieve's verdict on the common scale: inconclusive is an error, not-analysed content is not a finding."""
    if verdict in (Verdict.MALICIOUS, Verdict.SUSPICIOUS):
        return DANGEROUS
    if verdict is Verdict.INCONCLUSIVE:
        return ERROR
    return SAFE


def _hub_label(verdict: str) -> str:
    return verdict if verdict in (DANGEROUS, SAFE) else ERROR


def compare(
    inputs: Sequence[str],
    options: CompareOptions | None = None,
    progress: Callable[[str, str], None] | None = None,
) -> Comparison:
    """Every tool on every input; a missing tool is listed in ``skipped_tools`` rather than failing the run."""
    from modelsieve.hub.refs import is_hub_target

    options = options or CompareOptions()
    wanted = options.tools
    peers: list[Peer] = []
    skipped: list[tuple[str, str]] = []
    for p in PEERS:
        if wanted is not None and p.name not in wanted:
            continue
        if p.available():
            peers.append(p)
        else:
            skipped.append((p.name, f"{p.executable} not installed"))
    known = {MODELSIEVE, HUB, *(p.name for p in PEERS)}
    skipped += [(name, "unknown tool") for name in (wanted or ()) if name not in known]
    any_hub = any(is_hub_target(i) for i in inputs)
    tools = [MODELSIEVE] if wanted is None or MODELSIEVE in wanted else []
    if any_hub and (wanted is None or HUB in wanted):
        tools.append(HUB)
    tools += [p.name for p in peers]
    items = []
    for item in inputs:
        if progress:
            progress(item, "start")
        if is_hub_target(item):
            outcomes = _compare_hub(item, tools, peers, options)
        else:
            outcomes = _compare_local(item, tools, peers, options)
        items.append(ItemResult(item, tuple(outcomes)))
    return Comparison(tuple(tools), tuple(items), tuple(skipped))


def _compare_local(
    item: str, tools: list[str], peers: list[Peer], options: CompareOptions
) -> list[tuple[str, Outcome]]:
    outcomes: list[tuple[str, Outcome]] = []
    if MODELSIEVE in tools:
        from modelsieve.api import scan

        t0 = time.monotonic()
        report = scan([item], options.scan)
        missing = any(s.reason.startswith("no such") for s in report.skipped)
        outcome = Outcome(ERROR, "no such file or folder") if missing else _summary_outcome(report.summary)
        outcomes.append((MODELSIEVE, Outcome(outcome.label, outcome.detail, round(time.monotonic() - t0, 3))))
    for p in peers:
        outcomes.append((p.name, p.run(item, options.timeout)))
    return outcomes


def _summary_outcome(summary: RepoVerdict) -> Outcome:
    reason = summary.reasons[0] if summary.reasons else ""
    return Outcome(label_of(summary.verdict), f"{summary.verdict.value}: {reason}"[:200])


def _compare_hub(item: str, tools: list[str], peers: list[Peer], options: CompareOptions) -> list[tuple[str, Outcome]]:
    from modelsieve.hub.scan import scan_repo
    from modelsieve.verdict import repo_verdict

    outcomes: list[tuple[str, Outcome]] = []
    t0 = time.monotonic()
    run = scan_repo(item, options.scan, options.hub)
    elapsed = round(time.monotonic() - t0, 3)
    if MODELSIEVE in tools:
        summary = repo_verdict(run.results, include_unloaded=options.scan.include_unloaded)
        outcome = _summary_outcome(summary)
        outcomes.append((MODELSIEVE, Outcome(outcome.label, outcome.detail, elapsed)))
    if HUB in tools:
        if run.security is None:
            outcomes.append((HUB, Outcome(ERROR, "no status (repository not listed)")))
        else:
            detail = run.security.error or f"scans done: {run.security.scans_done}"
            flagged = [f.path for f in run.security.files if f.verdict == DANGEROUS]
            flagged += [i.path for i in run.security.files_with_issues if i.path not in flagged]
            if flagged:
                detail = "flagged: " + ", ".join(flagged[:5])
            outcomes.append((HUB, Outcome(_hub_label(run.security.verdict), detail)))
    if not peers:
        return outcomes
    with tempfile.TemporaryDirectory(prefix="modelsieve-compare-") as folder:
        problem = _materialise(run, folder, options.max_download)
        for p in peers:
            if problem is not None:
                outcomes.append((p.name, Outcome(ERROR, problem)))
            else:
                outcomes.append((p.name, p.run(folder, options.timeout)))
    return outcomes


def _materialise(run: RepoScan, folder: str, max_download: int) -> str | None:
    """Download the files modelsieve chose into ``folder`` for the peers; a reason string when that failed."""
    from modelsieve.hub.client import HubError

    prefix = run.ref.file_uri("", run.revision)
    paths = [r.path[len(prefix) :] for r in run.results if r.path.startswith(prefix)]
    if not paths:
        return "nothing could be listed or chosen in the repository"
    total = sum(r.size for r in run.results)
    if total > max_download:
        return f"the files to scan total {total} bytes, over the download limit of {max_download}"
    for path in paths:
        try:
            run.client.download(run.ref, path, run.revision, local_dir=folder)
        except HubError as exc:
            return f"could not download {path}: {exc}"
    # huggingface_hub keeps its bookkeeping there; it is not part of the repository.
    shutil.rmtree(os.path.join(folder, ".cache"), ignore_errors=True)
    return None
