"""``modelsieve triage …`` commands, and the hooks ``modelsieve scan`` uses to record and apply decisions.

Bad input (unknown status, unknown target form, malformed import) prints one
clear line and exits 2 before anything is written. Only typer and the standard
library are imported here at start-up; the database layer loads on first use.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from modelsieve.model import Report, Status
    from modelsieve.triage.store import TriageStore
    from modelsieve.triage.types import Decision, ScanDiff, Target

EXIT_BAD_INPUT = 2

app = typer.Typer(
    name="triage",
    help="Review decisions (Confirmed Unsafe, Known False Positive, Suspected) applied to every later scan.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DbOption = Annotated[
    Optional[str],
    typer.Option("--db", help="Database URL (sqlite:///PATH or postgresql+psycopg://…); default $MODELSIEVE_DB."),
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


@contextmanager
def _store(db: str | None, *, create: bool) -> Iterator[TriageStore | None]:
    """The store, or None when no database exists yet and ``create`` is false."""
    from modelsieve.triage.location import resolve_url
    from modelsieve.triage.store import open_store
    from modelsieve.triage.types import TriageError

    try:
        url = resolve_url(db, create=create)
        store = open_store(url) if url else None
    except TriageError as exc:
        raise _fail(str(exc)) from None
    try:
        yield store
    except TriageError as exc:
        raise _fail(str(exc)) from None
    finally:
        if store is not None:
            store.close()


def _target(text: str) -> Target:
    from modelsieve.triage.targets import parse_target
    from modelsieve.triage.types import TriageError

    try:
        return parse_target(text)
    except TriageError as exc:
        raise _fail(str(exc)) from None


def _status(text: str) -> Status:
    from modelsieve.triage.targets import parse_status
    from modelsieve.triage.types import TriageError

    try:
        return parse_status(text)
    except TriageError as exc:
        raise _fail(str(exc)) from None


@app.command("set")
def set_decision(
    target: Annotated[
        str, typer.Argument(help="sha256, file path (hashed), finding fingerprint v1:… or hf://owner/name.")
    ],
    status: Annotated[str, typer.Option("--status", "-s", help="confirmed-unsafe | false-positive | suspected")],
    note: Annotated[str, typer.Option("--note", "-n", help="Why (kept in the history).")],
    by: Annotated[Optional[str], typer.Option("--by", help="Reviewer name (default: the current user).")] = None,
    db: DbOption = None,
) -> None:
    """Record a decision on a file's bytes, a finding, or a repository (the latest decision wins)."""
    from modelsieve.triage.service import decision_context, new_decision
    from modelsieve.triage.sqlstore import now_iso
    from modelsieve.triage.types import TargetKind

    chosen = _status(status)
    parsed = _target(target)
    reviewer = (by or os.environ.get("MODELSIEVE_USER") or _current_user()).strip()
    if not reviewer:
        raise _fail("--by must not be empty")
    with _store(db, create=True) as store:
        assert store is not None
        if parsed.kind is TargetKind.SHA256 and parsed.source != parsed.value:
            # A file at hand: scan and record it now, so the decision pins exactly the findings seen today.
            _record_file(store, parsed.source)
        fingerprints, shas = decision_context(store, parsed)
        decision = new_decision(
            parsed, chosen, note.strip(), reviewer, now_iso(), known_fingerprints=fingerprints, known_sha256s=shas
        )
        store.add_decisions([decision])
    typer.echo(f"{decision.status.label}: {_name(parsed)} (by {reviewer})")
    if parsed.kind is not TargetKind.FINGERPRINT and fingerprints is None:
        typer.echo(
            "note: no recorded scan of this target; findings that appear later cannot be told from "
            "those you reviewed (scan it with --record first to pin them)",
            err=True,
        )


