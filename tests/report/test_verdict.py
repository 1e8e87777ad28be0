"""File and repository verdicts, automatic review statuses, and the exit-code gate."""

from __future__ import annotations

import dataclasses

from modelsieve.model import (
    Behaviour,
    BehaviourKind,
    Confidence,
    FileResult,
    Finding,
    Indicator,
    IndicatorKind,
    Location,
    Status,
    Verdict,
)
from modelsieve.rules import general, indicators_rules, pickle_rules
from modelsieve.verdict import (
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    EXIT_OK,
    Threshold,
    auto_status,
    exit_status,
    failing_files,
    file_verdict,
    repo_verdict,
)

LOC = Location("repo/model.bin")


def _rce() -> Finding:
    return pickle_rules.DANGEROUS_CALL.finding(
        LOC.at(offset=3),
        "calls os.system('id')",
        subject="os.system",
        behaviour=Behaviour(BehaviourKind.RUNS_COMMAND, "runs shell command `id`"),
    )


def _result(path: str, findings: tuple[Finding, ...], loaded: bool = True) -> FileResult:
    verdict, reasons = file_verdict(findings)
    return FileResult(
        path=path,
        size=1,
        sha256="0" * 64,
        formats=("pickle",),
        verdict=verdict,
        reasons=reasons,
        findings=findings,
        status=auto_status(verdict, findings),
        loaded_by_default=loaded,
    )


def test_clean_without_findings() -> None:
    verdict, reasons = file_verdict(())
    assert verdict is Verdict.CLEAN
    assert len(reasons) == 1
    assert auto_status(verdict) is Status.NO_FINDINGS


def test_malicious_reason_names_the_behaviour_in_at_most_two_lines() -> None:
    extra = pickle_rules.UNKNOWN_CALL.finding(LOC, "calls x.y", subject="x.y")
    findings = (_rce(), _rce(), extra, pickle_rules.DANGEROUS_REFERENCE.finding(LOC, "refs eval", subject="eval"))
    verdict, reasons = file_verdict(findings)
    assert verdict is Verdict.MALICIOUS
    assert 1 <= len(reasons) <= 2
    assert reasons[0] == "runs shell command `id` (PKL001)"


def test_scanner_alone_never_confirms_only_suspects() -> None:
    # Confirmed Unsafe is a reviewer's decision (triage), never automatic.
    assert auto_status(Verdict.MALICIOUS, (_rce(),)) is Status.SUSPECTED
    weak = dataclasses.replace(_rce(), confidence=Confidence.MEDIUM)
    assert auto_status(Verdict.MALICIOUS, (weak,)) is Status.SUSPECTED
    getattr_ = pickle_rules.UNRESOLVED_INDIRECTION.finding(LOC, "getattr", subject="builtins.getattr")
    verdict, _ = file_verdict((getattr_,))
    assert verdict is Verdict.SUSPICIOUS
    assert auto_status(verdict, (getattr_,)) is Status.SUSPECTED


def test_suppressed_findings_do_not_count_and_mark_a_known_false_positive() -> None:
    suppressed = dataclasses.replace(_rce(), suppressed="reviewed by sec team")
    verdict, _ = file_verdict((suppressed,))
    assert verdict is Verdict.CLEAN
    assert auto_status(verdict, (suppressed,)) is Status.KNOWN_FALSE_POSITIVE


def test_capability_plus_risky_url_is_malicious() -> None:
    net = pickle_rules.DANGEROUS_REFERENCE.finding(
        LOC, "references urllib.request.urlopen", behaviour=Behaviour(BehaviourKind.NETWORK, "opens a URL")
    )
    url = indicators_rules.RISKY_URL.finding(
        LOC, "paste site", indicators=(Indicator(IndicatorKind.URL, "https://pastebin.com/raw/x"),)
    )
    assert file_verdict((net,))[0] is Verdict.SUSPICIOUS
    assert file_verdict((net, url))[0] is Verdict.MALICIOUS


def test_inconclusive_is_never_clean() -> None:
    verdict, reasons = file_verdict((general.PARSE_ERROR.finding(LOC, "truncated at offset 9"),))
    assert verdict is Verdict.INCONCLUSIVE
    assert "truncated" in reasons[0]


