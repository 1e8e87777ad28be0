"""``modelsieve hunt``: list Hub repositories worth scanning, selected the way malicious-model research does.

A candidate holds files in risky (deserialising) formats, is small (total size
under a limit, 1 GB by default) and little used (monthly downloads under a
limit, 10,000 by default); optionally its name matches search words
(``malicious``, ``exploit``, ``poc`` ...) and the Hub already marks it unsafe.
The output (one ``hf://`` id per line, or JSON) is accepted by ``scan`` and
``compare`` as ``@file``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from modelsieve.hub.client import HubClient, HubError, ModelSummary
from modelsieve.hub.refs import RepoRef, is_hub_target
from modelsieve.hub.select import RISKY_SUFFIXES

# What research hunts for: formats whose loaders can run code. Safe-by-design formats
# (safetensors) and plain archives are scanned when found, but don't make a repo a candidate.
RISKY_EXTENSIONS = RISKY_SUFFIXES - {
    ".safetensors",
    ".zip",
    ".tar",
    ".tgz",
    ".gz",
    ".7z",
    ".xz",
    ".bz2",
    ".lzma",
    ".zst",
}
RESEARCH_WORDS = ("malicious", "exploit", "poc", "deserialization", "ace")


@dataclass(frozen=True)
class HuntCriteria:
    """What makes a repository a candidate. ``listing_limit`` bounds how many are listed per search word."""

    search: tuple[str, ...] = ()
    max_total_size: int = 1024**3
    max_downloads: int = 10_000
    only_hub_unsafe: bool = False
    extensions: frozenset[str] = RISKY_EXTENSIONS
    limit: int = 100
    listing_limit: int = 1000


@dataclass(frozen=True)
class Candidate:
    """A repository selected for scanning, with why."""

    repo_id: str
    uri: str
    downloads: int | None
    total_size: int | None
    risky_files: tuple[str, ...]
    matched: tuple[str, ...] = ()
    hub_verdict: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)


def risky_files(names: Iterable[str], extensions: frozenset[str] = RISKY_EXTENSIONS) -> tuple[str, ...]:
    return tuple(n for n in names if PurePosixPath(n).suffix.lower() in extensions)


def hunt(
    client: HubClient,
    criteria: HuntCriteria,
    progress: Callable[[str], None] | None = None,
) -> list[Candidate]:
    """Candidates in listing order, at most ``criteria.limit``; listing failures raise ``HubError``."""
    found: dict[str, Candidate] = {}
    words: tuple[str | None, ...] = criteria.search or (None,)
    for word in words:
        for summary in client.search_models(search=word, limit=criteria.listing_limit):
            if progress:
                progress(summary.repo_id)
            if summary.repo_id in found:
                previous = found[summary.repo_id]
                if word and word not in previous.matched:
                    found[summary.repo_id] = _with_match(previous, word)
                continue
            candidate = _judge(client, summary, criteria, word)
            if candidate is not None:
                found[summary.repo_id] = candidate
                if len(found) >= criteria.limit:
                    return list(found.values())
    return list(found.values())


def _with_match(c: Candidate, word: str) -> Candidate:
    return Candidate(
        c.repo_id, c.uri, c.downloads, c.total_size, c.risky_files, (*c.matched, word), c.hub_verdict, c.tags
    )


def _judge(client: HubClient, summary: ModelSummary, criteria: HuntCriteria, word: str | None) -> Candidate | None:
    risky = risky_files(summary.filenames, criteria.extensions)
    if not risky:
        return None
    if summary.downloads is not None and summary.downloads >= criteria.max_downloads:
        return None
    ref = RepoRef(summary.repo_id)
    size = summary.used_storage
    listing = None
    # usedStorage counts every stored revision: an upper bound, so only a repository over the limit costs a listing.
    if size is None or size > criteria.max_total_size or criteria.only_hub_unsafe:
        try:
            listing = client.listing(ref)
        except HubError:
            return None
        size = sum(f.size or 0 for f in listing.files)
    if size > criteria.max_total_size:
        return None
    hub_verdict = None
    if listing is not None and listing.security_repo_status is not None:
        from modelsieve.hub.status import parse_repo_status

        hub_verdict = parse_repo_status(listing.security_repo_status, {}).verdict
    if criteria.only_hub_unsafe and hub_verdict != "dangerous":
        return None
    return Candidate(
        repo_id=summary.repo_id,
        uri=ref.uri,
        downloads=summary.downloads,
        total_size=size,
        risky_files=risky,
        matched=(word,) if word else (),
        hub_verdict=hub_verdict,
        tags=summary.tags,
    )


def render_lines(candidates: Iterable[Candidate]) -> str:
    return "".join(f"{c.uri}\n" for c in candidates)


def render_json(candidates: Iterable[Candidate]) -> str:
    return json.dumps([asdict(c) for c in candidates], indent=2, sort_keys=True) + "\n"


def read_target_file(path: str | Path) -> list[str]:
    """Targets from a hunt output: one per line (``#`` comments allowed) or a JSON list of ids/objects."""
    text = Path(path).read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        data = json.loads(stripped)
        out = []
        for item in data:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, dict):
                value = item.get("uri") or item.get("target")
                repo_id = item.get("repo_id")
                if isinstance(value, str):
                    out.append(value)
                elif isinstance(repo_id, str):
                    out.append(repo_id if is_hub_target(repo_id) else f"hf://{repo_id}")
        return out
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def expand_at_files(args: Iterable[str]) -> Iterator[str]:
    """Replace each ``@file`` argument by the targets listed in that file."""
    for arg in args:
        if arg.startswith("@") and len(arg) > 1:
            yield from read_target_file(arg[1:])
        else:
            yield arg
