"""A local stand-in for the part of the Hugging Face Hub API that ``huggingface_hub`` uses.

Routes (as read from huggingface_hub's source):
- ``GET /api/{models|datasets|spaces}/{owner}/{name}[/revision/{rev}]`` (``blobs``, ``securityStatus``)
- ``GET /api/{type}s/{owner}/{name}/tree/{rev}`` (``recursive``, ``expand``; Link-header pagination)
- ``GET /api/models`` (search listing)
- ``HEAD``/``GET /[datasets/|spaces/]{owner}/{name}/resolve/{rev}/{path}``: ETag, X-Repo-Commit,
  X-Linked-Etag/X-Linked-Size, a 302 to ``/cdn/{sha256}`` for LFS files, Range requests.
Errors carry ``X-Error-Code`` like the real Hub (RepoNotFound, GatedRepo, EntryNotFound).
Binds 127.0.0.1 on an ephemeral port and shuts itself down after ``max_seconds``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class FakeFile:
    """One file: bytes in memory or a file on disk (for big ones)."""

    data: bytes | None = None
    disk: Path | None = None
    lfs: bool = True
    security: dict[str, Any] | None = None
    missing_size: int | None = None  # listed with this size, but the storage answers 404

    @property
    def size(self) -> int:
        if self.missing_size is not None:
            return self.missing_size
        return len(self.data) if self.data is not None else os.path.getsize(self.disk)  # type: ignore[arg-type]

    def read(self, start: int, stop: int) -> bytes:
        if self.data is not None:
            return self.data[start:stop]
        with open(self.disk, "rb") as f:  # type: ignore[arg-type]
            f.seek(start)
            return f.read(stop - start)

    @property
    def sha256(self) -> str:
        if self.missing_size is not None:
            return hashlib.sha256(b"missing").hexdigest()
        if self.data is not None:
            return hashlib.sha256(self.data).hexdigest()
        h = hashlib.sha256()
        with open(self.disk, "rb") as f:  # type: ignore[arg-type]
            while chunk := f.read(1 << 20):
                h.update(chunk)
        return h.hexdigest()

    @property
    def git_sha1(self) -> str:
        head = f"blob {self.size}\0".encode()
        return hashlib.sha1(head + (self.data or b"")).hexdigest()


@dataclass
class FakeRepo:
    repo_id: str
    files: dict[str, FakeFile]
    repo_type: str = "model"
    sha: str = "0123456789abcdef0123456789abcdef01234567"
    gated: str | bool = False
    token: str | None = None
    downloads: int = 10
    security_repo: dict[str, Any] | None = None
    tags: tuple[str, ...] = ()
    _sha256: dict[str, str] = field(default_factory=dict)

    def sha256(self, path: str) -> str:
        if path not in self._sha256:
            self._sha256[path] = self.files[path].sha256
        return self._sha256[path]


class FakeHub:
    """The server plus counters the tests read."""

    def __init__(self, *, max_seconds: float = 300.0, page_size: int = 50) -> None:
        self.repos: dict[tuple[str, str], FakeRepo] = {}
        self.page_size = page_size
        self.bytes_sent: Counter[str] = Counter()
        self.requests: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # LFS objects redirect to another host name, like the real Hub's CDN.
        self.cdn_url = f"http://localhost:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._timer = threading.Timer(max_seconds, self.stop)
        self._timer.daemon = True

    def start(self) -> FakeHub:
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.cancel()
        self.server.shutdown()
        self.server.server_close()

    def add(self, repo: FakeRepo) -> FakeRepo:
        self.repos[(repo.repo_type, repo.repo_id)] = repo
        return repo

    def reset_counters(self) -> None:
        with self.lock:
            self.bytes_sent.clear()
            self.requests.clear()

    def sent_for(self, path_suffix: str) -> int:
        with self.lock:
            return sum(n for key, n in self.bytes_sent.items() if key.endswith(path_suffix))

    # --- JSON views -------------------------------------------------------------------------------

    def info(self, repo: FakeRepo, security: bool) -> dict[str, Any]:
        siblings = []
        for path, f in sorted(repo.files.items()):
            item: dict[str, Any] = {"rfilename": path, "size": f.size, "blobId": f.git_sha1}
            if f.lfs:
                item["lfs"] = {"sha256": repo.sha256(path), "size": f.size, "pointerSize": 134}
            siblings.append(item)
        data: dict[str, Any] = {
            "_id": "x",
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": repo.sha,
            "private": False,
            "gated": repo.gated,
            "disabled": False,
            "downloads": repo.downloads,
            "likes": 0,
            "tags": list(repo.tags),
            "siblings": siblings,
            "usedStorage": sum(f.size for f in repo.files.values()),
            "lastModified": "2026-01-01T00:00:00.000Z",
            "createdAt": "2026-01-01T00:00:00.000Z",
        }
        if security and repo.security_repo is not None:
            data["securityRepoStatus"] = repo.security_repo
        return data

    def tree_entry(self, repo: FakeRepo, path: str, expand: bool) -> dict[str, Any]:
        f = repo.files[path]
        item: dict[str, Any] = {"type": "file", "oid": f.git_sha1, "size": f.size, "path": path}
        if f.lfs:
            item["lfs"] = {"oid": repo.sha256(path), "size": f.size, "pointerSize": 134}
        if expand:
            item["lastCommit"] = {"id": repo.sha, "title": "upload", "date": "2026-01-01T00:00:00.000Z"}
            item["securityFileStatus"] = f.security or {
                "status": "unscanned",
                "avScan": {"status": "unscanned"},
                "pickleImportScan": {"status": "unscanned"},
            }
        return item


_API = re.compile(r"^/api/(models|datasets|spaces)/([^/]+/[^/]+)(?:/revision/([^/]+))?$")
_TREE = re.compile(r"^/api/(models|datasets|spaces)/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?$")
_RESOLVE = re.compile(r"^/(?:(datasets|spaces)/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")
_CDN = re.compile(r"^/cdn/([0-9a-f]{64})/(.+)$")
_KIND = {"models": "model", "datasets": "dataset", "spaces": "space", None: "model"}


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_HEAD(self) -> None:
            self._route(head=True)

        def do_GET(self) -> None:
            self._route(head=False)

        # --- helpers ------------------------------------------------------------------------------

        def _send(
            self,
            status: int,
            body: bytes = b"",
            headers: dict[str, str] | None = None,
            *,
            head: bool = False,
            count_key: str | None = None,
        ) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if "Content-Length" not in (headers or {}):
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if head or not body:
                return
            # Counted before writing: the client may finish reading (and the test assert) before
            # this thread runs again after the write.
            if count_key is not None:
                with hub.lock:
                    hub.bytes_sent[count_key] += len(body)
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                return

        def _json(
            self, value: Any, status: int = 200, headers: dict[str, str] | None = None, head: bool = False
        ) -> None:
            body = json.dumps(value).encode()
            self._send(status, body, {"Content-Type": "application/json", **(headers or {})}, head=head)

        def _error(self, status: int, code: str, message: str = "", head: bool = False) -> None:
            headers = {"X-Error-Code": code, "X-Error-Message": message or code}
            self._json({"error": message or code}, status, headers, head=head)

        def _authorised(self, repo: FakeRepo) -> bool:
            if not repo.token:
                return True
            return self.headers.get("Authorization") == f"Bearer {repo.token}"

        def _repo(self, kind: str, repo_id: str) -> FakeRepo | None:
            return hub.repos.get((kind, repo_id))

        # --- routing ------------------------------------------------------------------------------

        def _route(self, *, head: bool) -> None:
            parts = urlsplit(self.path)
            path = unquote(parts.path)
            query = parse_qs(parts.query)
            with hub.lock:
                hub.requests.append((self.command, path, self.headers.get("Range", "")))
            if path == "/api/models":
                return self._search(query, head)
            m = _TREE.match(path)
            if m:
                return self._tree(_KIND[m.group(1)], m.group(2), m.group(3), query, head)
            m = _API.match(path)
            if m:
                return self._info(_KIND[m.group(1)], m.group(2), m.group(3), query, head)
            m = _CDN.match(path)
            if m:
                return self._cdn(m.group(1), m.group(2), head)
            m = _RESOLVE.match(path)
            if m:
                return self._resolve(_KIND[m.group(1)], m.group(2), m.group(3), m.group(4), head)
            self._error(404, "NotFound", "no route", head)

        def _info(self, kind: str, repo_id: str, rev: str | None, query: dict[str, list[str]], head: bool) -> None:
            repo = self._repo(kind, repo_id)
            if repo is None:
                return self._error(401, "RepoNotFound", "Repository not found", head)
            if rev is not None and rev not in ("main", repo.sha):
                return self._error(404, "RevisionNotFound", "Invalid rev id", head)
            security = query.get("securityStatus", ["false"])[0].lower() == "true"
            self._json(hub.info(repo, security), head=head)

        def _tree(self, kind: str, repo_id: str, rev: str, query: dict[str, list[str]], head: bool) -> None:
            repo = self._repo(kind, repo_id)
            if repo is None:
                return self._error(401, "RepoNotFound", "Repository not found", head)
            if rev not in ("main", repo.sha):
                return self._error(404, "RevisionNotFound", "Invalid rev id", head)
            expand = query.get("expand", ["false"])[0].lower() == "true"
            paths = sorted(repo.files)
            start = int(query.get("cursor", ["0"])[0])
            page = paths[start : start + hub.page_size]
            headers = {}
            if start + hub.page_size < len(paths):
                kind_s = kind + "s"
                nxt = f"{hub.url}/api/{kind_s}/{repo_id}/tree/{rev}?recursive=true&expand={str(expand).lower()}"
                headers["Link"] = f'<{nxt}&cursor={start + hub.page_size}>; rel="next"'
            self._json([hub.tree_entry(repo, p, expand) for p in page], headers=headers, head=head)

        def _search(self, query: dict[str, list[str]], head: bool) -> None:
            search = query.get("search", [""])[0].lower()
            limit = int(query.get("limit", ["1000"])[0])
            out = []
            for (kind, repo_id), repo in sorted(hub.repos.items()):
                if kind != "model" or (search and search not in repo_id.lower()):
                    continue
                out.append(
                    {
                        "id": repo_id,
                        "downloads": repo.downloads,
                        "siblings": [{"rfilename": p} for p in sorted(repo.files)],
                        "usedStorage": sum(f.size for f in repo.files.values()),
                        "gated": repo.gated,
                        "tags": list(repo.tags),
                    }
                )
            self._json(out[:limit], head=head)

        def _resolve(self, kind: str, repo_id: str, rev: str, file_path: str, head: bool) -> None:
            repo = self._repo(kind, repo_id)
            if repo is None:
                return self._error(401, "RepoNotFound", "Repository not found", head)
            if not self._authorised(repo):
                return self._error(403, "GatedRepo", "Access to this repository is restricted", head)
            if rev not in ("main", repo.sha):
                return self._error(404, "RevisionNotFound", "Invalid rev id", head)
            f = repo.files.get(file_path)
            if f is None or f.missing_size is not None:
                return self._error(404, "EntryNotFound", "Entry not found", head)
            common = {"X-Repo-Commit": repo.sha, "Accept-Ranges": "bytes"}
            if f.lfs:
                sha = repo.sha256(file_path)
                location = f"{hub.cdn_url}/cdn/{sha}/{repo.repo_type}/{repo_id}/{file_path}"
                headers = {
                    **common,
                    "Location": location,
                    "X-Linked-Etag": f'"{sha}"',
                    "X-Linked-Size": str(f.size),
                    "ETag": f'"{f.git_sha1}"',
                }
                return self._send(302, b"", headers, head=head)
            self._body(f, f"{repo.repo_type}/{repo_id}/{file_path}", {**common, "ETag": f'"{f.git_sha1}"'}, head)

        def _cdn(self, sha: str, rest: str, head: bool) -> None:
            kind, _, tail = rest.partition("/")
            owner, name, file_path = tail.split("/", 2)
            repo = self._repo(kind, f"{owner}/{name}")
            if (
                repo is None
                or file_path not in repo.files
                or repo.sha256(file_path) != sha
                or (repo.files[file_path].missing_size is not None)
            ):
                return self._error(404, "NotFound", "no such object", head)
            self._body(repo.files[file_path], rest, {"ETag": f'"{sha}"', "Accept-Ranges": "bytes"}, head)

        def _body(self, f: FakeFile, key: str, headers: dict[str, str], head: bool) -> None:
            size = f.size
            rng = self.headers.get("Range")
            m = re.match(r"^bytes=(\d+)-(\d*)$", rng or "")
            if m:
                start = int(m.group(1))
                stop = min(size, int(m.group(2)) + 1) if m.group(2) else size
                if start >= size:
                    return self._send(416, b"", {**headers, "Content-Range": f"bytes */{size}"}, head=head)
                body = b"" if head else f.read(start, stop)
                headers = {
                    **headers,
                    "Content-Range": f"bytes {start}-{stop - 1}/{size}",
                    "Content-Length": str(stop - start),
                }
                return self._send(206, body, headers, head=head, count_key=key)
            body = b"" if head else f.read(0, size)
            self._send(200, body, {**headers, "Content-Length": str(size)}, head=head, count_key=key)

    return Handler
