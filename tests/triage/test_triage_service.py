"""Applying decisions to reports, and diffs against earlier recorded scans (pure functions, no database)."""

from __future__ import annotations

from triage_factories import finding, report, result, sha

from modelsieve.model import Effect, Status, Verdict
from modelsieve.triage.service import apply_decisions, diff_scan, latest_by_target, lookup_targets, repo_identity
from modelsieve.triage.types import Decision, FileRecord, FindingKey, TargetKind
from modelsieve.verdict import exit_status

A = sha("bytes A")
B = sha("bytes B")


def decision(
    target: str,
    status: Status,
    *,
    kind: TargetKind = TargetKind.SHA256,
    at: str = "2026-11-22T10:00:00.000000+00:00",
    known: tuple[str, ...] | None = None,
    shas: tuple[str, ...] | None = None,
    uid: str | None = None,
) -> Decision:
    return Decision(
        uid=uid or f"{target[-8:]}-{status.value}-{at}",
        kind=kind,
        target=target,
        status=status,
        note="reviewed",
        decided_by="alice",
        decided_at=at,
        known_fingerprints=known,
        known_sha256s=shas,
    )


def test_false_positive_on_the_same_bytes_stops_failing() -> None:
    evil = finding()
    scan = report(result("model.pkl", A, evil))
    assert exit_status(scan.results) == 1
    fp = decision(A, Status.KNOWN_FALSE_POSITIVE, known=(evil.fingerprint,))
    triaged = apply_decisions(scan, {A: fp})
    (r,) = triaged.results
    assert r.status is Status.KNOWN_FALSE_POSITIVE
    assert r.verdict is Verdict.MALICIOUS  # the scanner's verdict is kept, only the status changes
    assert "alice" in (r.review_note or "")
    assert triaged.summary.status is Status.KNOWN_FALSE_POSITIVE
    assert exit_status(triaged.results) == 0


def test_false_positive_does_not_follow_changed_bytes() -> None:
    fp = decision(A, Status.KNOWN_FALSE_POSITIVE, known=(finding().fingerprint,))
    triaged = apply_decisions(report(result("model.pkl", B, finding())), {A: fp})
    assert triaged.results[0].status is not Status.KNOWN_FALSE_POSITIVE
    assert exit_status(triaged.results) == 1


def test_false_positive_reopens_when_a_new_finding_appears() -> None:
    old = finding("PKL001", "os.system")
    new = finding("PKL001", "subprocess.Popen")
    fp = decision(A, Status.KNOWN_FALSE_POSITIVE, known=(old.fingerprint,))
    triaged = apply_decisions(report(result("model.pkl", A, old, new)), {A: fp})
    (r,) = triaged.results
    assert r.status is not Status.KNOWN_FALSE_POSITIVE
    assert "new finding" in (r.review_note or "")
    assert "subprocess.Popen" in (r.review_note or "")
    assert exit_status(triaged.results) == 1


def test_a_new_informational_finding_does_not_reopen_a_false_positive() -> None:
    old = finding("PKL001", "os.system")
    info = finding("IND001", "https://example.org", effect=Effect.NONE)
    fp = decision(A, Status.KNOWN_FALSE_POSITIVE, known=(old.fingerprint,))
    triaged = apply_decisions(report(result("model.pkl", A, old, info)), {A: fp})
    assert triaged.results[0].status is Status.KNOWN_FALSE_POSITIVE
    assert exit_status(triaged.results) == 0


def test_false_positive_without_known_findings_covers_the_bytes() -> None:
    fp = decision(A, Status.KNOWN_FALSE_POSITIVE, known=None)
    triaged = apply_decisions(report(result("model.pkl", A, finding(), finding(subject="builtins.exec"))), {A: fp})
    assert triaged.results[0].status is Status.KNOWN_FALSE_POSITIVE


def test_confirmed_unsafe_fails_even_when_the_rules_now_say_clean() -> None:
    clean = report(result("model.safetensors", A))
    assert exit_status(clean.results) == 0
    triaged = apply_decisions(clean, {A: decision(A, Status.CONFIRMED_UNSAFE)})
    (r,) = triaged.results
    assert r.verdict is Verdict.CLEAN
    assert r.status is Status.CONFIRMED_UNSAFE
    assert triaged.summary.status is Status.CONFIRMED_UNSAFE
    assert exit_status(triaged.results) == 1


def test_false_positive_on_a_fingerprint_suppresses_only_that_finding() -> None:
    noisy = finding("PKL010", "torch._utils._rebuild_tensor", effect=Effect.SUSPICIOUS)
    evil = finding("PKL001", "os.system")
    scan = report(result("model.pkl", A, noisy, evil))
    fp = decision(noisy.fingerprint, Status.KNOWN_FALSE_POSITIVE, kind=TargetKind.FINGERPRINT)
    (r,) = apply_decisions(scan, {noisy.fingerprint: fp}).results
    assert len(r.findings) == 2  # kept, only marked
    by_rule = {f.rule_id: f for f in r.findings}
    assert by_rule["PKL010"].suppressed is not None and "False Positive" in by_rule["PKL010"].suppressed
    assert by_rule["PKL001"].suppressed is None
    assert r.verdict is Verdict.MALICIOUS


def test_suppressing_every_decisive_finding_makes_the_file_clean_and_known_fp() -> None:
    noisy = finding("PKL010", "torch._utils._rebuild_tensor", effect=Effect.SUSPICIOUS)
    scan = report(result("model.pkl", A, noisy))
    assert exit_status(scan.results) == 1
    fp = decision(noisy.fingerprint, Status.KNOWN_FALSE_POSITIVE, kind=TargetKind.FINGERPRINT)
    triaged = apply_decisions(scan, {noisy.fingerprint: fp})
    (r,) = triaged.results
    assert r.verdict is Verdict.CLEAN
    assert r.status is Status.KNOWN_FALSE_POSITIVE
    assert exit_status(triaged.results) == 0


