"""JSON report: stable, sorted, deterministic. The schema is ``report/schema.json``."""

from __future__ import annotations

import json
from typing import Any

from modelsieve.model import CallRecord, FileResult, Finding, Location, Report
from modelsieve.report import summary

SCHEMA_VERSION = "1.0"


def to_dict(report: Report) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "modelsieve", "version": report.tool_version, "ruleset": report.ruleset_version},
        "targets": list(report.targets),
        "started_at": report.started_at,
        "duration_s": report.duration_s,
        "options": dict(report.options),
        "summary": {
            "verdict": report.summary.verdict.value,
            "status": report.summary.status.value,
            "deciding": list(report.summary.deciding),
            "reasons": list(report.summary.reasons),
            "unloaded_verdict": report.summary.unloaded_verdict.value,
            "unloaded": list(report.summary.unloaded),
            "include_unloaded": report.summary.include_unloaded,
            "verdict_counts": summary.verdict_counts(report),
            "severity_counts": summary.severity_counts(report.results),
            "behaviours": [_observation(o) for o in summary.behaviours(report.results)],
            "indicators": [_observation(o) for o in summary.indicators(report.results)],
        },
        "files": [_file(r) for r in report.results],
        "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
    }


def _file(r: FileResult) -> dict[str, Any]:
    return {
        "path": r.path,
        "size": r.size,
        "sha256": r.sha256,
        "formats": list(r.formats),
        "verdict": r.verdict.value,
        "status": r.status.value,
        "review_note": r.review_note,
        "loaded_by_default": r.loaded_by_default,
        "unloaded_reason": r.unloaded_reason,
        "external": [{"tool": e.tool, "verdict": e.verdict, "detail": e.detail} for e in r.external],
        "duration_s": r.duration_s,
        "reasons": list(r.reasons),
        "behaviours": [{"kind": b.kind.value, "description": b.description} for b in r.behaviours],
        "indicators": [{"kind": i.kind.value, "value": i.value, "note": i.note} for i in r.indicators],
        "imports": list(r.imports),
        "calls": [_call(c) for c in r.calls],
        "findings": [_finding(f) for f in r.findings],
    }


def _observation(o: summary.Observation) -> dict[str, Any]:
    return {"path": o.path, "kind": o.kind, "value": o.value, "note": o.note, "suppressed": o.suppressed}


def _location(loc: Location) -> dict[str, Any]:
    return {
        "path": loc.path,
        "members": list(loc.members),
        "offset": loc.offset,
        "opcode_index": loc.opcode_index,
        "detail": loc.detail,
    }


def _call(c: CallRecord) -> dict[str, Any]:
    return {"callable": c.callable, "arguments": c.arguments, "safety": c.safety, "location": _location(c.location)}


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "rule_id": f.rule_id,
        "severity": f.severity.value,
        "confidence": f.confidence.value,
        "effect": f.effect.value,
        "message": f.message,
        "subject": f.subject,
        "evidence": f.evidence,
        "location": _location(f.location),
        "behaviour": None
        if f.behaviour is None
        else {"kind": f.behaviour.kind.value, "description": f.behaviour.description},
        "indicators": [{"kind": i.kind.value, "value": i.value, "note": i.note} for i in f.indicators],
        "fingerprint": f.fingerprint,
        "suppressed": f.suppressed,
    }


def render(report: Report) -> str:
    """The report as JSON text (keys sorted, stable across runs except timings)."""
    return json.dumps(to_dict(report), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
