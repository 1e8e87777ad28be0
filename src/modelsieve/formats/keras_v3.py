"""Keras v3 ``.keras`` archives: a zip with ``config.json``, ``metadata.json`` and weights.

The config is read as JSON and walked for Lambda bytecode, for
``module``/``class_name`` references that Keras would import (CVE-2025-1550
and the later safe-mode bypasses) and for embedded pickles (TorchModuleWrapper),
which are analysed as nested members. Other members (``model.weights.h5``,
assets) go back through the dispatcher, so a pickle hidden there is seen.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from modelsieve.formats import ziplenient
from modelsieve.formats.base import ScanContext
from modelsieve.limits import Limits
from modelsieve.model import Analysis, Finding
from modelsieve.rules import general
from modelsieve.source import Artifact

_ZIP_MAGIC = b"PK\x03\x04"
_CONFIG = "config.json"
_METADATA = "metadata.json"
_MARKERS = ("metadata.json", "model.weights.h5", "model.weights.npz")


def _names(artifact: Artifact) -> set[str]:
    directory = ziplenient.read_directory(artifact, Limits(), local_headers=False)
    return {e.name for e in directory.entries if not e.is_dir}


@dataclass(frozen=True)
class KerasV3Scanner:
    """Keras v3 zip archive (``config.json`` + ``metadata.json`` / ``model.weights.h5``)."""

    name: str = "keras-v3"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        if not head.startswith(_ZIP_MAGIC):
            return False
        names = _names(artifact)
        return _CONFIG in names and any(m in names for m in _MARKERS)

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        directory = ziplenient.read_directory(artifact, ctx.limits)
        findings = ziplenient.quirk_findings(directory, artifact.location, ctx.limits)
        config = self._config(directory, artifact, ctx)
        children = list(self._members(directory, artifact, ctx))
        return Analysis(formats=(self.name,), findings=tuple(findings)).merge(config, *children)

    def _config(self, directory: ziplenient.ZipDirectory, artifact: Artifact, ctx: ScanContext) -> Analysis:
        where = artifact.location.child(_CONFIG)
        # Keras opens members with Python's zipfile, where the last entry of a name wins.
        entry = directory.last(_CONFIG)
        if entry is None:
            return _found(general.PARSE_ERROR.finding(artifact.location, f"{_CONFIG} not found", subject=_CONFIG))
        unreadable = ziplenient.unreadable_finding(entry, artifact.location)
        if unreadable is not None:
            return _found(unreadable)
        got = ziplenient.extract(artifact, entry, ctx.limits, max_bytes=ctx.limits.max_header_bytes)
        try:
            raw = got.stream.read(got.size)
        finally:
            got.stream.close()
        extracted = _found(*ziplenient.extracted_findings(got, entry, artifact.location))
        if got.limit_hit:
            return extracted
        try:
            config = json.loads(raw.decode("utf-8", errors="replace"))
        except RecursionError:
            return extracted.merge(
                _found(general.LIMIT_EXCEEDED.finding(where, f"{_CONFIG} nested too deeply", subject=_CONFIG))
            )
        except ValueError as exc:
            return extracted.merge(
                _found(
                    general.PARSE_ERROR.finding(
                        where,
                        f"{_CONFIG} is not valid JSON: {exc}",
                        subject=_CONFIG,
                        evidence=raw[:200].decode("latin-1"),
                    )
                )
            )
        from modelsieve import kerasconfig  # only needed once a Keras archive is found

        # The decoded config is held in memory anyway; embedded pickles decode to members one level below it.
        analysis = kerasconfig.analyse(config, where, ctx, depth=artifact.depth + 1)
        ctx.check_time()
        return extracted.merge(analysis)

    def _members(self, directory: ziplenient.ZipDirectory, artifact: Artifact, ctx: ScanContext) -> Iterator[Analysis]:
        budget = ctx.limits.max_archive_expanded_bytes
        for entry in directory.entries:
            if entry.is_dir or entry.name in (_CONFIG, _METADATA):
                continue
            ctx.check_time()
            where = artifact.location.child(entry.name)
            if budget <= 0:
                yield Analysis(
                    findings=(
                        general.LIMIT_EXCEEDED.finding(
                            where, "archive expansion budget spent", subject="expanded-size"
                        ),
                    )
                )
                return
            unreadable = ziplenient.unreadable_finding(entry, artifact.location)
            if unreadable is not None:
                yield Analysis(findings=(unreadable,))
                continue
            got = ziplenient.extract(artifact, entry, ctx.limits, max_bytes=budget)
            try:
                budget -= got.size
                extra = ziplenient.extracted_findings(got, entry, artifact.location)
                got.stream.seek(0)
                child = ctx.dispatch(artifact.child(got.stream, got.size, entry.name))
                yield Analysis(findings=tuple(extra)).merge(child)
            finally:
                got.stream.close()


def _found(*findings: Finding) -> Analysis:
    return Analysis(findings=findings)


SCANNER = KerasV3Scanner()
