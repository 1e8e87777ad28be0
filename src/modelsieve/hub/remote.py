"""A seekable read-only file over HTTP range requests, with a small block cache.

Analysing a 10 GB zip checkpoint needs its end (central directory) and one small
member (``data.pkl``); reading through this class fetches only those blocks.
Failures raise ``RemoteReadError`` (an ``OSError``) and are remembered in
``RemoteFile.error`` so the caller can report them: a file that could not be
read is never clean.
"""

from __future__ import annotations

import io
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

DEFAULT_BLOCK = 64 * 1024
DEFAULT_CACHE_BLOCKS = 256
_MAX_READAHEAD_BLOCKS = 32


class RemoteReadError(OSError):
    """A range could not be fetched (HTTP error, network failure, short answer, budget spent)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def permanent(self) -> bool:
        return self.status in (401, 403, 404, 410)


class BudgetExceeded(RemoteReadError):
    """More bytes were requested from the server than the read budget allows."""


class RangeFetcher(Protocol):
    """Fetches bytes ``[start, stop)`` of one remote object."""

    def fetch(self, start: int, stop: int) -> bytes: ...


class HttpRangeFetcher:
    """``GET`` with a ``Range`` header through an httpx-style client, following redirects.

    After the first redirect to another host (a CDN), later ranges go straight to
    the final URL, without the Authorization header; if that URL has expired the
    original one is used again.
    """

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        session: Any = None,
        timeout: float = 30.0,
        retries: int = 2,
    ) -> None:
        self.url = url
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.retries = retries
        self._session = session
        self._direct: str | None = None
        self.requests = 0
        self.bytes_received = 0

    @property
    def session(self) -> Any:
        if self._session is None:
            from huggingface_hub.utils import get_session

            self._session = get_session()
        return self._session

    def fetch(self, start: int, stop: int) -> bytes:
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            url, headers = self._target()
            try:
                return self._fetch_once(url, headers, start, stop)
            except RemoteReadError as exc:
                last = exc
                if url is self._direct:
                    self._direct = None  # an expired CDN link: go back through the Hub
                elif exc.permanent:
                    raise
            except Exception as exc:
                last = exc
            if attempt < self.retries:
                time.sleep(0.2 * (attempt + 1))
        status = last.status if isinstance(last, RemoteReadError) else None
        raise RemoteReadError(f"range {start}-{stop - 1} of {self.url}: {last}", status) from last

    def _target(self) -> tuple[str, dict[str, str]]:
        if self._direct is not None:
            return self._direct, {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        return self.url, self.headers

    def _fetch_once(self, url: str, headers: Mapping[str, str], start: int, stop: int) -> bytes:
        want = stop - start
        request_headers = {**headers, "Range": f"bytes={start}-{stop - 1}", "Accept-Encoding": "identity"}
        self.requests += 1
        with self.session.stream("GET", url, headers=request_headers, timeout=self.timeout) as response:
            status = response.status_code
            if status == 206:
                data = _read_at_most(response, want)
            elif status == 200:
                # The server ignored Range: read only as far as needed, then drop the connection.
                data = _read_at_most(response, stop)[start:]
            elif status == 416:
                data = b""
            else:
                raise RemoteReadError(f"HTTP {status} for {url}", status)
            final = str(response.url)
        self.bytes_received += len(data)
        if final != url and urlsplit(final).netloc != urlsplit(self.url).netloc:
            self._direct = final
        return data


def _read_at_most(response: Any, limit: int) -> bytes:
    chunks: list[bytes] = []
    got = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        got += len(chunk)
        if got >= limit:
            break
    return b"".join(chunks)[:limit]


class RemoteFile(io.RawIOBase):
    """Read-only, seekable view of ``size`` remote bytes, fetched block by block on demand.

    ``budget`` bounds the bytes fetched from the server over the file's life.
    Sequential reads grow a read-ahead window so that streaming a member costs few
    requests; random reads fetch only the blocks they touch.
    """

    def __init__(
        self,
        fetcher: RangeFetcher,
        size: int,
        *,
        block_size: int = DEFAULT_BLOCK,
        cache_blocks: int = DEFAULT_CACHE_BLOCKS,
        budget: int | None = None,
        name: str = "",
    ) -> None:
        super().__init__()
        if block_size <= 0 or size < 0:
            raise ValueError("block_size must be positive and size non-negative")
        self.fetcher = fetcher
        self.size = size
        self.block_size = block_size
        self.cache_blocks = max(cache_blocks, 2 * _MAX_READAHEAD_BLOCKS + 4)
        self.budget = budget
        self.remote_name = name
        self.bytes_fetched = 0
        self.fetches = 0
        self.error: RemoteReadError | None = None
        self._pos = 0
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._last_block = -2
        self._readahead = 1

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self.size + offset
        else:
            raise ValueError(f"bad whence {whence}")
        if pos < 0:
            raise OSError(22, "negative seek position")
        self._pos = pos
        return pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        end = self.size if size is None or size < 0 else min(self.size, self._pos + size)
        parts = []
        # Large reads go span by span so that blocks are copied out before the cache evicts them.
        span = (self.cache_blocks // 2 - 1) * self.block_size
        while self._pos < end:
            parts.append(self._read_span(min(end, self._pos + span)))
        return b"".join(parts)

    def _read_span(self, end: int) -> bytes:
        first, last = self._pos // self.block_size, (end - 1) // self.block_size
        self._ensure(first, last)
        parts = []
        for index in range(first, last + 1):
            block = self._cache[index]
            self._cache.move_to_end(index)
            lo = max(self._pos, index * self.block_size) - index * self.block_size
            hi = min(end, (index + 1) * self.block_size) - index * self.block_size
            parts.append(block[lo:hi])
        data = b"".join(parts)
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def _ensure(self, first: int, last: int) -> None:
        sequential = first in (self._last_block, self._last_block + 1)
        self._readahead = min(self._readahead * 2, _MAX_READAHEAD_BLOCKS) if sequential else 1
        self._last_block = last
        # Blocks of this span already cached become the most recent, so fetching the rest cannot evict them.
        for index in range(first, last + 1):
            if index in self._cache:
                self._cache.move_to_end(index)
        index = first
        while index <= last:
            if index in self._cache:
                index += 1
                continue
            run_end = index
            while run_end + 1 <= last and run_end + 1 not in self._cache:
                run_end += 1
            if run_end == last and self._readahead > 1:
                limit = (self.size - 1) // self.block_size
                extra = min(last + self._readahead - 1, limit)
                while run_end < extra and run_end + 1 not in self._cache:
                    run_end += 1
            self._fetch_blocks(index, run_end)
            index = run_end + 1

    def _fetch_blocks(self, first: int, last: int) -> None:
        start = first * self.block_size
        stop = min(self.size, (last + 1) * self.block_size)
        if self.budget is not None and self.bytes_fetched + (stop - start) > self.budget:
            self.error = BudgetExceeded(
                f"reading {self.remote_name or 'remote file'} needs more than the read budget of {self.budget} bytes"
            )
            raise self.error
        try:
            data = self.fetcher.fetch(start, stop)
        except RemoteReadError as exc:
            self.error = exc
            raise
        except Exception as exc:
            self.error = RemoteReadError(str(exc))
            raise self.error from exc
        self.fetches += 1
        self.bytes_fetched += len(data)
        if len(data) != stop - start:
            self.error = RemoteReadError(
                f"short read at offset {start}: asked {stop - start} bytes, got {len(data)}"
                " (file changed on the server?)"
            )
            raise self.error
        for index in range(first, last + 1):
            lo = (index - first) * self.block_size
            self._cache[index] = data[lo : lo + self.block_size]
            self._cache.move_to_end(index)
        while len(self._cache) > self.cache_blocks:
            self._cache.popitem(last=False)
