"""Apply review decisions to a Report, and tell what changed since the last recorded scan.

Everything here except ``decision_context`` and ``prior_records`` is pure: a
Report and decisions in, a new Report (or a ScanDiff) out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace

from modelsieve.model import Effect, FileResult, Finding, Report, RepoVerdict, Status
from modelsieve.triage.store import TriageStore
from modelsieve.triage.targets import repo_in_target
from modelsieve.triage.types import (
    Decision,
    FileChange,
    FileRecord,
    FindingKey,
    ScanDiff,
    Target,
    TargetKind,
)
from modelsieve.verdict import auto_status, file_verdict, repo_verdict


def latest_by_target(decisions: Iterable[Decision]) -> dict[str, Decision]:
    """The decision in force per target: history is append-only and the latest wins."""
    ordered = sorted(enumerate(decisions), key=lambda item: (item[1].decided_at, item[0]))
    return {d.target: d for _, d in ordered}


def lookup_targets(report: Report, repo: str | None = None) -> set[str]:
    """Every target a decision could be recorded against for this report."""
    keys: set[str] = set()
    for r in report.results:
        if r.sha256:
            keys.add(r.sha256)
        keys.update(f.fingerprint for f in r.findings)
    if repo:
        keys.add(repo)
    return keys


def repo_identity(report: Report) -> tuple[str | None, str | None]:
    """``(repository, revision)`` when a report scanned exactly one ``hf://`` repository."""
    found = {hit for t in report.targets if (hit := repo_in_target(t)) is not None}
    repos = {repo for repo, _ in found}
    if len(repos) != 1:
        return None, None
    revisions = {rev for _, rev in found if rev}
    return repos.pop(), revisions.pop() if len(revisions) == 1 else None


def apply_decisions(report: Report, decisions: Mapping[str, Decision], *, repo: str | None = None) -> Report:
    """A new Report whose files (and summary) carry the review status in force.

    ``decisions`` maps a target (sha256, fingerprint, repository) to its latest decision.
    """
    repo_decision = decisions.get(repo) if repo else None
    results = tuple(_apply_file(r, decisions, repo_decision) for r in report.results)
    summary = repo_verdict(results, include_unloaded=report.summary.include_unloaded)
    if repo_decision is not None:
        summary = _apply_repo(summary, repo_decision)
    return replace(report, results=results, summary=summary)


def _apply_file(result: FileResult, decisions: Mapping[str, Decision], repo_decision: Decision | None) -> FileResult:
    findings, confirmed = _apply_findings(result.findings, decisions)
    verdict, reasons = result.verdict, result.reasons
    status, note = result.status, result.review_note
    if findings != result.findings:
        verdict, reasons = file_verdict(findings)
        status = auto_status(verdict, findings)
        if status is Status.KNOWN_FALSE_POSITIVE:
            note = "every decisive finding was reviewed as a false positive"
    decision = decisions.get(result.sha256) if result.sha256 else None
    if decision is None and _repo_covers(repo_decision, result.sha256):
        decision = repo_decision
    if decision is not None:
        status, note = _decided_status(decision, findings, status)
    if confirmed is not None and status is not Status.CONFIRMED_UNSAFE:
        status, note = Status.CONFIRMED_UNSAFE, f"finding {confirmed.target}: {_describe(confirmed)}"
    if repo_decision is not None and repo_decision.status is Status.CONFIRMED_UNSAFE:
        # Nothing from a repository confirmed unsafe should be loaded, whatever each file looks like.
        status, note = Status.CONFIRMED_UNSAFE, f"repository {repo_decision.target}: {_describe(repo_decision)}"
    return replace(result, findings=findings, verdict=verdict, reasons=reasons, status=status, review_note=note)


def _apply_findings(
    findings: tuple[Finding, ...], decisions: Mapping[str, Decision]
) -> tuple[tuple[Finding, ...], Decision | None]:
    """Suppress findings reviewed as false positives (kept, marked); report one confirmed as unsafe."""
    out: list[Finding] = []
    confirmed: Decision | None = None
    for f in findings:
        d = decisions.get(f.fingerprint)
        if d is not None and d.status is Status.KNOWN_FALSE_POSITIVE and f.suppressed is None:
            f = replace(f, suppressed=f"known false positive ({_describe(d)})")
        elif d is not None and d.status is Status.CONFIRMED_UNSAFE and confirmed is None:
            confirmed = d
        out.append(f)
    return tuple(out), confirmed


