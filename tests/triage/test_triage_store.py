"""The store against SQLite and PostgreSQL: round trips, migrations, atomicity, concurrency."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from triage_factories import finding, report, result, sha

from modelsieve.model import Effect, Status, Verdict
from modelsieve.triage.service import decision_context, diff_scan, prior_records
from modelsieve.triage.store import TriageStore, open_store
from modelsieve.triage.types import Decision, Target, TargetKind

A = sha("bytes A")
B = sha("bytes B")


def _decision(uid: str, target: str = A, status: Status = Status.KNOWN_FALSE_POSITIVE, at: str = "") -> Decision:
    return Decision(
        uid=uid,
        kind=TargetKind.SHA256,
        target=target,
        status=status,
        note=f"note {uid}",
        decided_by="bob",
        decided_at=at or "2026-11-22T10:00:00.000000+00:00",
        known_fingerprints=(finding().fingerprint,),
        known_sha256s=None,
    )


def _count(store: TriageStore, table: str) -> int:
    from sqlalchemy import text

    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_record_scan_round_trip(store: TriageStore) -> None:
    evil = finding("PKL001", "os.system", members=("archive/data.pkl",))
    scan = report(result("m.pt", A, evil), result("huge.bin", None), ruleset="2026.10.0")
    scan_id = store.record_scan(scan, repo="hf://acme/model", revision="abc123")
    records = store.latest_file_records([A, B])
    assert set(records) == {A}
    rec = records[A]
    assert (rec.scan_id, rec.path, rec.size, rec.verdict) == (scan_id, "m.pt", 123, Verdict.MALICIOUS)
    assert rec.formats == ("pickle",)
    assert rec.ruleset_version == "2026.10.0" and rec.tool_version == "0.1.0"
    assert [(k.fingerprint, k.rule_id, k.subject) for k in rec.findings] == [(evil.fingerprint, "PKL001", "os.system")]
    summary, files = store.latest_repo_scan("hf://acme/model") or (None, [])
    assert summary is not None and (summary.repo, summary.revision, summary.files) == ("hf://acme/model", "abc123", 2)
    assert {f.sha256 for f in files} == {A, None}
    assert store.latest_repo_scan("hf://nobody/else") is None
    (recent,) = store.recent_scans()
    assert recent.scan_id == scan_id and recent.targets == ("models",) and recent.files == 2


def test_latest_record_is_the_newest_scan_of_those_bytes(store: TriageStore) -> None:
    store.record_scan(report(result("m.pkl", A, finding()), ruleset="r1"))
    newest = store.record_scan(report(result("renamed.pkl", A), ruleset="r2"))
    rec = store.latest_file_records([A])[A]
    assert (rec.scan_id, rec.path, rec.ruleset_version, rec.findings) == (newest, "renamed.pkl", "r2", ())


def test_decisions_are_append_only_and_import_idempotent(store: TriageStore) -> None:
    first = _decision("u1", at="2026-11-22T09:00:00.000000+00:00")
    second = _decision("u2", status=Status.CONFIRMED_UNSAFE, at="2026-11-22T11:00:00.000000+00:00")
    assert store.add_decisions([second, first]) == 2
    assert store.add_decisions([first, second]) == 0
    history = store.decisions_for([A])
    assert [d.uid for d in history] == ["u1", "u2"]  # oldest first, whatever the insertion order
    assert history[0] == first
    assert store.decisions_for([B]) == []
    assert [d.uid for d in store.all_decisions()] == ["u1", "u2"]


def test_many_lookups_are_chunked(store: TriageStore) -> None:
    shas = [sha(str(i)) for i in range(1200)]
    store.add_decisions([_decision(f"d{i}", target=s) for i, s in enumerate(shas[:3])])
    assert len(store.decisions_for(shas)) == 3
    assert store.latest_file_records(shas) == {}


def test_crash_mid_write_leaves_no_half_written_scan(store: TriageStore) -> None:
    from sqlalchemy import event

    store.record_scan(report(result("before.pkl", B, finding())))
    inserts = {"findings": 0}

    def explode(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO TRIAGE_FINDINGS"):
            inserts["findings"] += 1
            raise RuntimeError("power cut")

    engine = store.engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", explode)
    try:
        with pytest.raises(RuntimeError, match="power cut"):
            store.record_scan(report(result("a.pkl", A, finding()), result("c.pkl", sha("c"), finding())))
    finally:
        event.remove(engine, "before_cursor_execute", explode)
    assert inserts["findings"] >= 1  # the scan and file rows were already sent when it failed
    assert _count(store, "triage_scans") == 1
    assert _count(store, "triage_files") == 1
    assert _count(store, "triage_findings") == 1
    assert A not in store.latest_file_records([A])
    # The store is still usable afterwards.
    store.record_scan(report(result("a.pkl", A, finding())))
    assert A in store.latest_file_records([A])


def test_threads_recording_at_once_lose_nothing(db_url: str) -> None:
    stores = [open_store(db_url) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def work(n: int, s: TriageStore) -> None:
        try:
            barrier.wait()
            for i in range(5):
                digest = sha(f"t{n}-{i}")
                s.record_scan(report(result(f"t{n}/{i}.pkl", digest, finding()), result("x", None)))
                s.add_decisions([_decision(f"t{n}-{i}", target=digest)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n, s)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    try:
        assert not errors, errors
        check = stores[0]
        assert _count(check, "triage_scans") == 20
        assert _count(check, "triage_files") == 40
        assert _count(check, "triage_findings") == 20
        assert len(check.all_decisions()) == 20
        assert len(check.latest_file_records(sha(f"t{n}-{i}") for n in range(4) for i in range(5))) == 20
    finally:
        for s in stores:
            s.close()


_WORKER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[3])
    from triage_factories import finding, report, result, sha
    from modelsieve.triage.store import open_store

    store = open_store(sys.argv[1])
    tag = sys.argv[2]
    for i in range(5):
        store.record_scan(report(result(f"{tag}/{i}.pkl", sha(f"{tag}-{i}"), finding(), finding(subject="exec"))))
    store.close()
    """
)