def test_repo_verdict_names_deciding_files_and_aggregates_status() -> None:
    bad = _result("repo/pytorch_model.bin", (_rce(),))
    ok = _result("repo/config.json", ())
    s = repo_verdict([ok, bad])
    assert s.verdict is Verdict.MALICIOUS
    assert s.deciding == ("repo/pytorch_model.bin",)
    assert s.status is Status.SUSPECTED
    assert s.reasons[0].startswith("repo/pytorch_model.bin: runs shell command")


def test_repo_verdict_labels_unloaded_files() -> None:
    unloaded = _result("repo/training_args.bin", (_rce(),), loaded=False)
    ok = _result("repo/model.safetensors", ())
    s = repo_verdict([ok, unloaded])
    assert s.verdict is Verdict.CLEAN and s.status is Status.NO_FINDINGS
    assert s.unloaded_verdict is Verdict.MALICIOUS
    assert s.unloaded == ("repo/training_args.bin",)
    assert "weighed separately" in s.reasons[-1]
    counted = repo_verdict([ok, unloaded], include_unloaded=True)
    assert counted.verdict is Verdict.MALICIOUS and counted.include_unloaded
    assert "not read by standard loading" in counted.reasons[0]


def test_threshold_parsing() -> None:
    assert Threshold.parse("malicious").verdict is Verdict.MALICIOUS
    assert Threshold.parse("HIGH").severity is not None
    try:
        Threshold.parse("everything")
    except ValueError as exc:
        assert "suspicious" in str(exc)
    else:
        raise AssertionError("accepted an unknown level")


def test_exit_status_by_verdict_and_severity() -> None:
    getattr_ = pickle_rules.UNRESOLVED_INDIRECTION.finding(LOC, "getattr", subject="builtins.getattr")
    suspicious = _result("a.bin", (getattr_,))
    malicious = _result("b.bin", (_rce(),))
    clean = _result("c.bin", ())
    assert exit_status([clean]) == EXIT_OK
    assert exit_status([suspicious]) == EXIT_FINDINGS
    assert exit_status([suspicious], threshold=Threshold.parse("malicious")) == EXIT_OK
    assert exit_status([malicious], threshold=Threshold.parse("malicious")) == EXIT_FINDINGS
    assert exit_status([suspicious], threshold=Threshold.parse("critical")) == EXIT_OK
    assert exit_status([suspicious], threshold=Threshold.parse("high")) == EXIT_FINDINGS
    url = indicators_rules.URL.finding(LOC, "URL", indicators=(Indicator(IndicatorKind.URL, "https://x.org"),))
    info_only = _result("d.bin", (url,))
    assert exit_status([info_only]) == EXIT_OK
    assert exit_status([info_only], threshold=Threshold.parse("info")) == EXIT_FINDINGS


def test_exit_status_incomplete_and_missing() -> None:
    broken = _result("e.bin", (general.PARSE_ERROR.finding(LOC, "truncated"),))
    assert exit_status([broken]) == EXIT_INCOMPLETE
    # A parse error is incompleteness, not a finding about content, even with a severity threshold.
    assert exit_status([broken], threshold=Threshold.parse("low")) == EXIT_INCOMPLETE
    assert exit_status([], missing=True) == EXIT_INCOMPLETE
    assert exit_status([broken, _result("b.bin", (_rce(),))]) == EXIT_FINDINGS


def test_strict_fails_on_unknown_globals_below_threshold() -> None:
    unknown = pickle_rules.UNKNOWN_CALL.finding(LOC, "calls mypkg.build", subject="mypkg.build")
    needs = pickle_rules.NEEDS_CODE.finding(LOC, "needs __main__.Net", subject="__main__.Net")
    for finding in (unknown, needs):
        result = _result("f.bin", (finding,))
        assert exit_status([result], threshold=Threshold.parse("malicious")) == EXIT_OK
        assert exit_status([result], threshold=Threshold.parse("malicious"), strict=True) == EXIT_FINDINGS
    suppressed = _result("g.bin", (dataclasses.replace(unknown, suppressed="ok"),))
    assert exit_status([suppressed], strict=True) == EXIT_OK


def test_unloaded_files_gate_only_when_included() -> None:
    unloaded = _result("training_args.bin", (_rce(),), loaded=False)
    assert exit_status([unloaded]) == EXIT_OK
    assert exit_status([unloaded], include_unloaded=True) == EXIT_FINDINGS
    assert failing_files([unloaded], Threshold(), include_unloaded=True) == (unloaded,)
