"""A thin wrapper over ``huggingface_hub``: listings, file URLs, downloads, typed errors.

``huggingface_hub`` is imported inside methods so that the CLI starts fast. The
endpoint and token are read when a client is made (``HF_ENDPOINT``, ``HF_TOKEN``),
not when the library is imported, so tests and users can point it anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from modelsieve.hub.refs import RepoRef

DEFAULT_ENDPOINT = "https://huggingface.co"


class HubError(Exception):
    """A Hub request failed. ``kind``: ``not-found``, ``gated``, ``missing-file``, ``revision`` or ``failed``."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


@dataclass(frozen=True)
class HubConfig:
    """Where the Hub is and who we are. ``None`` means: from the environment."""

    endpoint: str | None = None
    token: str | None = None
    timeout: float = 30.0
    cache_dir: str | None = None

    def resolved_endpoint(self) -> str:
        return (self.endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")

    def resolved_token(self) -> str | None:
        return self.token or os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or None


@dataclass(frozen=True)
class RemoteEntry:
    """One file of a repository as the Hub lists it. ``lfs_sha256`` is the LFS object id when stored in LFS."""

    path: str
    size: int | None
    blob_id: str | None = None
    lfs_sha256: str | None = None


@dataclass(frozen=True)
class RepoListing:
    """A repository at one resolved revision, with its files and the Hub's metadata."""

    ref: RepoRef
    sha: str | None
    files: tuple[RemoteEntry, ...]
    gated: str | bool | None = None
    downloads: int | None = None
    used_storage: int | None = None
    security_repo_status: Mapping[str, Any] | None = None
    private: bool | None = None


@dataclass(frozen=True)
class ModelSummary:
    """One repository as a Hub search lists it (no per-file sizes)."""

    repo_id: str
    downloads: int | None
    filenames: tuple[str, ...]
    used_storage: int | None = None
    gated: str | bool | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)


def translate(exc: BaseException) -> HubError:
    """Map a ``huggingface_hub``/HTTP exception onto a ``HubError`` (gated before not-found: it subclasses it)."""
    if isinstance(exc, HubError):
        return exc
    from huggingface_hub import errors

    status = _status_of(exc)
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, errors.GatedRepoError):
        return HubError("gated", f"gated repository: {text}", status)
    if isinstance(exc, errors.RevisionNotFoundError):
        return HubError("revision", f"revision not found: {text}", status)
    if isinstance(exc, errors.RepositoryNotFoundError):
        return HubError("not-found", f"repository not found or not accessible: {text}", status)
    if isinstance(exc, errors.EntryNotFoundError):
        return HubError("missing-file", f"file not found: {text}", status)
    if status in (401, 403):
        return HubError("gated", f"access denied ({status}): {text}", status)
    if status == 404:
        return HubError("missing-file", f"not found (404): {text}", status)
    return HubError("failed", f"{type(exc).__name__}: {text}", status)


def safe_repo_path(path: str) -> bool:
    """True for a relative path that stays inside the repository (no ``..``, no absolute or drive paths)."""
    if not path or path.startswith(("/", "\\")) or "\\" in path or ":" in path.split("/", 1)[0]:
        return False
    return all(part not in ("", ".", "..") for part in path.split("/"))


