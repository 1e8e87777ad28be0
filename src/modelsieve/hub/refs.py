"""Parse Hub targets: ``hf://owner/name[@rev][/path]`` and ``https://huggingface.co/...`` URLs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_TYPE_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_HUB_HOSTS = frozenset({"huggingface.co", "www.huggingface.co", "hf.co"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
# Revisions that contain slashes: pull-request refs and converted branches.
_SLASHED_REV = re.compile(r"^(refs/(?:pr|convert)/[^/]+)(?:/(.*))?$")


class TargetError(ValueError):
    """The text is not a Hub repository reference."""


@dataclass(frozen=True)
class RepoRef:
    """One repository at one revision, optionally narrowed to one file."""

    repo_id: str
    repo_type: str = "model"
    revision: str | None = None
    path: str | None = None

    @property
    def uri(self) -> str:
        """``hf://`` form without the file path (revision included when known)."""
        rev = f"@{self.revision}" if self.revision else ""
        return f"hf://{_TYPE_PREFIX[self.repo_type]}{self.repo_id}{rev}"

    def file_uri(self, path: str, revision: str | None = None) -> str:
        rev = revision or self.revision
        at = f"@{rev}" if rev else ""
        return f"hf://{_TYPE_PREFIX[self.repo_type]}{self.repo_id}{at}/{path}"

    def with_revision(self, revision: str) -> RepoRef:
        return RepoRef(self.repo_id, self.repo_type, revision, self.path)


def is_hub_target(text: str) -> bool:
    """True for text that names a Hub repository rather than a local path."""
    if text.startswith("hf://"):
        return True
    if text.startswith(("https://", "http://")):
        return (urlsplit(text).hostname or "").lower() in _HUB_HOSTS
    return False


def parse(text: str) -> RepoRef:
    """Parse ``hf://[datasets/|spaces/]owner/name[@rev][/path]`` or a huggingface.co URL."""
    if text.startswith("hf://"):
        return _parse_hf(text[len("hf://") :])
    if is_hub_target(text):
        return _parse_url(urlsplit(text).path)
    raise TargetError(f"not a Hugging Face target: {text!r}")


def _split_type(parts: list[str]) -> tuple[str, list[str]]:
    if parts and parts[0] in REPO_TYPES:
        return REPO_TYPES[parts[0]], parts[1:]
    return "model", parts


def _repo_id(owner: str, name: str, text: str) -> str:
    if not (_NAME.match(owner) and _NAME.match(name)) or ".." in owner or ".." in name:
        raise TargetError(f"not a repository id: {text!r}")
    return f"{owner}/{name}"


def _parse_hf(rest: str) -> RepoRef:
    repo_type, parts = _split_type([p for p in rest.split("/")])
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise TargetError(f"expected hf://owner/name, got hf://{rest}")
    owner, name_rev = parts[0], parts[1]
    tail = "/".join(parts[2:])
    revision: str | None = None
    if "@" in name_rev:
        name, revision = name_rev.split("@", 1)
        revision = unquote(revision)
        if revision.startswith("refs/") or (revision == "refs" and tail):
            # ``@refs/pr/3/path``: the revision continues into the tail.
            m = _SLASHED_REV.match(f"{revision}/{tail}" if tail else revision)
            if not m:
                raise TargetError(f"bad revision in hf://{rest}")
            revision, tail = m.group(1), m.group(2) or ""
        if not revision:
            raise TargetError(f"empty revision in hf://{rest}")
    else:
        name = name_rev
    path = unquote(tail).strip("/") or None
    _check_path(path, rest)
    return RepoRef(_repo_id(owner, name, rest), repo_type, revision, path)


def _parse_url(url_path: str) -> RepoRef:
    repo_type, parts = _split_type([p for p in url_path.strip("/").split("/") if p])
    if len(parts) < 2:
        raise TargetError(f"expected https://huggingface.co/owner/name, got {url_path!r}")
    repo_id = _repo_id(parts[0], parts[1], url_path)
    rest = parts[2:]
    if not rest:
        return RepoRef(repo_id, repo_type)
    if rest[0] not in ("tree", "blob", "resolve") or len(rest) < 2:
        raise TargetError(f"unsupported Hub URL: {url_path!r}")
    joined = unquote("/".join(rest[1:]))
    m = _SLASHED_REV.match(joined)
    if m:
        revision, tail = m.group(1), m.group(2) or ""
    else:
        revision, _, tail = joined.partition("/")
    path = tail.strip("/") or None
    _check_path(path, url_path)
    if rest[0] == "tree" and path is not None:
        raise TargetError(f"folders inside a repository are not supported targets: {url_path!r}")
    return RepoRef(repo_id, repo_type, revision, path)


def _check_path(path: str | None, text: str) -> None:
    if path is not None and any(part in ("..", ".") for part in path.split("/")):
        raise TargetError(f"bad file path in {text!r}")
