"""GGUF (llama.cpp): parse the header and metadata per the published spec, bounded; analyse chat templates.

The spec (ggml/docs/gguf.md): magic ``GGUF``, uint32 version (1-3), tensor and
metadata counts (uint32 in v1, uint64 later), then typed key/value pairs and
tensor infos. Parsing is done here rather than with ``gguf.GGUFReader`` because
the reader memory-maps the whole file and trusts every count and length, so a
hostile header becomes a huge allocation. Tensor bytes are never read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from modelsieve.chat_template import template_findings, template_keys
from modelsieve.formats.base import ScanContext
from modelsieve.indicators import indicator_findings
from modelsieve.model import Analysis, Finding
from modelsieve.rules import general
from modelsieve.source import Artifact

_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9
_MAX_KV = 100_000
_MAX_TENSORS = 10_000_000
_MAX_STRING = 64 * 1024 * 1024
_MAX_KEY = 64 * 1024
_MAX_KEPT_STRING = 4 * 1024 * 1024
_MAX_KEPT_TOTAL = 32 * 1024 * 1024
_MAX_ARRAY_ELEMS = 50_000_000
_MAX_DIMS = 8
_MAX_SANDBOX_TEMPLATES = 4


class GGUFError(Exception):
    """Malformed header (GEN001) — ``offset`` is where parsing stopped."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class GGUFLimit(GGUFError):
    """A count or length beyond what the file can hold or beyond the limits (GEN002)."""


class _Reader:
    """Sequential reads through a bounded buffer; every length is checked against the file first."""

    _CHUNK = 1 << 20

    def __init__(self, artifact: Artifact, endian: str) -> None:
        self.artifact = artifact
        self.endian = endian
        self.pos = 0
        self._buf = b""
        self._buf_start = 0

    def remaining(self) -> int:
        return self.artifact.size - self.pos

    def read(self, n: int) -> bytes:
        if n > self.remaining():
            raise GGUFError(f"truncated: needs {n} bytes, {self.remaining()} left", self.pos)
        rel = self.pos - self._buf_start
        if rel < 0 or rel + n > len(self._buf):
            if n > self._CHUNK:
                data = self.artifact.read_at(self.pos, n)
                self.pos += n
                return data
            self._buf = self.artifact.read_at(self.pos, max(self._CHUNK, n))
            self._buf_start, rel = self.pos, 0
        self.pos += n
        return self._buf[rel : rel + n]

    def skip(self, n: int) -> None:
        if n > self.remaining():
            raise GGUFError(f"truncated: skipping {n} bytes, {self.remaining()} left", self.pos)
        self.pos += n

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        return struct.unpack(self.endian + fmt, self.read(size))[0]

    def count(self, fmt: str, what: str, cap: int, min_item: int) -> int:
        at = self.pos
        n = int(self.unpack(fmt))
        if n > cap or n * min_item > self.remaining():
            raise GGUFLimit(f"{what} {n} is beyond what the file can hold or the limit of {cap}", at)
        return n

    def string_length(self, len_fmt: str, cap: int) -> int:
        at = self.pos
        n = int(self.unpack(len_fmt))
        if n > cap or n > self.remaining():
            raise GGUFLimit(f"string length {n} is beyond what the file can hold or the limit of {cap}", at)
        return n

    def string(self, len_fmt: str, cap: int, keep: bool = True) -> str | None:
        n = self.string_length(len_fmt, cap)
        if not keep:
            self.skip(n)
            return None
        return self.read(n).decode("utf-8", "replace")


@dataclass(frozen=True)
class _Metadata:
    """Strings kept from the metadata section (arrays are skipped, not stored)."""

    strings: tuple[tuple[str, str, int], ...]
    skipped: tuple[tuple[str, int, int], ...]
    kv_count: int
    tensor_count: int
    version: int