def _silent_tqdm() -> Any:
    """A tqdm class that draws nothing: only the CLI decides what appears on the terminal."""
    from tqdm.auto import tqdm

    class _Silent(tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return _Silent


def _status_of(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    return code if isinstance(code, int) else None


class HubClient:
    """Calls the Hub through ``huggingface_hub``; every failure surfaces as ``HubError``."""

    def __init__(self, config: HubConfig | None = None) -> None:
        self.config = config or HubConfig()
        self.endpoint = self.config.resolved_endpoint()
        self.token = self.config.resolved_token()
        self._api: Any = None

    @property
    def api(self) -> Any:
        if self._api is None:
            from huggingface_hub import HfApi

            self._api = HfApi(endpoint=self.endpoint, token=self.token)
        return self._api

    def headers(self) -> dict[str, str]:
        """Request headers with the user agent and, when a token is known, its Authorization."""
        from huggingface_hub.utils import build_hf_headers

        return dict(build_hf_headers(token=self.token, library_name="modelsieve"))

    def listing(self, ref: RepoRef) -> RepoListing:
        """Files (with sizes and LFS hashes) and metadata of a repository at ``ref.revision``."""
        try:
            if ref.repo_type == "model":
                info = self.api.model_info(
                    ref.repo_id,
                    revision=ref.revision,
                    files_metadata=True,
                    securityStatus=True,
                    timeout=self.config.timeout,
                )
            else:
                info = self.api.repo_info(
                    ref.repo_id,
                    repo_type=ref.repo_type,
                    revision=ref.revision,
                    files_metadata=True,
                    timeout=self.config.timeout,
                )
        except Exception as exc:
            raise translate(exc) from exc
        files = tuple(
            RemoteEntry(
                path=s.rfilename,
                size=s.size,
                blob_id=s.blob_id,
                lfs_sha256=(s.lfs.sha256 if s.lfs is not None else None),
            )
            for s in (info.siblings or ())
        )
        return RepoListing(
            ref=ref,
            sha=getattr(info, "sha", None),
            files=files,
            gated=getattr(info, "gated", None),
            downloads=getattr(info, "downloads", None),
            used_storage=getattr(info, "used_storage", None),
            security_repo_status=getattr(info, "security_repo_status", None),
            private=getattr(info, "private", None),
        )

    def tree_security(self, ref: RepoRef, revision: str) -> dict[str, Mapping[str, Any]]:
        """Raw ``securityFileStatus`` of every file (``tree?expand=true``), keyed by path.

        Read as raw JSON because the library's typed ``RepoFile`` keeps only two of the scanners.
        """
        from urllib.parse import quote

        url: str | None = (
            f"{self.endpoint}/api/{ref.repo_type}s/{ref.repo_id}/tree/{quote(revision, safe='')}"
            "?recursive=true&expand=true"
        )
        out: dict[str, Mapping[str, Any]] = {}
        pages = 0
        while url and pages < 200:
            pages += 1
            response = self._get(url)
            for item in response.json():
                if isinstance(item, dict) and item.get("type") == "file" and "securityFileStatus" in item:
                    status = item["securityFileStatus"]
                    if isinstance(status, dict):
                        out[str(item.get("path"))] = status
            url = response.links.get("next", {}).get("url")
        return out

    def _get(self, url: str) -> Any:
        from huggingface_hub.utils import get_session, hf_raise_for_status

        try:
            response = get_session().get(url, headers=self.headers(), timeout=self.config.timeout)
            hf_raise_for_status(response)
        except Exception as exc:
            raise translate(exc) from exc
        return response

    def file_url(self, ref: RepoRef, path: str, revision: str | None) -> str:
        from huggingface_hub import hf_hub_url

        return str(hf_hub_url(ref.repo_id, path, repo_type=ref.repo_type, revision=revision, endpoint=self.endpoint))

    def download(self, ref: RepoRef, path: str, revision: str | None, *, local_dir: str | None = None) -> str:
        """Download one file into the Hugging Face cache (or ``local_dir``); return its local path."""
        from huggingface_hub import hf_hub_download

        if not safe_repo_path(path):
            raise HubError("failed", f"refusing to download a path outside the repository: {path!r}")
        try:
            return str(
                hf_hub_download(
                    ref.repo_id,
                    path,
                    repo_type=ref.repo_type,
                    revision=revision,
                    endpoint=self.endpoint,
                    token=self.token,
                    cache_dir=self.config.cache_dir,
                    local_dir=local_dir,
                    etag_timeout=self.config.timeout,
                    tqdm_class=_silent_tqdm(),
                )
            )
        except Exception as exc:
            raise translate(exc) from exc

    def search_models(
        self, *, search: str | None, limit: int, sort: str | None = "last_modified"
    ) -> Iterator[ModelSummary]:
        """Models matching ``search`` (newest first by default), with file names and download counts."""
        try:
            for info in self.api.list_models(
                search=search,
                sort=sort,
                limit=limit,
                expand=["downloads", "siblings", "usedStorage", "gated", "tags"],
            ):
                yield ModelSummary(
                    repo_id=info.id,
                    downloads=info.downloads,
                    filenames=tuple(s.rfilename for s in (info.siblings or ())),
                    used_storage=getattr(info, "used_storage", None),
                    gated=getattr(info, "gated", None),
                    tags=tuple(info.tags or ()),
                )
        except Exception as exc:
            raise translate(exc) from exc
