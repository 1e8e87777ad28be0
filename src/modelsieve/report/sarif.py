"""SARIF 2.1.0 report, for GitHub code scanning and other SARIF viewers.

Every rule of the catalog is listed in ``tool.driver.rules`` (so a viewer can show
the help of any rule), each scanned file is an ``artifact`` carrying its verdict,
and each finding is a ``result`` whose ``partialFingerprints`` hold the finding
fingerprint, so that viewers track it across runs even when offsets move.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from modelsieve.model import FINGERPRINT_VERSION, Confidence, Effect, FileResult, Finding, Report, Severity
from modelsieve.report import summary
from modelsieve.rules.base import Rule
from modelsieve.rules.catalog import RULES_DOC_URL, all_rules, help_uri

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = f"modelsieve/v{FINGERPRINT_VERSION}"

_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning reads this property to rank security alerts (CVSS-like, 0.0-10.0).
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
_PRECISION = {Confidence.HIGH: "very-high", Confidence.MEDIUM: "high", Confidence.LOW: "medium"}


def render(report: Report, *, base_dir: str | os.PathLike[str] | None = None) -> str:
    """The report as SARIF JSON; file URIs are relative to ``base_dir`` (default: the working directory)."""
    return json.dumps(to_dict(report, base_dir=base_dir), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def to_dict(report: Report, *, base_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    base = Path(base_dir if base_dir is not None else os.getcwd()).resolve()
    rules = all_rules()
    rule_index = {r.id: i for i, r in enumerate(rules)}
    artifacts = [_artifact(r, base) for r in report.results]
    results = []
    for file_index, r in enumerate(report.results):
        for f in r.findings:
            results.append(_result(f, r, file_index, rule_index, base))
    s = report.summary
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "modelsieve",
                "version": report.tool_version,
                "semanticVersion": report.tool_version,
                "informationUri": RULES_DOC_URL,
                "rules": [_rule(rule) for rule in rules],
                "properties": {"ruleset": report.ruleset_version},
            }
        },
        "invocations": [_invocation(report)],
        "artifacts": artifacts,
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {
            "verdict": s.verdict.value,
            "status": s.status.label,
            "deciding": list(s.deciding),
            "reasons": list(s.reasons),
            "unloadedVerdict": s.unloaded_verdict.value,
            "unloaded": list(s.unloaded),
            "includeUnloaded": s.include_unloaded,
            "behaviours": [f"{o.path}: {o.value}" for o in summary.behaviours(report.results)],
            "indicators": [f"{o.path}: {o.kind}: {o.value}" for o in summary.indicators(report.results)],
        },
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def _rule(rule: Rule) -> dict[str, Any]:
    tags = ["security", rule.area, *rule.tags]
    if rule.cwe is not None:
        tags.append(f"external/cwe/cwe-{rule.cwe}")
    help_md = f"{rule.description}\n\n**Remediation:** {rule.remediation}"
    if rule.references:
        help_md += "\n\n" + "\n".join(f"- <{ref}>" for ref in rule.references)
    return {
        "id": rule.id,
        "name": _pascal(rule.title),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.description},
        "help": {"text": f"{rule.description}\n\nRemediation: {rule.remediation}", "markdown": help_md},
        "helpUri": help_uri(rule),
        "defaultConfiguration": {"level": _LEVEL[rule.severity], "enabled": True},
        "properties": {
            "tags": sorted(set(tags)),
            "severity": rule.severity.value,
            "confidence": rule.confidence.value,
            "effect": rule.effect.value,
            "precision": _PRECISION[rule.confidence],
            "security-severity": _SECURITY_SEVERITY[rule.severity],
            "cwe": [] if rule.cwe is None else [f"CWE-{rule.cwe}"],
            "added": rule.added,
        },
    }


def _pascal(title: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", title)
    return "".join(w[:1].upper() + w[1:] for w in words) or "Rule"


def _uri(path: str, base: Path) -> str:
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+://", path):
        # Remote files (hub scans) already carry a URI.
        return quote(path, safe="/:@!$&'()*+,;=-._~")
    p = Path(path)
    absolute = p.resolve() if p.is_absolute() or p.exists() else p
    if absolute.is_absolute():
        try:
            rel = absolute.relative_to(base)
        except ValueError:
            return absolute.as_uri()
        return quote(rel.as_posix(), safe="/")
    return quote(p.as_posix(), safe="/")


def _artifact(r: FileResult, base: Path) -> dict[str, Any]:
    out: dict[str, Any] = {
        "location": {"uri": _uri(r.path, base)},
        "length": r.size,
        "roles": ["analysisTarget"],
        "properties": {
            "verdict": r.verdict.value,
            "status": r.status.label,
            "reasons": list(r.reasons),
            "formats": list(r.formats),
            "loadedByDefault": r.loaded_by_default,
        },
    }
    if r.unloaded_reason:
        out["properties"]["unloadedReason"] = r.unloaded_reason
    if r.review_note:
        out["properties"]["reviewNote"] = r.review_note
    if r.sha256:
        out["hashes"] = {"sha-256": r.sha256}
    return out


def _result(f: Finding, r: FileResult, file_index: int, rule_index: dict[str, int], base: Path) -> dict[str, Any]:
    loc = f.location
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(r.path, base), "index": file_index}}
    # A byte offset inside an archive member or decoded layer is not an offset into the file on disk.
    if loc.offset is not None and not loc.members:
        physical["region"] = {"byteOffset": loc.offset}
    location: dict[str, Any] = {"physicalLocation": physical}
    logical = [
        {"name": member, "fullyQualifiedName": " > ".join(loc.members[: i + 1]), "kind": "member"}
        for i, member in enumerate(loc.members)
    ]
    if loc.detail:
        logical.append({"name": loc.detail, "kind": "element"})
    if logical:
        location["logicalLocations"] = logical
    properties: dict[str, Any] = {
        "severity": f.severity.value,
        "confidence": f.confidence.value,
        "effect": f.effect.value,
        "fileVerdict": r.verdict.value,
        "where": loc.describe(),
    }
    if f.subject:
        properties["subject"] = f.subject
    if f.evidence:
        properties["evidence"] = f.evidence
    if loc.offset is not None:
        properties["offset"] = loc.offset
    if loc.opcode_index is not None:
        properties["opcodeIndex"] = loc.opcode_index
    if f.behaviour is not None:
        properties["behaviour"] = f.behaviour.description
    if f.indicators:
        properties["indicators"] = [f"{i.kind.value}: {i.value}" for i in f.indicators]
    if not r.loaded_by_default:
        properties["notLoadedByDefault"] = r.unloaded_reason or True
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "level": _level(f),
        "kind": "fail",
        "message": {"text": f.message or f.rule_id},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
        "properties": properties,
    }
    if f.rule_id in rule_index:
        result["ruleIndex"] = rule_index[f.rule_id]
    if f.suppressed is not None:
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": f.suppressed}]
    return result


def _level(f: Finding) -> str:
    if f.effect is Effect.MALICIOUS:
        return "error"
    return _LEVEL[f.severity]


def _invocation(report: Report) -> dict[str, Any]:
    notes = [
        {"level": "warning", "message": {"text": f"skipped {item.path}: {item.reason}"}} for item in report.skipped
    ]
    out: dict[str, Any] = {"executionSuccessful": True}
    if notes:
        out["toolExecutionNotifications"] = notes
    return out
