"""Command-line interface: the only module that prints or exits."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from modelsieve import __version__

app = typer.Typer(
    name="modelsieve",
    help="What would happen if you loaded this model? Static scanner for ML model artifacts; never executes them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INCOMPLETE = 2


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"modelsieve {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = None,
) -> None:
    """modelsieve: static security scanner for model files."""


@app.command()
def scan(
    paths: Annotated[list[str], typer.Argument(help="Files and folders to scan.")],
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.text,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the report to this file.")] = None,
    strict: Annotated[bool, typer.Option(help="Treat unknown callables as failures.")] = False,
    select: Annotated[Optional[list[str]], typer.Option(help="Only these rule ids (prefixes allowed).")] = None,
    ignore: Annotated[Optional[list[str]], typer.Option(help="Drop these rule ids (prefixes allowed).")] = None,
    include_unloaded: Annotated[
        bool, typer.Option(help="Count files standard loading never reads (training_args.bin ...) in the verdict.")
    ] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Worker processes (0 = one per core).")] = 0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show clean files and INFO findings.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress display on a terminal.")] = True,
) -> None:
    """Scan files and folders and say what loading each one would do."""
    from modelsieve.api import scan as run_scan
    from modelsieve.options import ScanOptions

    options = ScanOptions(
        strict=strict,
        include_unloaded=include_unloaded,
        select=frozenset(select or ()),
        ignore=frozenset(ignore or ()),
        jobs=jobs,
    )
    if progress and sys.stderr.isatty():
        report = _scan_with_progress(run_scan, paths, options)
    else:
        report = run_scan(paths, options)
    text = _render(report, output_format, verbose)
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    raise typer.Exit(exit_code(report))


def _scan_with_progress(run_scan, paths, options):  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]scanning"), BarColumn(), TextColumn("{task.completed} files"), TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("scan", total=None)
        return run_scan(paths, options, progress=lambda _r: bar.advance(task))


def _render(report, output_format: OutputFormat, verbose: bool) -> str:  # type: ignore[no-untyped-def]
    if output_format is OutputFormat.json:
        from modelsieve.report import jsonfmt

        return jsonfmt.render(report)
    from modelsieve.report import text

    return text.render(report, verbose=verbose)


def exit_code(report) -> int:  # type: ignore[no-untyped-def]
    """1 when any file is suspicious or malicious; else 2 when anything was not fully analysed."""
    from modelsieve.model import Verdict

    verdicts = {r.verdict for r in report.results}
    if verdicts & {Verdict.MALICIOUS, Verdict.SUSPICIOUS}:
        return EXIT_FINDINGS
    if verdicts & {Verdict.INCONCLUSIVE, Verdict.NOT_ANALYSED} or any(
        s.reason.startswith("no such") for s in report.skipped
    ):
        return EXIT_INCOMPLETE
    return EXIT_OK


@app.command()
def rules(
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.text,
) -> None:
    """List every rule with its permanent id, severity and title."""
    from modelsieve.rules.catalog import all_rules

    for rule in all_rules():
        typer.echo(f"{rule.id}  {rule.severity.value:<8} {rule.effect.value:<12} {rule.title}")


def run() -> None:
    app()


if __name__ == "__main__":
    run()