@app.command("list")
def list_decisions(
    status: Annotated[Optional[str], typer.Option("--status", "-s", help="Only this status.")] = None,
    db: DbOption = None,
) -> None:
    """Decisions in force (the latest per target)."""
    from modelsieve.triage.service import latest_by_target

    wanted = _status(status) if status else None
    with _store(db, create=False) as store:
        decisions = store.all_decisions() if store else []
    current = [d for d in latest_by_target(decisions).values() if wanted is None or d.status is wanted]
    if not current:
        typer.echo("no decisions")
        return
    for d in sorted(current, key=lambda d: (d.status.value, d.kind.value, d.target)):
        typer.echo(_decision_line(d))


@app.command("show")
def show(
    target: Annotated[str, typer.Argument(help="sha256, file path, fingerprint v1:… or hf://owner/name.")],
    db: DbOption = None,
) -> None:
    """The decision in force on a target and what the last recorded scan saw."""
    from modelsieve.triage.service import latest_by_target

    parsed = _target(target)
    with _store(db, create=False) as store:
        history = store.decisions_for([parsed.value]) if store else []
        lines = [f"target: {_name(parsed)}"]
        current = latest_by_target(history).get(parsed.value)
        lines.append(f"status: {_decision_line(current)}" if current else "status: no decision")
        lines.append(f"history: {len(history)} decision(s)")
        if store is not None:
            lines.extend(_recorded_lines(store, parsed))
    typer.echo("\n".join(lines))


@app.command("history")
def history(
    target: Annotated[str, typer.Argument(help="sha256, file path, fingerprint v1:… or hf://owner/name.")],
    db: DbOption = None,
) -> None:
    """Every decision ever made on a target, oldest first (the last one is in force)."""
    parsed = _target(target)
    with _store(db, create=False) as store:
        decisions = store.decisions_for([parsed.value]) if store else []
    if not decisions:
        typer.echo(f"no decisions on {_name(parsed)}")
        return
    for d in sorted(decisions, key=lambda d: d.decided_at):
        typer.echo(_decision_line(d))


