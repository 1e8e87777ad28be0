"""Compressed streams (gzip, bzip2, xz, lzma-alone, zlib, lz4 frame, zstd): decode, then analyse what is inside.

``pickle.load(gzip.open(...))`` and joblib's compressors (zlib, gzip, bz2, xz,
lzma, lz4) wrap a whole pickle in one of these, so the decoded bytes go back
through dispatch and are recognised by content. Decoding streams into a bounded
spool and stops at the expansion and ratio limits (archive bombs).
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from modelsieve.formats.base import ScanContext
from modelsieve.model import Analysis, Finding
from modelsieve.rules import containers_rules as rules
from modelsieve.rules import general
from modelsieve.source import Artifact, spool

_CHUNK = 1 << 16
_PIECE = 1 << 20
# Ratios are only judged past this much output: tiny streams can have any ratio.
RATIO_MIN_BYTES = 16 * 1024**2


class _Decoder(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes, max_length: int = ...) -> bytes: ...


@dataclass(frozen=True)
class _Kind:
    """One compression format: how to recognise it and how to make a decoder."""

    name: str
    match: Callable[[bytes], bool]
    decoder: Callable[[], _Decoder | None]
    multi: bytes = b""


class _ZlibDecoder:
    """zlib/gzip through ``decompressobj`` with the bz2/lzma-style ``needs_input`` interface."""

    def __init__(self, wbits: int) -> None:
        self._d = zlib.decompressobj(wbits)

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def unused_data(self) -> bytes:
        return self._d.unused_data

    @property
    def needs_input(self) -> bool:
        return not self._d.unconsumed_tail

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        if not data and self._d.unconsumed_tail:
            data = self._d.unconsumed_tail
        return self._d.decompress(data, max(0, max_length))


def _lz4() -> _Decoder | None:
    try:
        import lz4.frame
    except ImportError:
        return None
    return lz4.frame.LZ4FrameDecompressor()  # type: ignore[no-any-return]


def _zstd() -> _Decoder | None:
    try:
        import zstandard
    except ImportError:
        return None
    return _ZstdDecoder(zstandard.ZstdDecompressor().decompressobj())


class _ZstdDecoder:
    """zstandard's decompressobj has no output bound; pieces are still bounded by input chunks."""

    def __init__(self, inner: object) -> None:
        self._d = inner
        self.unused_data = b""

    @property
    def eof(self) -> bool:
        return bool(getattr(self._d, "eof", False))

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        return self._d.decompress(data) if data else b""  # type: ignore[attr-defined,no-any-return]


def _is_bz2(h: bytes) -> bool:
    return len(h) >= 10 and h[:3] == b"BZh" and 0x31 <= h[3] <= 0x39 and h[4:10] in (b"1AY&SY", b"\x17rE8P\x90")


def _is_zlib(h: bytes) -> bool:
    if len(h) < 3 or h[0] & 0x0F != 8 or h[0] >> 4 > 7 or (h[0] << 8 | h[1]) % 31:
        return False
    try:
        return bool(zlib.decompressobj().decompress(h, 64))
    except zlib.error:
        return False


def _is_lzma_alone(h: bytes) -> bool:
    """The .lzma header has no magic: accept only what encoders write (joblib, xz-utils, Python)."""
    if len(h) < 14 or h[0] >= 225 or h[13] != 0:
        return False
    dict_size = int.from_bytes(h[1:5], "little")
    top = 1 << (dict_size.bit_length() - 1) if dict_size else 0
    if dict_size < 4096 or dict_size not in (top, top | top >> 1):
        return False
    size = int.from_bytes(h[5:13], "little")
    if size != (1 << 64) - 1 and size >= 1 << 48:
        return False
    try:
        return bool(lzma.LZMADecompressor(lzma.FORMAT_ALONE).decompress(h, 64))
    except lzma.LZMAError:
        return False


KINDS: tuple[_Kind, ...] = (
    _Kind("gzip", lambda h: h[:3] == b"\x1f\x8b\x08", lambda: _ZlibDecoder(31), multi=b"\x1f\x8b"),
    _Kind("bzip2", _is_bz2, bz2.BZ2Decompressor, multi=b"BZh"),
    _Kind("xz", lambda h: h[:6] == b"\xfd7zXZ\x00", lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ), multi=b"\xfd7zXZ"),
    _Kind("lz4", lambda h: h[:4] == b"\x04\x22\x4d\x18", _lz4, multi=b"\x04\x22\x4d\x18"),
    _Kind("zstd", lambda h: h[:4] == b"\x28\xb5\x2f\xfd", _zstd, multi=b"\x28\xb5\x2f\xfd"),
    _Kind("zlib", _is_zlib, lambda: _ZlibDecoder(15)),
    _Kind("lzma", _is_lzma_alone, lambda: lzma.LZMADecompressor(lzma.FORMAT_ALONE)),
)


