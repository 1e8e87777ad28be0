"""The ``hunt`` and ``compare`` commands, registered into the main CLI by ``register``.

Only typer is imported at module load; everything else is imported when a command runs.
"""

from __future__ import annotations

import re
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.I)
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "m": 1000**2,
    "g": 1000**3,
    "t": 1000**4,
    "ki": 1024,
    "mi": 1024**2,
    "gi": 1024**3,
    "ti": 1024**4,
}


def parse_size(text: str) -> int:
    """``1GB``, ``500MiB``, ``2048`` -> bytes (GB = 10^9, GiB = 2^30)."""
    m = _SIZE.match(text)
    if not m:
        raise typer.BadParameter(f"not a size: {text!r} (examples: 1GB, 500MB, 2048)")
    unit = (m.group(2) or "").lower().rstrip("b")
    if unit not in _UNITS:
        raise typer.BadParameter(f"unknown unit in {text!r}")
    return int(float(m.group(1)) * _UNITS[unit])


class HuntFormat(str, Enum):
    lines = "lines"
    json = "json"


class CompareFormat(str, Enum):
    markdown = "markdown"
    json = "json"


def hub_options(token: str | None, endpoint: str | None, max_size: str | None) -> object:
    """HubOptions from command-line values (None: environment / defaults)."""
    from modelsieve.hub.client import HubConfig
    from modelsieve.hub.scan import HubOptions

    return HubOptions(
        config=HubConfig(endpoint=endpoint, token=token),
        max_file_size=parse_size(max_size) if max_size else None,
    )


def hunt(
    search: Annotated[
        Optional[list[str]], typer.Option("--search", "-s", help="Search word (repeatable); none lists everything.")
    ] = None,
    research_words: Annotated[
        bool, typer.Option(help="Search the words research used: malicious, exploit, poc, deserialization, ace.")
    ] = False,
    max_size: Annotated[str, typer.Option(help="Largest total repository size.")] = "1GB",
    max_downloads: Annotated[int, typer.Option(help="Only repositories with fewer monthly downloads.")] = 10_000,
    only_hub_unsafe: Annotated[bool, typer.Option(help="Only repositories the Hub already marks unsafe.")] = False,
    limit: Annotated[int, typer.Option(help="Stop after this many candidates.")] = 100,
    listing_limit: Annotated[int, typer.Option(help="Repositories listed per search word.")] = 1000,
    output_format: Annotated[HuntFormat, typer.Option("--format", "-f", help="One hf:// id per line, or JSON.")] = (
        HuntFormat.lines
    ),
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the list to this file.")] = None,
    token: Annotated[Optional[str], typer.Option(help="Hub token (default: HF_TOKEN).")] = None,
    endpoint: Annotated[Optional[str], typer.Option(help="Hub endpoint (default: HF_ENDPOINT).")] = None,
) -> None:
    """List Hub repositories worth scanning: risky formats, small, little downloaded. Feed the list to scan @FILE."""
    from modelsieve.hub.client import HubClient, HubConfig, HubError
    from modelsieve.hub.hunt import RESEARCH_WORDS, HuntCriteria, render_json, render_lines
    from modelsieve.hub.hunt import hunt as run_hunt

    words = tuple(search or ()) + (RESEARCH_WORDS if research_words else ())
    criteria = HuntCriteria(
        search=tuple(dict.fromkeys(words)),
        max_total_size=parse_size(max_size),
        max_downloads=max_downloads,
        only_hub_unsafe=only_hub_unsafe,
        limit=limit,
        listing_limit=listing_limit,
    )
    try:
        found = run_hunt(HubClient(HubConfig(endpoint=endpoint, token=token)), criteria)
    except HubError as exc:
        typer.echo(f"hunt failed: {exc}", err=True)
        raise typer.Exit(2) from exc
    text = render_json(found) if output_format is HuntFormat.json else render_lines(found)
    _write(text, output)
    typer.echo(f"{len(found)} candidates", err=True)


def compare(
    inputs: Annotated[list[str], typer.Argument(help="Files, folders, hf:// repositories, or @FILE lists.")],
    tool: Annotated[
        Optional[list[str]],
        typer.Option(
            "--tool",
            "-t",
            help="Tools to run (repeatable): modelsieve, hf-hub, picklescan, modelscan, "
            "fickling, modelaudit. Default: all installed.",
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per tool per input.")] = 300.0,
    output_format: Annotated[CompareFormat, typer.Option("--format", "-f")] = CompareFormat.markdown,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the comparison to this file.")] = None,
    max_download: Annotated[str, typer.Option(help="Most a Hub input may download for the other tools.")] = "1GB",
    max_size: Annotated[Optional[str], typer.Option(help="Skip Hub files larger than this.")] = None,
    token: Annotated[Optional[str], typer.Option(help="Hub token (default: HF_TOKEN).")] = None,
    endpoint: Annotated[Optional[str], typer.Option(help="Hub endpoint (default: HF_ENDPOINT).")] = None,
) -> None:
    """Run modelsieve and the other installed scanners on the same inputs; print agreement matrices and times."""
    from modelsieve.compare.format import render_json, render_markdown
    from modelsieve.compare.run import CompareOptions
    from modelsieve.compare.run import compare as run_compare
    from modelsieve.hub.hunt import expand_at_files

    targets = list(expand_at_files(inputs))
    options = CompareOptions(
        tools=tuple(tool) if tool else None,
        timeout=timeout,
        max_download=parse_size(max_download),
        hub=hub_options(token, endpoint, max_size),  # type: ignore[arg-type]
    )
    result = run_compare(targets, options, progress=lambda item, _stage: typer.echo(f"comparing {item}", err=True))
    text = render_json(result) if output_format is CompareFormat.json else render_markdown(result)
    _write(text, output)


def _write(text: str, output: Path | None) -> None:
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def register(app: typer.Typer) -> None:
    app.command("hunt")(hunt)
    app.command("compare")(compare)