@app.command("export")
def export(
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Write to this file (default stdout).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Every decision (full history) as JSON with a schema version."""
    from modelsieve import __version__
    from modelsieve.triage.exchange import export_json
    from modelsieve.triage.sqlstore import now_iso

    with _store(db, create=False) as store:
        decisions = store.all_decisions() if store else []
    text = export_json(decisions, exported_at=now_iso(), tool_version=__version__)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"exported {len(decisions)} decision(s) to {output}", err=True)


@app.command("import")
def import_(
    source: Annotated[str, typer.Argument(help="A file written by `triage export`, or - for stdin.")],
    db: DbOption = None,
) -> None:
    """Add decisions from an export; decisions already present are skipped (importing twice changes nothing)."""
    from modelsieve.triage.exchange import parse_import
    from modelsieve.triage.types import TriageError

    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"cannot read {source!r}: {exc}") from None
    try:
        decisions = parse_import(text)
    except TriageError as exc:
        raise _fail(f"{source}: {exc}") from None
    with _store(db, create=True) as store:
        assert store is not None
        added = store.add_decisions(decisions)
    typer.echo(f"imported {added} new decision(s); {len(decisions) - added} already present")


@app.command("scans")
def scans(
    limit: Annotated[int, typer.Option("--limit", help="How many.")] = 20,
    db: DbOption = None,
) -> None:
    """The most recently recorded scans."""
    with _store(db, create=False) as store:
        rows = store.recent_scans(limit) if store else []
    if not rows:
        typer.echo("no recorded scans")
    for s in rows:
        repo = f"  {s.repo}@{s.revision or '?'}" if s.repo else ""
        typer.echo(
            f"#{s.scan_id}  {s.recorded_at[:19]}  {s.verdict.value:<12} {s.files} file(s)  "
            f"rules {s.ruleset_version}  {' '.join(s.targets)}{repo}"
        )


# -- hooks for `modelsieve scan` ------------------------------------------------------------------


def scan_database(db: str | None, record: bool) -> str | None:
    """The database a scan uses: given, from the environment, or the default file if it exists (or --record)."""
    from modelsieve.triage.errors import TriageError
    from modelsieve.triage.location import resolve_url

    try:
        return resolve_url(db, create=record)
    except TriageError as exc:
        raise _fail(str(exc)) from None


def review(
    report: Report,
    url: str | None,
    *,
    record: bool,
    repo: str | None = None,
    revision: str | None = None,
) -> tuple[Report, str]:
    """Record the scan (when asked) and apply the decisions in force; return the report and the diff text."""
    if url is None:
        return report, ""
    from modelsieve.triage.service import (
        apply_decisions,
        diff_scan,
        latest_by_target,
        lookup_targets,
        prior_records,
        repo_identity,
    )
    from modelsieve.triage.store import open_store
    from modelsieve.triage.types import TriageError

    if repo is None:
        repo, found_revision = repo_identity(report)
        revision = revision or found_revision
    diff_text = ""
    try:
        store = open_store(url)
        try:
            if record:
                diff = diff_scan(report, prior_records(store, report))
                store.record_scan(report, repo=repo, revision=revision)
                diff_text = format_diff(diff)
            decisions = latest_by_target(store.decisions_for(lookup_targets(report, repo)))
        finally:
            store.close()
    except TriageError as exc:
        raise _fail(str(exc)) from None
    return apply_decisions(report, decisions, repo=repo), diff_text


def format_diff(diff: ScanDiff) -> str:
    """The changes since the last recorded scan of the same bytes, for people."""
    if not diff.compared:
        return "Recorded. No earlier recorded scan of these files' bytes to compare with.\n"
    if not diff.changes:
        return f"Recorded. No change since the last recorded scan ({diff.compared} file(s) compared).\n"
    lines = [f"Changes since the last recorded scan of the same bytes ({diff.compared} file(s) compared):"]
    for c in diff.changes:
        verdict = f"{c.verdict_before.value} -> {c.verdict_after.value}" if c.verdict_changed else c.verdict_after.value
        lines.append(
            f"  {c.path} [{c.sha256[:12]}]: {verdict} (rules {c.ruleset_before} -> {c.ruleset_after}, "
            f"scan #{c.previous_scan_id})"
        )
        lines.extend(f"    + {k.rule_id} {k.subject}  {k.fingerprint}" for k in c.added)
        lines.extend(f"    - {k.rule_id} {k.subject}  {k.fingerprint}" for k in c.removed)
    return "\n".join(lines) + "\n"


# -- helpers --------------------------------------------------------------------------------------


def _record_file(store: TriageStore, path: str) -> None:
    from modelsieve.api import scan as run_scan
    from modelsieve.options import ScanOptions

    store.record_scan(run_scan([path], ScanOptions(always_hash=True, jobs=1)))


def _recorded_lines(store: TriageStore, target: Target) -> list[str]:
    from modelsieve.triage.types import TargetKind

    if target.kind is TargetKind.SHA256:
        record = store.latest_file_records([target.value]).get(target.value)
        if record is None:
            return ["last recorded scan: none"]
        lines = [
            f"last recorded scan: #{record.scan_id} {record.recorded_at[:19]} {record.path} "
            f"verdict {record.verdict.value} (rules {record.ruleset_version})"
        ]
        lines.extend(f"  {k.rule_id} {k.subject}  {k.fingerprint}" for k in record.findings)
        return lines
    if target.kind is TargetKind.REPO:
        found = store.latest_repo_scan(target.value)
        if found is None:
            return ["last recorded scan: none"]
        summary, files = found
        lines = [
            f"last recorded scan: #{summary.scan_id} {summary.recorded_at[:19]} revision {summary.revision or '?'} "
            f"verdict {summary.verdict.value} (rules {summary.ruleset_version})"
        ]
        lines.extend(f"  {f.verdict.value:<12} {f.path} [{(f.sha256 or '?')[:12]}]" for f in files)
        return lines
    return []


def _decision_line(d: Decision) -> str:
    note = f"  — {d.note}" if d.note else ""
    return f"{d.status.label:<20} {d.kind.value:<11} {d.target}  by {d.decided_by} at {d.decided_at[:19]}{note}"


def _name(target: Target) -> str:
    if target.source and target.source != target.value:
        return f"{target.value} ({target.source})"
    return target.value


def _current_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