def test_confirmed_unsafe_fingerprint_marks_its_file() -> None:
    f = finding("PKL010", "torch.load", effect=Effect.SUSPICIOUS)
    cu = decision(f.fingerprint, Status.CONFIRMED_UNSAFE, kind=TargetKind.FINGERPRINT)
    (r,) = apply_decisions(report(result("a.pkl", B, f)), {f.fingerprint: cu}).results
    assert r.status is Status.CONFIRMED_UNSAFE
    assert f.fingerprint in (r.review_note or "")


def test_latest_decision_wins_by_time_not_by_list_order() -> None:
    early = decision(A, Status.KNOWN_FALSE_POSITIVE, at="2026-11-22T09:00:00.000000+00:00")
    late = decision(A, Status.SUSPECTED, at="2026-11-22T11:00:00.000000+00:00")
    assert latest_by_target([late, early])[A] is late
    assert latest_by_target([early, late])[A] is late
    (r,) = apply_decisions(report(result("m.pkl", A, finding())), latest_by_target([late, early])).results
    assert r.status is Status.SUSPECTED


def test_repository_false_positive_covers_the_reviewed_files_only() -> None:
    f = finding()
    repo = "hf://acme/model"
    fp = decision(repo, Status.KNOWN_FALSE_POSITIVE, kind=TargetKind.REPO, known=(f.fingerprint,), shas=(A,))
    scan = report(result("a.pkl", A, f), result("b.pkl", B, f), targets=(repo,))
    triaged = apply_decisions(scan, {repo: fp}, repo=repo)
    statuses = {r.path: r.status for r in triaged.results}
    assert statuses["a.pkl"] is Status.KNOWN_FALSE_POSITIVE
    assert statuses["b.pkl"] is not Status.KNOWN_FALSE_POSITIVE
    assert exit_status(triaged.results) == 1
    assert any(repo in line for line in triaged.summary.reasons)


def test_repository_confirmed_unsafe_marks_every_file() -> None:
    repo = "hf://acme/model"
    scan = report(result("config.json", A), result("model.pkl", B, finding()), targets=(repo,))
    triaged = apply_decisions(scan, {repo: decision(repo, Status.CONFIRMED_UNSAFE, kind=TargetKind.REPO)}, repo=repo)
    assert {r.status for r in triaged.results} == {Status.CONFIRMED_UNSAFE}
    assert triaged.summary.status is Status.CONFIRMED_UNSAFE
    assert exit_status(triaged.results) == 1


def test_no_decisions_leaves_the_report_as_it_was() -> None:
    scan = report(result("a.pkl", A, finding()), result("b.bin", None))
    assert apply_decisions(scan, {}) == scan


def test_lookup_targets_and_repo_identity() -> None:
    f = finding()
    scan = report(result("a.pkl", A, f), result("b.bin", None), targets=("hf://acme/model@main",))
    assert lookup_targets(scan, "hf://acme/model") == {A, f.fingerprint, "hf://acme/model"}
    assert repo_identity(scan) == ("hf://acme/model", "main")
    assert repo_identity(report(targets=("hf://acme/model/weights.bin", "hf://acme/model@v1"))) == (
        "hf://acme/model",
        "v1",
    )
    assert repo_identity(report(targets=("hf://datasets/acme/data",))) == ("hf://datasets/acme/data", None)
    assert repo_identity(report(targets=("hf://a/x", "hf://b/y"))) == (None, None)
    assert repo_identity(report(result("a.pkl", A))) == (None, None)


def _record(digest: str, verdict: Verdict, *keys: FindingKey, ruleset: str = "2026.10.0") -> FileRecord:
    return FileRecord(
        scan_id=7,
        path="old/path.pkl",
        sha256=digest,
        size=123,
        formats=("pickle",),
        verdict=verdict,
        status=Status.SUSPECTED,
        findings=keys,
        ruleset_version=ruleset,
        tool_version="0.0.9",
        recorded_at="2026-11-01T00:00:00+00:00",
    )


def test_diff_reports_verdict_and_findings_changed_by_a_rule_set_update() -> None:
    kept = finding("PKL010", "torch._utils._rebuild_tensor", effect=Effect.SUSPICIOUS)
    added = finding("PKL001", "os.system")
    gone = FindingKey("v1:" + "0" * 32, "PKL099", "retired.rule")
    previous = {A: _record(A, Verdict.SUSPICIOUS, FindingKey(kept.fingerprint, "PKL010", kept.subject), gone)}
    diff = diff_scan(report(result("m.pkl", A, kept, added), ruleset="2026.11.1"), previous)
    assert diff.compared == 1
    (change,) = diff.changes
    assert (change.verdict_before, change.verdict_after) == (Verdict.SUSPICIOUS, Verdict.MALICIOUS)
    assert (change.ruleset_before, change.ruleset_after) == ("2026.10.0", "2026.11.1")
    assert [k.fingerprint for k in change.added] == [added.fingerprint]
    assert change.removed == (gone,)
    assert change.previous_scan_id == 7
    assert diff.verdict_changes == (change,)


def test_diff_is_empty_when_nothing_changed_and_ignores_unknown_bytes() -> None:
    f = finding()
    previous = {A: _record(A, Verdict.MALICIOUS, FindingKey(f.fingerprint, f.rule_id, f.subject))}
    diff = diff_scan(report(result("m.pkl", A, f), result("new.pkl", B, f), result("huge.bin", None)), previous)
    assert diff.compared == 1
    assert diff.changes == ()
