"""Decisions as JSON, to share between teams and machines.

The document carries a schema version; import validates the whole document
before anything is written, and decisions keep their uid so that importing the
same file twice adds nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from modelsieve.triage.targets import parse_status, parse_target
from modelsieve.triage.types import Decision, TargetKind, TriageError

FORMAT = "modelsieve-triage-decisions"
SCHEMA_VERSION = 1

_UID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FIELDS = {
    "uid",
    "target_kind",
    "target",
    "status",
    "note",
    "decided_by",
    "decided_at",
    "known_fingerprints",
    "known_sha256s",
}


def export_json(decisions: Sequence[Decision], *, exported_at: str, tool_version: str) -> str:
    """The full decision history as a JSON document (oldest first)."""
    doc = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "exported_at": exported_at,
        "tool_version": tool_version,
        "decisions": [d.fields() for d in decisions],
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def parse_import(text: str) -> list[Decision]:
    """Decisions from an exported document; any defect raises TriageError naming where it is."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TriageError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(doc, dict):
        raise TriageError("expected a JSON object at the top level")
    if doc.get("format") != FORMAT:
        raise TriageError(f"not a modelsieve decisions export: 'format' must be {FORMAT!r}")
    version = doc.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise TriageError("'schema_version' must be an integer")
    if version > SCHEMA_VERSION:
        raise TriageError(f"schema_version {version} is newer than this modelsieve supports ({SCHEMA_VERSION})")
    if version < 1:
        raise TriageError(f"unknown schema_version {version}")
    items = doc.get("decisions")
    if not isinstance(items, list):
        raise TriageError("'decisions' must be a list")
    out: list[Decision] = []
    seen: dict[str, Decision] = {}
    for i, item in enumerate(items):
        d = _from_json(item, f"decisions[{i}]")
        if d.uid in seen:
            if seen[d.uid] != d:
                raise TriageError(f"decisions[{i}]: uid {d.uid!r} appears twice with different content")
            continue
        seen[d.uid] = d
        out.append(d)
    return out


def _from_json(item: object, where: str) -> Decision:
    if not isinstance(item, dict):
        raise TriageError(f"{where}: expected an object")
    unknown = set(item) - _FIELDS
    if unknown:
        raise TriageError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    uid = _string(item, "uid", where)
    if not _UID.fullmatch(uid):
        raise TriageError(f"{where}.uid: malformed uid {uid!r}")
    kind_text = _string(item, "target_kind", where)
    try:
        kind = TargetKind(kind_text)
    except ValueError:
        allowed = ", ".join(k.value for k in TargetKind)
        raise TriageError(f"{where}.target_kind: unknown kind {kind_text!r}; use one of: {allowed}") from None
    raw_target = _string(item, "target", where)
    try:
        target = parse_target(raw_target, allow_paths=False)
    except TriageError as exc:
        raise TriageError(f"{where}.target: {exc}") from None
    if target.kind is not kind or target.value != raw_target:
        raise TriageError(f"{where}.target: {raw_target!r} is not a canonical {kind.value} target")
    try:
        status = parse_status(_string(item, "status", where))
    except TriageError as exc:
        raise TriageError(f"{where}.status: {exc}") from None
    decided_at = _string(item, "decided_at", where)
    try:
        stamp = datetime.fromisoformat(decided_at)
    except ValueError:
        raise TriageError(f"{where}.decided_at: not an ISO-8601 time: {decided_at!r}") from None
    if stamp.tzinfo is None:
        raise TriageError(f"{where}.decided_at: time zone missing in {decided_at!r}")
    return Decision(
        uid=uid,
        kind=kind,
        target=target.value,
        status=status,
        note=_string(item, "note", where, allow_empty=True),
        decided_by=_string(item, "decided_by", where),
        decided_at=decided_at,
        known_fingerprints=_string_list(item, "known_fingerprints", where, _fingerprint_ok),
        known_sha256s=_string_list(item, "known_sha256s", where, _SHA256.fullmatch),
    )


def _string(item: dict[str, Any], key: str, where: str, *, allow_empty: bool = False) -> str:
    value = item.get(key)
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        wanted = "a string" if allow_empty else "a non-empty string"
        raise TriageError(f"{where}.{key}: expected {wanted}")
    return value


def _string_list(item: dict[str, Any], key: str, where: str, valid: Any) -> tuple[str, ...] | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and valid(v) for v in value):
        raise TriageError(f"{where}.{key}: expected null or a list of well-formed values")
    return tuple(value)


def _fingerprint_ok(value: str) -> bool:
    try:
        return parse_target(value, allow_paths=False).kind is TargetKind.FINGERPRINT
    except TriageError:
        return False
