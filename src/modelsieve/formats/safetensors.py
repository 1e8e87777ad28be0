"""safetensors: validate the JSON header against the published layout; never read tensor bytes.

Layout: an 8-byte little-endian header length N, N bytes of JSON (a map of tensor
name -> {dtype, shape, data_offsets} plus an optional ``__metadata__`` map of
strings), then the data region that the tensors' byte ranges must tile exactly.
A well-formed file is clean however large it is, because the format cannot
carry code; the checks here catch denial-of-service headers, parser
differentials and polyglots (bytes after the data that another loader reads).
"""

from __future__ import annotations

import io
import json
import os
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

from modelsieve.formats.base import ScanContext
from modelsieve.indicators import indicator_findings
from modelsieve.model import Analysis, Finding
from modelsieve.rules import formats_rules as fr
from modelsieve.source import Artifact

# Bits per element: sub-byte types (F4, F6) pack several elements per byte.
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8,
    "F8_E8M0": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "F64": 64,
    "I64": 64,
    "U64": 64,
    "C64": 64,
}
_MAX_RANK = 64
_MAX_FINDINGS_PER_KIND = 20


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


@dataclass(frozen=True)
class _Tensor:
    """One validated header record."""

    name: str
    begin: int
    end: int


class Window(io.RawIOBase):
    """A read-only view of ``length`` bytes of ``base`` starting at ``start`` (for trailing data)."""

    def __init__(self, base: BinaryIO, start: int, length: int) -> None:
        self._base, self._start, self._length, self._pos = base, start, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._length}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int | None = -1) -> bytes:
        left = max(0, self._length - self._pos)
        n = left if n is None or n < 0 else min(n, left)
        self._base.seek(self._start + self._pos)
        data = self._base.read(n)
        self._pos += len(data)
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