def test_processes_recording_at_once_lose_nothing(db_url: str) -> None:
    # Fresh database: the processes also race to create the schema.
    here = str(Path(__file__).parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, db_url, f"p{n}", here],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in outputs]
    with open_store(db_url) as check:  # type: ignore[attr-defined]
        assert _count(check, "triage_scans") == 15
        assert _count(check, "triage_findings") == 30
        assert len(check.latest_file_records(sha(f"p{n}-{i}") for n in range(3) for i in range(5))) == 15


def test_schema_matches_the_models_after_migration(store: TriageStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from modelsieve.triage.models import Base

    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert ctx.get_current_revision() == "0001"
        assert compare_metadata(ctx, Base.metadata) == []


def test_reopening_a_migrated_database_keeps_its_data(db_url: str) -> None:
    with open_store(db_url) as first:  # type: ignore[attr-defined]
        first.add_decisions([_decision("keep")])
    with open_store(db_url) as second:  # type: ignore[attr-defined]
        assert [d.uid for d in second.all_decisions()] == ["keep"]


def test_rule_set_update_diff_against_the_last_recorded_scan(store: TriageStore) -> None:
    noisy = finding("PKL010", "torch._utils._rebuild_tensor", effect=Effect.SUSPICIOUS)
    evil = finding("PKL001", "os.system")
    store.record_scan(report(result("m.pkl", A, noisy), ruleset="2026.10.0"))
    # Same bytes, newer rule set: a new finding makes it malicious.
    updated = report(result("m.pkl", A, noisy, evil), ruleset="2026.11.1")
    diff = diff_scan(updated, prior_records(store, updated))
    store.record_scan(updated)
    (change,) = diff.changes
    assert (change.verdict_before, change.verdict_after) == (Verdict.SUSPICIOUS, Verdict.MALICIOUS)
    assert (change.ruleset_before, change.ruleset_after) == ("2026.10.0", "2026.11.1")
    assert [k.rule_id for k in change.added] == ["PKL001"] and change.removed == ()
    # Recorded again with the same rules: nothing changed any more.
    again = diff_scan(updated, prior_records(store, updated))
    assert again.compared == 1 and again.changes == ()


def test_bad_url_is_a_clear_error(tmp_path: Path) -> None:
    from modelsieve.triage.types import TriageError

    with pytest.raises(TriageError, match="unsupported database URL scheme"):
        open_store("mysql://x/y")
    with pytest.raises(TriageError, match="cannot open the triage database"):
        open_store("postgresql://nobody@127.0.0.1:1/none")


def test_decision_context_pins_what_the_reviewer_saw(store: TriageStore) -> None:
    f1, f2 = finding(), finding(subject="builtins.exec")
    repo = "hf://acme/model"
    store.record_scan(report(result("a.pkl", A, f1), result("b.pkl", B, f2), targets=(repo,)), repo=repo)
    assert decision_context(store, Target(TargetKind.SHA256, A)) == ((f1.fingerprint,), None)
    fps, shas = decision_context(store, Target(TargetKind.REPO, repo))
    assert fps == tuple(sorted({f1.fingerprint, f2.fingerprint})) and shas == tuple(sorted({A, B}))
    assert decision_context(store, Target(TargetKind.SHA256, sha("never seen"))) == (None, None)
    assert decision_context(store, Target(TargetKind.FINGERPRINT, f1.fingerprint)) == (None, None)


def test_database_failing_mid_operation_is_a_triage_error(store: TriageStore) -> None:
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    from modelsieve.triage.types import TriageError

    def fail(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        raise OperationalError(statement, params, Exception("disk I/O error"))

    engine = store.engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", fail)
    try:
        with pytest.raises(TriageError, match=r"triage database error: .*disk I/O error"):
            store.record_scan(report(result("a.pkl", A, finding())))
        with pytest.raises(TriageError, match="disk I/O error"):
            store.decisions_for([A])
    finally:
        event.remove(engine, "before_cursor_execute", fail)
    assert store.all_decisions() == []