def _decided_status(decision: Decision, findings: tuple[Finding, ...], undecided: Status) -> tuple[Status, str]:
    """The decision's status, unless a false-positive decision met findings it never saw."""
    if decision.status is not Status.KNOWN_FALSE_POSITIVE or decision.known_fingerprints is None:
        return decision.status, _describe(decision)
    known = set(decision.known_fingerprints)
    # Informational findings (no effect on the verdict) do not reopen a review.
    new = [f for f in findings if f.suppressed is None and f.effect is not Effect.NONE and f.fingerprint not in known]
    if not new:
        return Status.KNOWN_FALSE_POSITIVE, _describe(decision)
    names = ", ".join(sorted({f"{f.rule_id} {f.subject}".strip() for f in new}))
    if undecided in (Status.NO_FINDINGS, Status.KNOWN_FALSE_POSITIVE):
        undecided = Status.SUSPECTED
    return undecided, f"false-positive decision no longer applies: new finding(s) since it was made: {names}"


def _repo_covers(decision: Decision | None, sha256: str | None) -> bool:
    return (
        decision is not None
        and decision.status is Status.KNOWN_FALSE_POSITIVE
        and sha256 is not None
        and decision.known_sha256s is not None
        and sha256 in decision.known_sha256s
    )


def _apply_repo(summary: RepoVerdict, decision: Decision) -> RepoVerdict:
    status = summary.status
    if decision.status is Status.CONFIRMED_UNSAFE:
        status = Status.CONFIRMED_UNSAFE
    elif decision.status is Status.SUSPECTED and status is not Status.CONFIRMED_UNSAFE:
        status = Status.SUSPECTED
    reasons = (*summary.reasons, f"repository {decision.target}: {_describe(decision)}")
    return replace(summary, status=status, reasons=reasons)


def _describe(d: Decision) -> str:
    note = f": {d.note}" if d.note else ""
    return f"{d.status.label} by {d.decided_by} on {d.decided_at[:10]}{note}"


# -- recording decisions --------------------------------------------------------------------------


def new_decision(
    target: Target,
    status: Status,
    note: str,
    decided_by: str,
    decided_at: str,
    *,
    known_fingerprints: tuple[str, ...] | None = None,
    known_sha256s: tuple[str, ...] | None = None,
) -> Decision:
    """A fresh decision with its own uid (the key that makes imports idempotent)."""
    return Decision(
        uid=uuid.uuid4().hex,
        kind=target.kind,
        target=target.value,
        status=status,
        note=note,
        decided_by=decided_by,
        decided_at=decided_at,
        known_fingerprints=known_fingerprints,
        known_sha256s=known_sha256s,
    )


def decision_context(store: TriageStore, target: Target) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """What the reviewer is looking at: the findings (and, for a repository, the files) last recorded."""
    if target.kind is TargetKind.SHA256:
        record = store.latest_file_records([target.value]).get(target.value)
        if record is None:
            return None, None
        return tuple(sorted({k.fingerprint for k in record.findings})), None
    if target.kind is TargetKind.REPO:
        found = store.latest_repo_scan(target.value)
        if found is None:
            return None, None
        _, files = found
        fingerprints = tuple(sorted({k.fingerprint for f in files for k in f.findings}))
        return fingerprints, tuple(sorted({f.sha256 for f in files if f.sha256}))
    return None, None


# -- what changed ---------------------------------------------------------------------------------


def prior_records(store: TriageStore, report: Report) -> Mapping[str, FileRecord]:
    """The last recorded scan of each file's bytes (call before recording this report)."""
    return store.latest_file_records(r.sha256 for r in report.results if r.sha256)


def diff_scan(report: Report, previous: Mapping[str, FileRecord]) -> ScanDiff:
    """Verdict before/after and findings added/removed (by fingerprint) for the same bytes."""
    compared = 0
    changes: list[FileChange] = []
    for r in report.results:
        before = previous.get(r.sha256) if r.sha256 else None
        if before is None or r.sha256 is None:
            continue
        compared += 1
        now = {f.fingerprint: FindingKey(f.fingerprint, f.rule_id, f.subject) for f in r.findings}
        then = {k.fingerprint: k for k in before.findings}
        added = tuple(sorted((now[k] for k in now.keys() - then.keys()), key=_key_order))
        removed = tuple(sorted((then[k] for k in then.keys() - now.keys()), key=_key_order))
        if added or removed or before.verdict is not r.verdict:
            changes.append(
                FileChange(
                    path=r.path,
                    sha256=r.sha256,
                    previous_scan_id=before.scan_id,
                    ruleset_before=before.ruleset_version,
                    ruleset_after=report.ruleset_version,
                    verdict_before=before.verdict,
                    verdict_after=r.verdict,
                    added=added,
                    removed=removed,
                )
            )
    return ScanDiff(compared=compared, changes=tuple(changes))


def _key_order(k: FindingKey) -> tuple[str, str, str]:
    return (k.rule_id, k.subject, k.fingerprint)
