"""Command-line interface: the only module that prints or exits."""

from __future__ import annotations

import dataclasses
import functools
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from modelsieve import __version__

if TYPE_CHECKING:
    from modelsieve.baseline import Baseline
    from modelsieve.warm import WarmWorkers

_HELP = "What would happen if you loaded this model? Static scanner for ML model artifacts; never executes them."


def _typer() -> typer.Typer:
    return typer.Typer(
        name="modelsieve", help=_HELP, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
    )


# Typer turns every registered command into a click command on each run, which costs milliseconds per
# command: `modelsieve scan`, the command people and CI run most, runs an app holding only itself.
# ``app`` (the whole CLI, with the hub and triage commands) is built on first use.
_base = _typer()

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INCOMPLETE = 2
EXIT_USAGE = 3


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"
    html = "html"
    markdown = "markdown"


class RulesFormat(str, Enum):
    text = "text"
    markdown = "markdown"
    json = "json"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"modelsieve {__version__}")
        raise typer.Exit()


@_base.callback()
def main(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = None,
) -> None:
    """modelsieve: static security scanner for model files."""


_SCAN_HELP = """Scan files and folders and say what loading each one would do.

Exit codes:
  0  nothing reaches the --fail-on threshold, everything was analysed
  1  a file reaches the threshold (--strict: also any call or import
     outside the allow-list, rules PKL003/PKL004)
  2  nothing reaches the threshold, but a file was not fully analysed
     (inconclusive, not analysed, unreadable) or a path does not exist
  3  bad settings: unknown option or missing path on the command line,
     unreadable --config or --baseline, unknown key, unusable --cluster
     (dask missing, no scheduler or workers)

--fail-on takes a file verdict or a finding severity:
  suspicious  (default) fail on suspicious or malicious files
  malicious   fail only on malicious files
  info, low, medium, high, critical
              fail on any finding of at least this severity

Settings come from \\[tool.modelsieve] in ./pyproject.toml or from
--config FILE (keys: select, ignore, fail-on, strict, include-unloaded,
baseline); command-line options win. A pyproject.toml inside a folder
being scanned is never used unless named with --config.

Files that standard loading never reads (training_args.bin, optimizer
states, checkpoint-N/ folders, pytorch_model.bin beside model.safetensors,
shards not listed in the index) are reported and labelled, and count for
the verdict and exit code only with --include-unloaded.

--cluster ADDRESS scans on a Dask cluster (pip install
'modelsieve[distributed]'): a scheduler address such as
tcp://10.0.0.5:8786, or "local" for a cluster of --jobs processes on this
machine. Workers read the files themselves, so they must see them at the
same absolute paths (a shared filesystem); a file a worker cannot read or
fails on is reported inconclusive (GEN005/GEN006), never clean. The
scheduler and every worker need the same modelsieve version installed.
"""