def _parse(artifact: Artifact, ctx: ScanContext) -> _Metadata:
    head = artifact.read_at(0, 8)
    if len(head) < 8:
        raise GGUFError("truncated: no version field", len(head))
    (version,) = struct.unpack("<I", head[4:8])
    endian = "<"
    if version > 0xFFFF:
        endian = ">"
        (version,) = struct.unpack(">I", head[4:8])
    if version not in (1, 2, 3):
        raise GGUFError(f"unsupported GGUF version {version}", 4)
    r = _Reader(artifact, endian)
    r.skip(8)
    count_fmt = "I" if version == 1 else "Q"
    tensor_count = r.count(count_fmt, "tensor count", _MAX_TENSORS, 8)
    kv_count = r.count(count_fmt, "metadata count", _MAX_KV, 13)
    strings: list[tuple[str, str, int]] = []
    skipped: list[tuple[str, int, int]] = []
    kept = 0
    for _ in range(kv_count):
        ctx.check_time()
        key = r.string(count_fmt, _MAX_KEY) or ""
        vtype = r.unpack("I")
        at = r.pos
        if vtype == _STRING:
            n = r.string_length(count_fmt, _MAX_STRING)
            if n > _MAX_KEPT_STRING or kept + n > _MAX_KEPT_TOTAL:
                skipped.append((key, n, at))
                r.skip(n)
            else:
                kept += n
                strings.append((key, r.read(n).decode("utf-8", "replace"), at))
        elif vtype == _ARRAY:
            _skip_array(r, count_fmt, ctx)
        elif vtype in _SCALARS:
            r.skip(struct.calcsize(_SCALARS[vtype]))
        else:
            raise GGUFError(f"metadata {key!r} has unknown value type {vtype}", at - 4)
    for _ in range(tensor_count):
        ctx.check_time()
        r.string(count_fmt, _MAX_KEY, keep=False)
        at = r.pos
        n_dims = r.unpack("I")
        if n_dims > _MAX_DIMS:
            raise GGUFError(f"tensor with {n_dims} dimensions", at)
        r.skip(n_dims * (4 if version == 1 else 8) + 4 + 8)
    return _Metadata(tuple(strings), tuple(skipped), kv_count, tensor_count, version)


def _skip_array(r: _Reader, count_fmt: str, ctx: ScanContext) -> None:
    at = r.pos
    etype = r.unpack("I")
    if etype in _SCALARS:
        size = struct.calcsize(_SCALARS[etype])
        r.skip(r.count(count_fmt, "array length", _MAX_ARRAY_ELEMS, size) * size)
    elif etype == _STRING:
        n = r.count(count_fmt, "array length", _MAX_ARRAY_ELEMS, 8 if count_fmt == "Q" else 4)
        for i in range(n):
            if i % 65536 == 0:
                ctx.check_time()
            r.string(count_fmt, _MAX_STRING, keep=False)
    else:
        # Nested arrays are allowed by the spec but no writer emits them; refusing keeps recursion bounded.
        raise GGUFError(f"array of unsupported element type {etype}", at)


class GGUFScanner:
    """GGUF header, metadata and chat templates."""

    name = "gguf"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return head[:4] == b"GGUF"

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        loc = artifact.location
        try:
            meta = _parse(artifact, ctx)
        except GGUFLimit as exc:
            return self._result(
                general.LIMIT_EXCEEDED.finding(loc.at(offset=exc.offset), f"GGUF header: {exc}", subject="gguf-header")
            )
        except GGUFError as exc:
            return self._result(
                general.PARSE_ERROR.finding(loc.at(offset=exc.offset), f"GGUF header: {exc}", subject="gguf-header")
            )
        findings: list[Finding] = [
            general.LIMIT_EXCEEDED.finding(
                loc.at(offset=off, detail=f"metadata: {key}"),
                f"metadata string {key} of {n} bytes is too large to analyse",
                subject=f"gguf-string:{key}",
            )
            for key, n, off in meta.skipped
        ]
        by_key = {k: (v, off) for k, v, off in meta.strings}
        templates = template_keys(list(by_key))
        for n, key in enumerate(templates):
            value, off = by_key[key]
            ctx.check_time()
            findings.extend(
                template_findings(
                    value, loc.at(offset=off, detail=f"metadata: {key}"), key, sandbox=n < _MAX_SANDBOX_TEMPLATES
                )
            )
        for key, value, off in meta.strings:
            if key in templates:
                continue
            findings.extend(indicator_findings(value, loc.at(offset=off, detail=f"metadata: {key}")))
        return Analysis(formats=(self.name,), findings=tuple(findings))

    def _result(self, finding: Finding) -> Analysis:
        return Analysis(formats=(self.name,), findings=(finding,))


SCANNER = GGUFScanner()
