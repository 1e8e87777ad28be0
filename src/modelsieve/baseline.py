"""Baseline (suppression) files: accepted findings, tied to the exact bytes they were accepted for.

A suppression names a file by its sha256 and a finding by its fingerprint. When
the file changes, its hash changes and every suppression for it expires: an
accepted ``getattr`` in yesterday's checkpoint says nothing about today's.
Suppressed findings stay in the report, marked, and no longer count for the verdict.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from modelsieve.model import Effect, FileResult, Finding
from modelsieve.verdict import auto_status, file_verdict

BASELINE_VERSION = 1
DEFAULT_REASON = "accepted in baseline"

# Accepting "could not analyse" would turn an unread file into a clean one.
_UNSUPPRESSIBLE = frozenset({Effect.INCONCLUSIVE, Effect.NOT_ANALYSED})


class BaselineError(ValueError):
    """The baseline file is not one modelsieve wrote or can read."""


@dataclass(frozen=True)
class Suppression:
    """One accepted finding: its fingerprint in the file with this sha256, and why it was accepted."""

    sha256: str
    fingerprint: str
    rule_id: str
    reason: str
    path: str = ""


@dataclass(frozen=True)
class Baseline:
    """All suppressions, looked up by (file sha256, finding fingerprint)."""

    suppressions: tuple[Suppression, ...] = ()

    def _index(self) -> Mapping[tuple[str, str], Suppression]:
        return {(s.sha256, s.fingerprint): s for s in self.suppressions}

    def reason_for(self, sha256: str | None, finding: Finding) -> str | None:
        if sha256 is None:
            return None
        hit = self._index().get((sha256, finding.fingerprint))
        return None if hit is None else hit.reason

    def apply(self, result: FileResult) -> FileResult:
        """The result with matching findings marked suppressed and verdict/status drawn again."""
        if result.sha256 is None or not self.suppressions:
            return result
        index = self._index()
        changed = False
        findings: list[Finding] = []
        for f in result.findings:
            hit = index.get((result.sha256, f.fingerprint))
            if hit is not None and f.suppressed is None and f.effect not in _UNSUPPRESSIBLE:
                f = dataclasses.replace(f, suppressed=hit.reason)
                changed = True
            findings.append(f)
        if not changed:
            return result
        verdict, reasons = file_verdict(findings)
        return dataclasses.replace(
            result,
            findings=tuple(findings),
            verdict=verdict,
            reasons=reasons,
            status=auto_status(verdict, findings),
        )


def from_results(results: Iterable[FileResult], reason: str = DEFAULT_REASON) -> Baseline:
    """A baseline accepting every current finding except incomplete-analysis ones.

    Files without a sha256 (too large to hash) cannot be baselined and are left out.
    """
    out: dict[tuple[str, str], Suppression] = {}
    for r in results:
        if r.sha256 is None:
            continue
        for f in r.findings:
            if f.effect in _UNSUPPRESSIBLE:
                continue
            key = (r.sha256, f.fingerprint)
            out.setdefault(key, Suppression(r.sha256, f.fingerprint, f.rule_id, f.suppressed or reason, r.path))
    return Baseline(tuple(sorted(out.values(), key=lambda s: (s.path, s.sha256, s.rule_id, s.fingerprint))))


def dumps(baseline: Baseline) -> str:
    """Deterministic JSON: one entry per file hash, fingerprints sorted."""
    files: dict[str, dict[str, object]] = {}
    for s in baseline.suppressions:
        entry = files.setdefault(s.sha256, {"sha256": s.sha256, "path": s.path, "findings": []})
        findings = entry["findings"]
        assert isinstance(findings, list)
        findings.append({"fingerprint": s.fingerprint, "rule_id": s.rule_id, "reason": s.reason})
    doc = {
        "baseline_version": BASELINE_VERSION,
        "tool": "modelsieve",
        "files": [files[k] for k in sorted(files, key=lambda h: (str(files[h]["path"]), h))],
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def loads(text: str) -> Baseline:
    """Parse a baseline; raises BaselineError on anything malformed."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise BaselineError(f"baseline is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("baseline_version") != BASELINE_VERSION:
        raise BaselineError(f"not a modelsieve baseline (version {BASELINE_VERSION} expected)")
    files = doc.get("files")
    if not isinstance(files, list):
        raise BaselineError("baseline has no 'files' list")
    out: list[Suppression] = []
    for entry in files:
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise BaselineError("baseline entry without a sha256")
        path = entry.get("path") if isinstance(entry.get("path"), str) else ""
        for item in entry.get("findings") or ():
            if not isinstance(item, dict) or not isinstance(item.get("fingerprint"), str):
                raise BaselineError("baseline finding without a fingerprint")
            reason = item.get("reason")
            out.append(
                Suppression(
                    sha256=entry["sha256"],
                    fingerprint=item["fingerprint"],
                    rule_id=str(item.get("rule_id", "")),
                    reason=reason if isinstance(reason, str) and reason else DEFAULT_REASON,
                    path=str(path),
                )
            )
    return Baseline(tuple(out))


def load(path: Path) -> Baseline:
    return loads(path.read_text(encoding="utf-8"))


def write(path: Path, baseline: Baseline) -> None:
    path.write_text(dumps(baseline), encoding="utf-8")