@_base.command(help=_SCAN_HELP)
def scan(
    ctx: typer.Context,
    paths: Annotated[list[str], typer.Argument(help="Files and folders to scan.")],
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output format: text, json, sarif, html or markdown.")
    ] = OutputFormat.text,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the report to this file.")] = None,
    fail_on: Annotated[
        Optional[str],
        typer.Option(
            "--fail-on",
            metavar="LEVEL",
            help="Exit 1 at this level: suspicious (default), malicious, info, low, medium, high, critical.",
        ),
    ] = None,
    strict: Annotated[
        Optional[bool],
        typer.Option("--strict/--no-strict", help="Calls and imports outside the allow-list (PKL003/PKL004) fail."),
    ] = None,
    select: Annotated[Optional[list[str]], typer.Option(help="Only these rule ids (prefixes allowed).")] = None,
    ignore: Annotated[Optional[list[str]], typer.Option(help="Drop these rule ids (prefixes allowed).")] = None,
    include_unloaded: Annotated[
        Optional[bool],
        typer.Option(
            "--include-unloaded/--exclude-unloaded",
            help="Count files standard loading never reads (training_args.bin ...) in the verdict.",
        ),
    ] = None,
    allow_unknown: Annotated[
        bool,
        typer.Option(
            "--allow-unknown",
            help="Content that matches no known format does not make the exit code 2 (for pre-commit hooks).",
        ),
    ] = False,
    config: Annotated[
        Optional[Path], typer.Option("--config", help="Read settings from this TOML file.", dir_okay=False)
    ] = None,
    baseline: Annotated[
        Optional[Path],
        typer.Option("--baseline", help="Mark findings accepted in this baseline file as suppressed.", dir_okay=False),
    ] = None,
    write_baseline: Annotated[
        Optional[Path],
        typer.Option("--write-baseline", help="Write every current finding to this baseline file.", dir_okay=False),
    ] = None,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            help="Processes that scan (0 = one per core). For local files and folders the command forks its "
            "workers as it starts, so they are ready when the file list is; 1 scans in this process.",
        ),
    ] = 0,
    cluster: Annotated[
        Optional[str],
        typer.Option("--cluster", metavar="ADDRESS", help="Scan on a Dask scheduler (tcp://HOST:PORT) or 'local'."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show clean files and INFO findings.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress display on a terminal.")] = True,
    hash_files: Annotated[
        bool,
        typer.Option(
            "--hash",
            help="sha256 of every file in the report (by default only files up to 1 MiB, or all of them "
            "when a baseline or the triage database needs it).",
        ),
    ] = False,
    record: Annotated[bool, typer.Option("--record", help="Store this scan in the triage database.")] = False,
    db: Annotated[Optional[str], typer.Option("--db", help="Triage database URL (default: $MODELSIEVE_DB).")] = None,
) -> None:
    # Set first: from here on, an exit code is this command's own, not a usage error (see run()).
    state = ctx.obj if isinstance(ctx.obj, ScanRun) else ScanRun()
    state.started = True
    # Workers forked by modelsieve.entry when the command started (None in tests and on one core).
    warm = state.warm
    from modelsieve import config as config_mod
    from modelsieve.api import scan as run_scan
    from modelsieve.options import ScanOptions
    from modelsieve.verdict import Threshold, exit_status

    if any(p.startswith("@") for p in paths):  # @FILE: targets listed one per line, e.g. by `modelsieve hunt`
        from modelsieve.hub.hunt import expand_at_files

        paths = list(expand_at_files(paths))
    try:
        settings = config_mod.load(config, scan_targets=paths)
        threshold = Threshold.parse(fail_on) if fail_on is not None else settings.fail_on or Threshold()
        baseline_path = baseline or settings.baseline
        accepted = _load_baseline(baseline_path) if baseline_path is not None else None
    except (config_mod.ConfigError, ValueError, OSError) as exc:
        typer.echo(f"modelsieve: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    for warning in settings.warnings:
        typer.echo(f"modelsieve: warning: {warning}", err=True)
    options = ScanOptions(
        strict=_pick(strict, settings.strict, False),
        include_unloaded=_pick(include_unloaded, settings.include_unloaded, False),
        select=frozenset(s.upper() for s in (select if select is not None else settings.select or ())),
        ignore=frozenset(s.upper() for s in (ignore if ignore is not None else settings.ignore or ())),
        jobs=jobs,
        cluster=cluster,
        # Baselines match files by sha256, so every file must be hashed whatever its size.
        always_hash=hash_files or accepted is not None or write_baseline is not None,
    )
    from modelsieve.triage import cli as triage_cli

    db_url = triage_cli.scan_database(db, record)
    if db_url:  # review decisions are looked up by sha256 too
        options = dataclasses.replace(options, always_hash=True)
    from modelsieve.executors import ClusterError

    try:
        if progress and sys.stderr.isatty():
            report = _scan_with_progress(run_scan, paths, options, accepted, warm)
        else:
            report = run_scan(paths, options, baseline=accepted, warm=warm)
    except ClusterError as exc:
        typer.echo(f"modelsieve: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    report, review_text = triage_cli.review(report, db_url, record=record)
    if write_baseline is not None:
        from modelsieve import baseline as baseline_mod

        baseline_mod.write(write_baseline, baseline_mod.from_results(report.results))
        typer.echo(f"modelsieve: wrote baseline {write_baseline}", err=True)
    text = _render(report, output_format, verbose)
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    sys.stderr.write(review_text)
    raise typer.Exit(
        exit_status(
            report.results,
            threshold=threshold,
            strict=options.strict,
            include_unloaded=options.include_unloaded,
            missing=any(s.reason.startswith("no such") for s in report.skipped),
            allow_unknown=allow_unknown,
        )
    )


def _load_baseline(path: Path) -> Baseline:
    # Imported only when a baseline is used; BaselineError is a ValueError, reported as a usage error.
    from modelsieve import baseline as baseline_mod

    return baseline_mod.load(path)


def _pick(cli: bool | None, configured: bool | None, default: bool) -> bool:
    if cli is not None:
        return cli
    return configured if configured is not None else default


def _scan_with_progress(run_scan, paths, options, accepted, warm):  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]scanning"),
        BarColumn(),
        TextColumn("{task.completed} files"),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("scan", total=None)
        return run_scan(paths, options, progress=lambda _r: bar.advance(task), baseline=accepted, warm=warm)


def _render(report, output_format: OutputFormat, verbose: bool) -> str:  # type: ignore[no-untyped-def]
    if output_format is OutputFormat.json:
        from modelsieve.report import jsonfmt

        return jsonfmt.render(report)
    if output_format is OutputFormat.sarif:
        from modelsieve.report import sarif

        return sarif.render(report)
    if output_format is OutputFormat.html:
        from modelsieve.report import html

        return html.render(report)
    if output_format is OutputFormat.markdown:
        from modelsieve.report import markdown

        return markdown.render(report)
    from modelsieve.report import text

    return text.render(report, verbose=verbose)


def exit_code(report) -> int:  # type: ignore[no-untyped-def]
    """Exit code with the default threshold (see ``modelsieve scan --help``)."""
    from modelsieve.verdict import exit_status

    return exit_status(
        report.results,
        include_unloaded=report.summary.include_unloaded,
        missing=any(s.reason.startswith("no such") for s in report.skipped),
    )


@_base.command()
def rules(
    output_format: Annotated[
        RulesFormat, typer.Option("--format", "-f", help="text, markdown (as RULES.md) or json.")
    ] = RulesFormat.text,
) -> None:
    """List every rule with its permanent id, severity and title."""
    from modelsieve.rules.catalog import all_rules

    if output_format is RulesFormat.markdown:
        from modelsieve.report.rulesdoc import to_markdown

        sys.stdout.write(to_markdown())
        return
    if output_format is RulesFormat.json:
        from modelsieve.report.rulesdoc import to_json

        sys.stdout.write(to_json())
        return
    for rule in all_rules():
        typer.echo(f"{rule.id}  {rule.severity.value:<8} {rule.effect.value:<12} {rule.title}")


@functools.cache
def full_app() -> typer.Typer:
    """The whole command-line interface: scan, rules, hunt, compare and the triage group."""
    from modelsieve.hub.cli import register as register_hub_commands
    from modelsieve.triage.cli import app as triage_app

    register_hub_commands(_base)  # hunt, compare (after scan, so the help lists scan first)
    _base.add_typer(triage_app, name="triage")
    return _base


@functools.cache
def scan_app() -> typer.Typer:
    """An app holding only the scan command (and the --version callback), for `modelsieve scan ...`."""
    only = _typer()
    only.callback()(main)
    only.command(help=_SCAN_HELP)(scan)
    return only


def __getattr__(name: str) -> typer.Typer:
    if name == "app":
        return full_app()
    raise AttributeError(name)


@dataclasses.dataclass
class ScanRun:
    """What `modelsieve scan` hands its command: the warm workers, and whether the command body started."""

    warm: WarmWorkers | None = None
    started: bool = False


def run(warm: WarmWorkers | None = None) -> None:
    """Run the command line; ``warm``: workers forked for a scan before this module was imported."""
    if sys.argv[1:2] != ["scan"]:
        full_app()()
        return
    state = ScanRun(warm)
    try:
        scan_app()(obj=state)
    except SystemExit as exc:
        # typer exits 2 on a usage error, before the command runs; 2 means "not fully analysed" here.
        if exc.code == 2 and not state.started:
            raise SystemExit(EXIT_USAGE) from None
        raise


if __name__ == "__main__":
    run()
