"""Parse decision targets and statuses typed by people; all errors are TriageError."""

from __future__ import annotations

import hashlib
import os
import re

from modelsieve.model import Status
from modelsieve.triage.types import DECIDABLE, Target, TargetKind, TriageError

_SHA256 = re.compile(r"[0-9a-f]{64}")
_FINGERPRINT = re.compile(r"v[0-9]+:[0-9a-f]{8,64}")
# hf://[datasets/|spaces/]owner/name, or hf://name (old un-namespaced models such as gpt2).
REPO_PATTERN = r"hf://(?:(?:datasets|spaces)/)?(?:[A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*"
_REPO = re.compile(REPO_PATTERN)


def parse_status(text: str) -> Status:
    """A decidable status from its CLI spelling (``confirmed-unsafe`` ...)."""
    for status in DECIDABLE:
        if text.strip().lower() == status.value:
            return status
    allowed = ", ".join(s.value for s in DECIDABLE)
    raise TriageError(f"unknown status {text!r}; use one of: {allowed}")


def parse_target(text: str, *, allow_paths: bool = True) -> Target:
    """A sha256, a finding fingerprint ``v1:…``, a repository ``hf://owner/name``, or a file path (hashed)."""
    raw = text.strip()
    lowered = raw.lower()
    if _SHA256.fullmatch(lowered):
        return Target(TargetKind.SHA256, lowered, raw)
    if _FINGERPRINT.fullmatch(lowered):
        return Target(TargetKind.FINGERPRINT, lowered, raw)
    if lowered.startswith("hf://"):
        repo = raw.rstrip("/")
        if not _REPO.fullmatch(repo):
            raise TriageError(f"malformed repository {text!r}; expected hf://owner/name")
        return Target(TargetKind.REPO, repo, raw)
    if allow_paths and raw and os.path.isfile(raw):
        return Target(TargetKind.SHA256, hash_file(raw), raw)
    if allow_paths and raw and os.path.isdir(raw):
        raise TriageError(f"{text!r} is a folder; decide on a file, a sha256, a fingerprint or a repository")
    raise TriageError(
        f"unknown target {text!r}: expected a sha256 (64 hex digits), a finding fingerprint (v1:…), "
        "a repository (hf://owner/name) or the path of an existing file"
    )


def repo_in_target(text: str) -> tuple[str, str | None] | None:
    """``(hf://owner/name, revision)`` from a scan target such as ``hf://owner/name@main/model.bin``."""
    if not text.startswith("hf://"):
        return None
    if "@" in text:
        head, _, tail = text.partition("@")
        if _REPO.fullmatch(head):
            return head, tail.split("/", 1)[0] or None
        return None
    parts = text[len("hf://") :].split("/")
    kind = parts[:1] if parts[0] in ("datasets", "spaces") else []
    rest = parts[len(kind) :]
    # Without a revision, owner/name/file is ambiguous with name/file only for un-namespaced repos: assume owner/name.
    repo = "hf://" + "/".join(kind + rest[:2])
    return (repo, None) if _REPO.fullmatch(repo) else None


def hash_file(path: str | os.PathLike[str]) -> str:
    """sha256 of a file, streamed (model files can be many gigabytes)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                h.update(chunk)
    except OSError as exc:
        raise TriageError(f"cannot read {os.fspath(path)!r}: {exc.strerror}") from exc
    return h.hexdigest()