def kind_of(head: bytes) -> _Kind | None:
    for kind in KINDS:
        if kind.match(head):
            return kind
    return None


class _Stop(Exception):
    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


class CompressedScanner:
    """Any of the stream compressors above, whatever the file is called."""

    name = "compressed"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return kind_of(head) is not None

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        kind = kind_of(artifact.head())
        assert kind is not None
        loc = artifact.location
        if kind.decoder() is None:
            return Analysis(
                formats=(kind.name,),
                findings=(
                    general.NOT_ANALYSED.finding(
                        loc, f"{kind.name} stream: no decoder installed, content not analysed", subject=kind.name
                    ),
                ),
            )
        out = spool(ctx.limits.max_member_in_memory)
        findings: list[Finding] = []
        try:
            size = 0
            try:
                for piece in _decode(artifact, kind, ctx):
                    out.write(piece)
                    size += len(piece)
            except _Stop as stop:
                findings.append(stop.finding)
            if size == 0:
                findings.append(
                    general.PARSE_ERROR.finding(loc, f"{kind.name} stream decodes to nothing", subject=kind.name)
                )
                return Analysis(formats=(kind.name,), findings=tuple(findings))
            out.seek(0)
            child = artifact.child(out, size, f"{artifact.name or 'stream'}!")
            inner = ctx.dispatch(child)
            return Analysis(formats=(kind.name,)).merge(inner, Analysis(findings=tuple(findings)))
        finally:
            out.close()


def _decode(artifact: Artifact, kind: _Kind, ctx: ScanContext) -> Iterator[bytes]:
    """Decoded pieces of the stream (several concatenated members included); raises _Stop at a limit or error."""
    loc = artifact.location
    limit = ctx.limits.max_archive_expanded_bytes
    decoder = kind.decoder()
    assert decoder is not None
    consumed = produced = 0
    pos = 0
    pending = b""
    while True:
        ctx.check_time()
        if not pending:
            pending = artifact.read_at(pos, _CHUNK)
            pos += len(pending)
            consumed += len(pending)
            if not pending:
                if not decoder.eof:
                    raise _Stop(
                        general.PARSE_ERROR.finding(
                            loc.at(offset=artifact.size),
                            f"{kind.name} stream truncated: ends before its end marker",
                            subject=kind.name,
                        )
                    )
                return
        try:
            piece = decoder.decompress(pending, _PIECE)
            pending = b""
            while True:
                if piece:
                    produced += len(piece)
                    if produced > limit:
                        raise _Stop(
                            rules.ARCHIVE_BOMB.finding(
                                loc, f"{kind.name} stream expands past {limit} bytes; stopped", subject="expanded-size"
                            )
                        )
                    if produced > RATIO_MIN_BYTES and produced > consumed * ctx.limits.max_compression_ratio:
                        raise _Stop(
                            rules.ARCHIVE_BOMB.finding(
                                loc,
                                f"{kind.name} stream expands more than {ctx.limits.max_compression_ratio}:1 "
                                f"({produced} bytes from {consumed}); stopped",
                                subject="compression-ratio",
                            )
                        )
                    yield piece
                if decoder.eof or getattr(decoder, "needs_input", True):
                    break
                piece = decoder.decompress(b"", _PIECE)
        except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError, RuntimeError) as exc:
            raise _Stop(
                general.PARSE_ERROR.finding(
                    loc.at(offset=consumed), f"{kind.name} stream corrupt: {exc}", subject=kind.name
                )
            ) from exc
        if decoder.eof:
            rest = (decoder.unused_data or b"") + pending
            pending = b""
            if not rest and pos < artifact.size:
                rest = artifact.read_at(pos, _CHUNK)
                pos += len(rest)
                consumed += len(rest)
            if kind.multi and rest.startswith(kind.multi):
                decoder = kind.decoder()
                assert decoder is not None
                pending = rest
                continue
            # Trailing bytes after the last member: loaders stop here too.
            return


COMPRESSED = CompressedScanner()