class SafetensorsScanner:
    """Header validation for ``.safetensors`` files."""

    name = "safetensors"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        if len(head) < 10:
            return False
        (n,) = struct.unpack_from("<Q", head)
        return n >= 2 and head[8:9] == b"{" and head[9:10] in b' \t\r\n"}'

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        loc = artifact.location
        (n,) = struct.unpack("<Q", artifact.read_at(0, 8))
        limit = min(ctx.limits.max_header_bytes, 100 * 1024 * 1024)
        if n > artifact.size - 8 or n > limit:
            why = "is larger than the file" if n > artifact.size - 8 else f"exceeds the {limit} byte limit"
            return self._done(
                fr.SAFETENSORS_HEADER_SIZE.finding(
                    loc.at(offset=0, detail="header"),
                    f"header length {n} {why} (file is {artifact.size} bytes)",
                    subject="header-length",
                    evidence=f"header length field: {n}",
                )
            )
        raw = artifact.read_at(8, n)
        try:
            header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
        except _DuplicateKeyError as exc:
            return self._done(
                fr.SAFETENSORS_DUPLICATE_KEY.finding(
                    loc.at(offset=8, detail=f"key: {exc.key}"),
                    f"header has the key {exc.key!r} more than once; loaders disagree on which one counts",
                    subject=exc.key,
                )
            )
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return self._done(
                fr.SAFETENSORS_HEADER_INVALID.finding(
                    loc.at(offset=8, detail="header"), f"header is not valid JSON: {exc}", subject="header"
                )
            )
        if not isinstance(header, dict):
            return self._done(
                fr.SAFETENSORS_HEADER_INVALID.finding(
                    loc.at(offset=8, detail="header"),
                    f"header is a JSON {type(header).__name__}, not an object",
                    subject="header",
                )
            )
        findings: list[Finding] = []
        tensors: list[_Tensor] = []
        for key, value in header.items():
            ctx.check_time()
            if key == "__metadata__":
                findings.extend(self._metadata(value, artifact))
                continue
            problem = _check_tensor(value)
            if problem is not None:
                if sum(f.rule_id == fr.SAFETENSORS_BAD_TENSOR.id for f in findings) < _MAX_FINDINGS_PER_KIND:
                    findings.append(
                        fr.SAFETENSORS_BAD_TENSOR.finding(
                            loc.at(detail=f"tensor: {key}"), f"tensor {key!r}: {problem}", subject=key
                        )
                    )
                continue
            begin, end = value["data_offsets"]
            tensors.append(_Tensor(key, begin, end))
        # With a broken record the layout is unknowable: trailing-byte claims would be noise.
        if not any(f.rule_id == fr.SAFETENSORS_BAD_TENSOR.id for f in findings):
            findings.extend(self._layout(tensors, artifact, 8 + n, ctx))
        return Analysis(formats=(self.name,), findings=tuple(findings))

    def _done(self, finding: Finding) -> Analysis:
        return Analysis(formats=(self.name,), findings=(finding,))

    def _metadata(self, value: object, artifact: Artifact) -> list[Finding]:
        loc = artifact.location
        if not isinstance(value, dict):
            return [
                fr.SAFETENSORS_BAD_METADATA.finding(
                    loc.at(detail="metadata"),
                    f"__metadata__ is a {type(value).__name__}, not a map of strings",
                    subject="__metadata__",
                )
            ]
        out: list[Finding] = []
        for k, v in value.items():
            if not isinstance(v, str):
                out.append(
                    fr.SAFETENSORS_BAD_METADATA.finding(
                        loc.at(detail=f"metadata: {k}"),
                        f"__metadata__ value {k!r} is a {type(v).__name__}, not a string",
                        subject=f"__metadata__.{k}",
                    )
                )
                continue
            out.extend(indicator_findings(f"{k}: {v}", loc.at(detail=f"metadata: {k}")))
        return out

    def _layout(self, tensors: list[_Tensor], artifact: Artifact, data_start: int, ctx: ScanContext) -> list[Finding]:
        loc = artifact.location
        data_size = artifact.size - data_start
        out: list[Finding] = []
        expected = 0
        for t in sorted(tensors, key=lambda t: (t.begin, t.end)):
            if len(out) >= _MAX_FINDINGS_PER_KIND:
                break
            if t.end > data_size:
                out.append(
                    fr.SAFETENSORS_BAD_LAYOUT.finding(
                        loc.at(detail=f"tensor: {t.name}"),
                        f"tensor {t.name!r} ends at byte {t.end} of the data, past its end ({data_size} bytes)",
                        subject=t.name,
                    )
                )
            elif t.begin < expected:
                out.append(
                    fr.SAFETENSORS_BAD_LAYOUT.finding(
                        loc.at(detail=f"tensor: {t.name}"),
                        f"tensor {t.name!r} overlaps the previous tensor (starts at {t.begin}, expected {expected})",
                        subject=t.name,
                    )
                )
            elif t.begin > expected:
                out.append(
                    fr.SAFETENSORS_BAD_LAYOUT.finding(
                        loc.at(offset=data_start + expected, detail=f"tensor: {t.name}"),
                        f"{t.begin - expected} unused bytes before tensor {t.name!r}",
                        subject=t.name,
                    )
                )
            expected = max(expected, t.end)
        if expected < data_size:
            out.extend(self._trailing(artifact, data_start + expected, data_size - expected, ctx))
        return out

    def _trailing(self, artifact: Artifact, start: int, length: int, ctx: ScanContext) -> list[Finding]:
        head = artifact.read_at(start, 16)
        out = [
            fr.SAFETENSORS_TRAILING_DATA.finding(
                artifact.location.at(offset=start, detail="after tensor data"),
                f"{length} bytes follow the last tensor; safetensors ignores them, other loaders may not",
                subject="trailing-data",
                evidence=f"first bytes: {head.hex()}",
            )
        ]
        # Only content another loader could act on is analysed: a pickle or a zip-based checkpoint.
        child = artifact.child(
            io.BufferedReader(Window(artifact.stream, start, length)), length, f"<bytes after tensor data @{start}>"
        )
        out.extend(ctx.dispatch(child).findings)
        return out


def _check_tensor(value: object) -> str | None:
    """Why a tensor record is malformed, or None when it is consistent."""
    if not isinstance(value, dict):
        return f"record is a {type(value).__name__}, not an object"
    dtype, shape, offsets = value.get("dtype"), value.get("shape"), value.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        return f"unknown dtype {dtype!r}"
    if not isinstance(shape, list) or len(shape) > _MAX_RANK:
        return f"malformed shape {str(shape)[:80]}"
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        return f"malformed shape {str(shape)[:80]}"
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)
        or offsets[0] > offsets[1]
    ):
        return f"malformed data_offsets {str(offsets)[:80]}"
    count = 1
    for d in shape:
        count *= d
    bits = count * DTYPE_BITS[dtype]
    nbytes = offsets[1] - offsets[0]
    if bits % 8 or bits // 8 != nbytes:
        return f"shape {shape} of {dtype} needs {bits / 8:g} bytes but data_offsets span {nbytes}"
    return None


SCANNER = SafetensorsScanner()
