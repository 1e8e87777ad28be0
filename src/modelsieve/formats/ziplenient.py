"""A zip reader as lenient as the loaders: parses the structures itself, never raises.

PyTorch reads checkpoints with miniz, which trusts the central directory, skips
CRC checks, ignores local-header names and most flag bits, and finds members by
a case-insensitive binary search over a heap-sorted index. Python's ``zipfile``
refuses several of these quirks, which is how scanners built on it were evaded.
This module reads what the loaders read and reports every quirk it meets, so a
format scanner can analyse the member the loader would actually use.

Only the central directory and the local headers are read up front; member data
is read on request, streaming into a bounded spool (a 2 GB checkpoint costs a
few kilobytes unless its tensors are asked for).
"""

from __future__ import annotations

import bz2
import io
import itertools
import lzma
import struct
import weakref
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, BinaryIO

from modelsieve.formats.base import ScanContext
from modelsieve.limits import Limits
from modelsieve.model import Analysis, Effect, Finding, Location, Severity
from modelsieve.rules import containers_rules as rules
from modelsieve.rules import general
from modelsieve.source import Artifact, spool

LOCAL_MAGIC = b"PK\x03\x04"
_CENTRAL_MAGIC = b"PK\x01\x02"
_EOCD_MAGIC = b"PK\x05\x06"
_ZIP64_LOCATOR_MAGIC = b"PK\x06\x07"
_ZIP64_EOCD_MAGIC = b"PK\x06\x06"
_EOCD = struct.Struct("<4sHHHHIIH")
_ZIP64_LOCATOR = struct.Struct("<4sIQI")
_ZIP64_EOCD = struct.Struct("<4sQHHIIQQQQ")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_MAX_COMMENT = 0xFFFF
_MAX_CENTRAL_DIRECTORY = 256 * 1024**2
# Entries parsed from one central directory whatever the caller asks: bounds memory and time for formats whose
# bulk members are never read (PyTorch storages) and which therefore raise their member cap.
MAX_CENTRAL_ENTRIES = 1_000_000
_CHUNK = 1 << 16
_PIECE = 1 << 20
# Ratios are only judged past this much output: small members can have any ratio.
RATIO_MIN_BYTES = 16 * 1024**2

FLAG_ENCRYPTED = 0x0001
FLAG_DATA_DESCRIPTOR = 0x0008
FLAG_PATCHED = 0x0020
FLAG_STRONG_ENCRYPTION = 0x0040
FLAG_UTF8 = 0x0800
FLAG_CD_ENCRYPTED = 0x2000
# Bits standard writers set: deflate level (1, 2), data descriptor (3), UTF-8 names (11).
_NORMAL_FLAGS = 0x0002 | 0x0004 | FLAG_DATA_DESCRIPTOR | FLAG_UTF8
# Bits that make miniz (and so PyTorch) refuse a member.
MINIZ_REFUSED_FLAGS = FLAG_ENCRYPTED | FLAG_PATCHED | FLAG_STRONG_ENCRYPTION | FLAG_CD_ENCRYPTED

METHOD_STORED = 0
METHOD_DEFLATE = 8
METHOD_BZIP2 = 12
METHOD_LZMA = 14
_METHOD_NAMES = {0: "stored", 8: "deflate", 9: "deflate64", 12: "bzip2", 14: "lzma", 93: "zstd", 95: "xz", 99: "aes"}

_S_IFMT = 0o170000
_S_IFLNK = 0o120000
_S_IFDIR = 0o040000


@dataclass(frozen=True, slots=True)
class ZipEntry:
    """One central-directory entry, with what its local header says beside it."""

    index: int
    name: str
    raw_name: bytes
    flags: int
    method: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int
    external_attr: int
    create_system: int
    central_offset: int
    local_name: str | None = None
    local_flags: int | None = None
    data_offset: int | None = None
    local_problem: str | None = None

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/") or (self.create_system == 3 and (self.external_attr >> 16) & _S_IFMT == _S_IFDIR)

    @property
    def is_symlink(self) -> bool:
        return self.create_system == 3 and (self.external_attr >> 16) & _S_IFMT == _S_IFLNK

    @property
    def is_encrypted(self) -> bool:
        return bool(self.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION))

    @property
    def method_name(self) -> str:
        return _METHOD_NAMES.get(self.method, f"method {self.method}")


@dataclass(frozen=True)
class ZipQuirk:
    """Something about the archive that a strict reader would refuse or read differently."""

    kind: str
    member: str
    detail: str
    offset: int | None = None


@dataclass(frozen=True)
class ZipDirectory:
    """The parsed central directory; ``error`` is set when it could not be read at all."""

    entries: tuple[ZipEntry, ...]
    quirks: tuple[ZipQuirk, ...] = ()
    error: str | None = None
    error_offset: int | None = None
    truncated_listing: bool = False
    declared_entries: int = 0
    listing_cap: int = 0

    def locate(self, name: str) -> ZipEntry | None:
        """The entry miniz (PyTorch) returns for ``name``: case-insensitive binary search on its heap sort."""
        # miniz indexes only as many entries as the end record declares.
        visible = (
            self.entries[: self.declared_entries] if 0 < self.declared_entries < len(self.entries) else self.entries
        )
        if not visible:
            return None
        order = self._miniz_order if visible is self.entries else _miniz_sorted(visible)
        target = name.encode("utf-8", "surrogateescape")
        lo, hi = 0, len(order) - 1
        while lo <= hi:
            mid = lo + ((hi - lo) >> 1)
            entry = visible[order[mid]]
            cmp = _miniz_compare(entry.raw_name, target)
            if cmp == 0:
                return entry
            if cmp < 0:
                lo = mid + 1
            else:
                hi = mid - 1
        return None

    @cached_property
    def _miniz_order(self) -> list[int]:
        return _miniz_sorted(self.entries)

    def last(self, name: str) -> ZipEntry | None:
        """The entry Python's zipfile returns for ``name`` (the last one wins)."""
        found = None
        for entry in self.entries:
            if entry.name == name:
                found = entry
        return found


@dataclass(frozen=True)
class Extracted:
    """A member's bytes, spooled; ``problem`` says why they may be incomplete."""

    stream: BinaryIO
    size: int
    crc_ok: bool | None
    problem: str | None = None
    problem_offset: int | None = None
    limit_hit: str | None = None


_LOWER = bytes(b + 32 if 65 <= b <= 90 else b for b in range(256))


def _miniz_key(name: bytes) -> bytes:
    """miniz compares names byte by byte after ASCII lower-casing, shorter prefix first: bytes order."""
    return name.translate(_LOWER)


def _miniz_compare(left: bytes, right: bytes) -> int:
    lk, rk = _miniz_key(left), _miniz_key(right)
    return (lk > rk) - (lk < rk)


def _miniz_sorted(entries: tuple[ZipEntry, ...]) -> list[int]:
    """miniz's in-place heap sort of entry indices by name (not stable: decides which duplicate wins)."""
    idx = list(range(len(entries)))
    size = len(idx)
    if size <= 1:
        return idx
    names = [_miniz_key(e.raw_name) for e in entries]
    if len(set(names)) == size:
        # Without equal keys every correct sort gives the same order; only duplicates need miniz's own heap sort.
        idx.sort(key=names.__getitem__)
        return idx

    def sift(root: int, end: int) -> None:
        while True:
            child = (root << 1) + 1
            if child >= end:
                break
            if child + 1 < end and names[idx[child]] < names[idx[child + 1]]:
                child += 1
            if not names[idx[root]] < names[idx[child]]:
                break
            idx[root], idx[child] = idx[child], idx[root]
            root = child

    start = (size - 2) >> 1
    while True:
        sift(start, size)
        if start == 0:
            break
        start -= 1
    end = size - 1
    while end > 0:
        idx[end], idx[0] = idx[0], idx[end]
        sift(0, end)
        end -= 1
    return idx


def _decode_name(raw: bytes, flags: int) -> str:
    if flags & FLAG_UTF8:
        return raw.decode("utf-8", "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp437")


def _read(artifact: Artifact, offset: int, n: int) -> bytes:
    """Bounded read: offsets from hostile headers may point anywhere, even past what seek accepts."""
    if offset < 0 or n <= 0 or offset >= artifact.size:
        return b""
    return artifact.read_at(offset, min(n, artifact.size - offset))


def _find_eocd(artifact: Artifact) -> tuple[int, bytes] | None:
    tail_len = min(artifact.size, _EOCD.size + _MAX_COMMENT)
    start = artifact.size - tail_len
    tail = _read(artifact, start, tail_len)
    pos = tail.rfind(_EOCD_MAGIC)
    while pos >= 0:
        if pos + _EOCD.size <= len(tail):
            return start + pos, tail[pos : pos + _EOCD.size]
        pos = tail.rfind(_EOCD_MAGIC, 0, pos)
    return None


def read_directory(
    artifact: Artifact, limits: Limits, *, local_headers: bool = True, max_entries: int | None = None
) -> ZipDirectory:
    """Parse the central directory (and local headers); every failure becomes ``error``, never an exception.

    At most ``max_entries`` entries are listed (default ``limits.max_archive_members``, never more than
    ``MAX_CENTRAL_ENTRIES``); past that ``truncated_listing`` is set.
    """
    cap = limits.max_archive_members if max_entries is None else max_entries
    cap = max(0, min(cap, MAX_CENTRAL_ENTRIES))
    try:
        directory = _central(artifact, cap)
        return with_local_headers(artifact, directory) if local_headers and directory.entries else directory
    except (struct.error, ValueError, OverflowError, OSError) as exc:
        return ZipDirectory(entries=(), error=f"malformed zip structure: {exc}", listing_cap=cap)


# Sniffers and the scanner of one file each ask for its central directory (keras-v3, then torch, then
# the torch scan): parse it once per stream. Weak keys: the cache ends with the file's stream.
_CENTRAL_CACHE: weakref.WeakKeyDictionary[object, tuple[int, ZipDirectory]] = weakref.WeakKeyDictionary()


def _central(artifact: Artifact, cap: int) -> ZipDirectory:
    try:
        cached = _CENTRAL_CACHE.get(artifact.stream)
    except TypeError:  # a stream type without weak references: no caching
        return _read_directory(artifact, cap)
    if cached is not None and cached[0] == artifact.size:
        known = cached[1]
        # A complete listing answers every cap it fits under; a cut one only the cap it was cut at.
        if not known.truncated_listing and len(known.entries) <= cap:
            return known if known.listing_cap == cap else replace(known, listing_cap=cap)
        if known.listing_cap == cap:
            return known
    directory = _read_directory(artifact, cap)
    _CENTRAL_CACHE[artifact.stream] = (artifact.size, directory)
    return directory


def _read_directory(artifact: Artifact, cap: int) -> ZipDirectory:
    found = _find_eocd(artifact)
    if found is None:
        return ZipDirectory(entries=(), error="no end-of-central-directory record (truncated zip?)")
    eocd_pos, raw = found
    _, disk, cd_disk, n_disk, n_total, cd_size, cd_offset, _comment_len = _EOCD.unpack(raw)
    quirks: list[ZipQuirk] = []
    total: int = n_total
    if disk != 0 or cd_disk != 0 or n_disk != n_total:
        quirks.append(ZipQuirk("multi-disk", "", "archive claims to span several disks", eocd_pos))
    locator_pos = eocd_pos - _ZIP64_LOCATOR.size
    if locator_pos >= 0 and _read(artifact, locator_pos, 4) == _ZIP64_LOCATOR_MAGIC:
        _, _, z64_offset, _ = _ZIP64_LOCATOR.unpack(_read(artifact, locator_pos, _ZIP64_LOCATOR.size))
        rec = _read(artifact, z64_offset, _ZIP64_EOCD.size)
        if len(rec) == _ZIP64_EOCD.size and rec[:4] == _ZIP64_EOCD_MAGIC:
            fields = _ZIP64_EOCD.unpack(rec)
            total, cd_size, cd_offset = fields[7], fields[8], fields[9]
        else:
            return ZipDirectory(entries=(), error="zip64 locator points to no zip64 record", error_offset=z64_offset)
    declared = total
    # Data before the archive (self-extractors, prepended junk): Python's zipfile shifts offsets by this.
    shift = 0
    if _read(artifact, cd_offset, 4) != _CENTRAL_MAGIC and total:
        candidate = eocd_pos - cd_size - cd_offset
        if candidate > 0 and _read(artifact, cd_offset + candidate, 4) == _CENTRAL_MAGIC:
            shift = candidate
            quirks.append(ZipQuirk("prefix", "", f"{shift} bytes precede the archive", 0))
        else:
            return ZipDirectory(
                entries=(),
                error="central directory not found where the end record says",
                error_offset=cd_offset,
                declared_entries=declared,
            )
    if cd_size > _MAX_CENTRAL_DIRECTORY:
        return ZipDirectory(
            entries=(), error=f"central directory of {cd_size} bytes is too large", error_offset=eocd_pos
        )
    cd = _read(artifact, cd_offset + shift, cd_size)
    entries: list[ZipEntry] = []
    pos = 0
    truncated_listing = False
    error: str | None = None
    error_offset: int | None = None
    while pos + _CENTRAL.size <= len(cd) and cd[pos : pos + 4] == _CENTRAL_MAGIC:
        if len(entries) >= cap:
            truncated_listing = True
            break
        entry, pos = _parse_central(cd, pos, len(entries), cd_offset + shift, shift)
        if entry is None:
            error, error_offset = "central directory entry runs past its end", cd_offset + shift + pos
            break
        entries.append(entry)
    if error is None and not truncated_listing and len(entries) != total:
        if (len(entries) < total and pos + 4 <= len(cd)) or len(cd) < cd_size:
            error, error_offset = (f"central directory lists {len(entries)} of {total} declared entries", cd_offset)
        else:
            quirks.append(ZipQuirk("count", "", f"end record declares {total} entries, directory has {len(entries)}"))
    directory = ZipDirectory(
        entries=tuple(entries),
        quirks=tuple(quirks),
        error=error,
        error_offset=error_offset,
        truncated_listing=truncated_listing,
        declared_entries=declared,
        listing_cap=cap,
    )
    del entries
    return directory


def with_local_headers(
    artifact: Artifact, directory: ZipDirectory, *, skip: Callable[[ZipEntry], bool] | None = None
) -> ZipDirectory:
    """``directory`` with each entry's local header read and the quirks they reveal added.

    ``skip`` leaves out entries nobody will read (PyTorch storages): a checkpoint with 100k tensors then costs
    one header read per pickle, not per tensor. Skipped entries keep ``data_offset`` None.
    """
    entries = list(directory.entries)
    # In place, so that a directory of a million entries is not held twice.
    for i, e in enumerate(entries):
        if skip is None or not skip(e):
            entries[i] = _with_local(artifact, e, 0)
    quirks = directory.quirks + tuple(_entry_quirks(entries))
    return replace(directory, entries=tuple(entries), quirks=quirks)


def _parse_central(cd: bytes, pos: int, index: int, base: int, shift: int) -> tuple[ZipEntry | None, int]:
    (_, made_by, _, flags, method, _, _, crc, csize, usize, nlen, xlen, clen, _, _, ext_attr, offset) = (
        _CENTRAL.unpack_from(cd, pos)
    )
    end = pos + _CENTRAL.size + nlen + xlen + clen
    if end > len(cd):
        return None, pos
    raw_name = cd[pos + _CENTRAL.size : pos + _CENTRAL.size + nlen]
    extra = cd[pos + _CENTRAL.size + nlen : pos + _CENTRAL.size + nlen + xlen]
    usize, csize, offset = _zip64_extra(extra, usize, csize, offset)
    entry = ZipEntry(
        index=index,
        name=_decode_name(raw_name, flags),
        raw_name=raw_name,
        flags=flags,
        method=method,
        crc=crc,
        compressed_size=csize,
        size=usize,
        header_offset=offset + shift,
        external_attr=ext_attr,
        create_system=made_by >> 8,
        central_offset=base + pos,
    )
    return entry, end


def _zip64_extra(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + length]
        if tag == 0x0001:
            values = [struct.unpack_from("<Q", body, i)[0] for i in range(0, len(body) - 7, 8)]
            it = iter(values)
            if usize == 0xFFFFFFFF:
                usize = next(it, usize)
            if csize == 0xFFFFFFFF:
                csize = next(it, csize)
            if offset == 0xFFFFFFFF:
                offset = next(it, offset)
            break
        pos += 4 + length
    return usize, csize, offset


def _with_local(artifact: Artifact, entry: ZipEntry, shift: int) -> ZipEntry:
    # One read for the header and, usually, its name (the same length as the central one).
    block = _read(artifact, entry.header_offset, _LOCAL.size + len(entry.raw_name))
    head = block[: _LOCAL.size]
    if len(head) < _LOCAL.size or head[:4] != LOCAL_MAGIC:
        return _replace(entry, local_problem="no local header at the offset the central directory gives")
    _, _, lflags, _, _, _, _, _, _, nlen, xlen = _LOCAL.unpack(head)
    if nlen == len(entry.raw_name) and len(block) == _LOCAL.size + nlen:
        raw_local = block[_LOCAL.size :]
    else:
        raw_local = _read(artifact, entry.header_offset + _LOCAL.size, nlen)
    data_offset = entry.header_offset + _LOCAL.size + nlen + xlen
    same_encoding = (lflags ^ entry.flags) & FLAG_UTF8 == 0
    problem = None
    if data_offset + entry.compressed_size > artifact.size:
        problem = f"member data runs past the end of the file ({data_offset + entry.compressed_size} > {artifact.size})"
    # The usual case shares the central name's string: one copy per entry, not two.
    local_name = entry.name if raw_local == entry.raw_name and same_encoding else _decode_name(raw_local, lflags)
    # Built directly, not with dataclasses.replace: this runs once per entry, up to MAX_CENTRAL_ENTRIES times.
    return ZipEntry(
        index=entry.index,
        name=entry.name,
        raw_name=entry.raw_name,
        flags=entry.flags,
        method=entry.method,
        crc=entry.crc,
        compressed_size=entry.compressed_size,
        size=entry.size,
        header_offset=entry.header_offset,
        external_attr=entry.external_attr,
        create_system=entry.create_system,
        central_offset=entry.central_offset,
        local_name=local_name,
        local_flags=lflags,
        data_offset=data_offset,
        local_problem=problem,
    )


def _replace(entry: ZipEntry, **changes: object) -> ZipEntry:
    return replace(entry, **changes)  # type: ignore[arg-type]


def _entry_quirks(entries: list[ZipEntry]) -> Iterator[ZipQuirk]:
    seen: dict[bytes, ZipEntry] = {}
    for e in entries:
        unusual = e.flags & ~_NORMAL_FLAGS
        if unusual:
            yield ZipQuirk(
                "flags", e.name, f"central header flag bits 0x{e.flags:04x} (unusual 0x{unusual:04x})", e.central_offset
            )
        if e.local_flags is not None:
            lunusual = e.local_flags & ~_NORMAL_FLAGS
            if lunusual and lunusual != unusual:
                yield ZipQuirk(
                    "flags",
                    e.name,
                    f"local header flag bits 0x{e.local_flags:04x} (unusual 0x{lunusual:04x})",
                    e.header_offset,
                )
        if e.local_name is not None and e.local_name != e.name:
            yield ZipQuirk("name-mismatch", e.name, f"local header names it {e.local_name!r}", e.header_offset)
        key = e.raw_name.lower()
        if key in seen:
            first = seen[key]
            yield ZipQuirk(
                "duplicate", e.name, f"entries #{first.index} and #{e.index} share the name", e.central_offset
            )
        else:
            seen[key] = e
    spans = sorted((e for e in entries if e.data_offset is not None and e.compressed_size), key=_data_start)
    for a, b in itertools.pairwise(spans):
        if _data_start(b) < _data_start(a) + a.compressed_size:
            yield ZipQuirk("overlap", b.name, f"data overlaps member {a.name!r}", b.data_offset)


def _data_start(entry: ZipEntry) -> int:
    return entry.data_offset or 0


def member_label(directory: ZipDirectory, entry: ZipEntry, chosen: ZipEntry | None) -> str:
    """The member's name for locations; a duplicate the loader does not pick gets ``#index`` appended.

    ``chosen`` is the copy the relevant loader reads (``locate`` for PyTorch); None means Python's zipfile
    (the last copy wins).
    """
    picked = chosen if chosen is not None and chosen.raw_name.lower() == entry.raw_name.lower() else None
    if picked is None:
        picked = directory.last(entry.name)
    if picked is None or picked.index == entry.index:
        return entry.name
    if sum(1 for e in directory.entries if e.raw_name.lower() == entry.raw_name.lower()) < 2:
        return entry.name
    return f"{entry.name}#{entry.index}"


def is_dangerous_path(name: str) -> bool:
    """True for names that extract outside the target folder: absolute, drive letters, '..' segments."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return True
    return any(part == ".." for part in norm.split("/"))


def quirk_findings(
    directory: ZipDirectory, location: Location, limits: Limits, *, bulk: Callable[[ZipEntry], bool] | None = None
) -> list[Finding]:
    """Findings for the archive's structure: quirks, damage, traversal and bomb signs.

    ``bulk`` marks members the loader never parses and the caller never reads (PyTorch tensor storages): they
    count neither against ``max_archive_members`` nor against the expanded-size budget.
    """
    out: list[Finding] = []
    if directory.error:
        out.append(
            general.PARSE_ERROR.finding(
                location.at(offset=directory.error_offset),
                f"zip structure unreadable: {directory.error}",
                subject="zip-structure",
                evidence=directory.error,
            )
        )
    if directory.truncated_listing:
        out.append(
            rules.ARCHIVE_BOMB.finding(
                location,
                f"more than {directory.listing_cap or limits.max_archive_members} members; the rest were not analysed",
                subject="member-count",
            )
        )
    for q in directory.quirks:
        out.append(_quirk_finding(q, location))
    total = 0
    analysed = 0
    for e in directory.entries:
        if bulk is None or not bulk(e):
            total += e.size
            analysed += 1
        if is_dangerous_path(e.name):
            out.append(
                rules.ARCHIVE_TRAVERSAL.finding(
                    location.at(offset=e.central_offset), f"member name {e.name!r} escapes the folder", subject=e.name
                )
            )
        if e.local_problem:
            out.append(
                general.PARSE_ERROR.finding(
                    location.at(offset=e.header_offset, detail=e.name),
                    f"member {e.name!r}: {e.local_problem}",
                    subject=f"zip-member:{e.name}",
                )
            )
    if bulk is not None and analysed > limits.max_archive_members:
        out.append(
            rules.ARCHIVE_BOMB.finding(
                location,
                f"{analysed} members besides tensor storages, more than {limits.max_archive_members}; "
                "the rest were not analysed",
                subject="member-count",
            )
        )
    if total > limits.max_archive_expanded_bytes:
        out.append(
            rules.ARCHIVE_BOMB.finding(
                location,
                f"members declare {total} expanded bytes (limit {limits.max_archive_expanded_bytes})",
                subject="expanded-size",
            )
        )
    return out


def _quirk_finding(q: ZipQuirk, location: Location) -> Finding:
    where = location.at(offset=q.offset, detail=q.member or None)
    if q.kind == "flags":
        return rules.ZIP_FLAG_BITS.finding(
            where, f"member {q.member!r}: {q.detail}", subject=q.member, evidence=q.detail
        )
    if q.kind == "name-mismatch":
        return rules.ZIP_NAME_MISMATCH.finding(
            where, f"member {q.member!r}: {q.detail}", subject=q.member, evidence=q.detail
        )
    if q.kind == "duplicate":
        return rules.ZIP_DUPLICATE_NAME.finding(
            where, f"duplicate member {q.member!r}: {q.detail}", subject=q.member, evidence=q.detail
        )
    if q.kind == "overlap":
        return rules.ARCHIVE_BOMB.finding(
            where, f"member {q.member!r}: {q.detail} (overlapping-member bomb)", subject="overlap", evidence=q.detail
        )
    if q.kind == "prefix":
        # Prepended data is common (self-extractors); worth a line, not a verdict.
        return rules.ZIP_ODD_MEMBER.finding(
            where, f"zip structure: {q.detail}", subject="zip-prefix", severity=Severity.INFO, effect=Effect.NONE
        )
    # Count or disk fields that disagree: readers then list different members.
    return general.PARSE_ERROR.finding(where, f"zip structure: {q.detail}", subject=f"zip-{q.kind}", evidence=q.detail)


def read_head(artifact: Artifact, entry: ZipEntry, n: int) -> bytes:
    """The first ``n`` bytes of a member's content (decompressing only what that needs)."""
    if entry.data_offset is None or entry.is_encrypted:
        return b""
    avail = max(0, min(entry.compressed_size, artifact.size - entry.data_offset))
    if entry.method == METHOD_STORED:
        return _read(artifact, entry.data_offset, min(n, avail, entry.size or avail))
    if entry.method == METHOD_DEFLATE:
        d = zlib.decompressobj(-15)
        try:
            return d.decompress(_read(artifact, entry.data_offset, min(avail, _CHUNK)), n)
        except zlib.error:
            return b""
    return b""


def extract(artifact: Artifact, entry: ZipEntry, limits: Limits, *, max_bytes: int | None = None) -> Extracted:
    """Copy a member's content into a spool, bounded; CRC checked as it streams. Never raises on bad data."""
    cap = limits.max_archive_expanded_bytes if max_bytes is None else max_bytes
    out = spool(limits.max_member_in_memory)
    if entry.data_offset is None:
        return Extracted(
            out, 0, None, problem=entry.local_problem or "no local header", problem_offset=entry.header_offset
        )
    avail = max(0, min(entry.compressed_size, artifact.size - entry.data_offset))
    truncated = avail < entry.compressed_size
    crc = 0
    written = 0
    limit_hit = None
    problem = f"member data truncated at offset {entry.data_offset + avail}" if truncated else None
    want = entry.size
    if want > cap:
        limit_hit = f"member declares {want} bytes (limit {cap})"
        want = cap
    if want > RATIO_MIN_BYTES and want > max(1, entry.compressed_size) * limits.max_compression_ratio:
        out.seek(0)
        ratio = (
            f"member declares {entry.size} bytes from {entry.compressed_size} (over {limits.max_compression_ratio}:1)"
        )
        return Extracted(out, 0, None, limit_hit=ratio)
    try:
        for chunk in _decoded_chunks(artifact, entry, avail, limits):
            room = want - written
            if len(chunk) > room:
                chunk = chunk[:room]
            if chunk:
                out.write(chunk)
                crc = zlib.crc32(chunk, crc)
                written += len(chunk)
            if written >= want:
                break
    except _RatioExceeded as exc:
        limit_hit = str(exc)
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        problem = f"member data does not decompress: {exc}"
    out.seek(0)
    crc_ok: bool | None = None
    if problem is None and limit_hit is None:
        crc_ok = crc == entry.crc and written == entry.size
        if written < entry.size:
            problem = f"member holds {written} bytes, {entry.size} declared"
    return Extracted(out, written, crc_ok, problem=problem, problem_offset=entry.data_offset, limit_hit=limit_hit)


class _RatioExceeded(Exception):
    pass


def _raw_chunks(artifact: Artifact, start: int, length: int) -> Iterator[bytes]:
    pos = 0
    while pos < length:
        data = _read(artifact, start + pos, min(_CHUNK, length - pos))
        if not data:
            return
        pos += len(data)
        yield data


def _decoded_chunks(artifact: Artifact, entry: ZipEntry, avail: int, limits: Limits) -> Iterator[bytes]:
    assert entry.data_offset is not None
    raw = _raw_chunks(artifact, entry.data_offset, avail)
    if entry.method == METHOD_STORED:
        yield from raw
        return
    decoder = _decoder(entry)
    consumed = 0
    produced = 0
    for data in raw:
        consumed += len(data)
        # Bounded pieces: one 64 KiB chunk of bzip2 can otherwise expand to gigabytes in a single call.
        for piece in decoder.pieces(data):
            produced += len(piece)
            if produced > RATIO_MIN_BYTES and produced > consumed * limits.max_compression_ratio:
                raise _RatioExceeded(
                    f"member expands more than {limits.max_compression_ratio}:1 ({produced} bytes from {consumed})"
                )
            yield piece
        if decoder.eof:
            return


class _Pieces:
    """Uniform bounded decoding over zlib, bz2 and lzma decompressors."""

    def __init__(self, inner: Any, zlib_style: bool) -> None:
        self._d = inner
        self._zlib = zlib_style

    @property
    def eof(self) -> bool:
        return bool(self._d.eof)

    def pieces(self, data: bytes) -> Iterator[bytes]:
        if self._zlib:
            piece = self._d.decompress(data, _PIECE)
            yield piece
            while self._d.unconsumed_tail and not self._d.eof:
                yield self._d.decompress(self._d.unconsumed_tail, _PIECE)
            return
        if self._d.eof:
            return
        yield self._d.decompress(data, _PIECE)
        while not self._d.eof and not self._d.needs_input:
            yield self._d.decompress(b"", _PIECE)


def _decoder(entry: ZipEntry) -> _Pieces:
    if entry.method == METHOD_DEFLATE:
        return _Pieces(zlib.decompressobj(-15), True)
    if entry.method == METHOD_BZIP2:
        return _Pieces(bz2.BZ2Decompressor(), False)
    if entry.method == METHOD_LZMA:
        return _Pieces(_ZipLzma(), False)
    raise ValueError(f"unsupported compression method {entry.method_name}")


class _ZipLzma:
    """Zip's LZMA framing: 4-byte version/size prefix, then raw LZMA1 properties and data."""

    def __init__(self) -> None:
        self._pending = b""
        self._decoder: lzma.LZMADecompressor | None = None

    @property
    def eof(self) -> bool:
        return self._decoder is not None and self._decoder.eof

    @property
    def needs_input(self) -> bool:
        return self._decoder is None or self._decoder.needs_input

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        if self._decoder is None:
            self._pending += data
            if len(self._pending) < 4:
                return b""
            (psize,) = struct.unpack_from("<H", self._pending, 2)
            if len(self._pending) < 4 + psize:
                return b""
            props = self._pending[4 : 4 + psize]
            filt = lzma._decode_filter_properties(lzma.FILTER_LZMA1, props)  # type: ignore[attr-defined]
            self._decoder = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[filt])
            data, self._pending = self._pending[4 + psize :], b""
        return self._decoder.decompress(data, max_length)


def supported_method(entry: ZipEntry) -> bool:
    return entry.method in (METHOD_STORED, METHOD_DEFLATE, METHOD_BZIP2, METHOD_LZMA)


class RangeStream(io.RawIOBase):
    """A read-only window onto part of another stream (a stored member), without copying it.

    Every read seeks the shared underlying stream first, so parent and child
    artifacts can interleave reads safely.
    """

    def __init__(self, base: BinaryIO, start: int, length: int) -> None:
        super().__init__()
        self._base = base
        self._start = start
        self._length = length
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            pos = offset
        elif whence == 1:
            pos = self._pos + offset
        else:
            pos = self._length + offset
        self._pos = max(0, pos)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._length - self._pos)
        if n <= 0:
            return 0
        self._base.seek(self._start + self._pos)
        data = self._base.read(n)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


def stored_view(artifact: Artifact, entry: ZipEntry) -> tuple[BinaryIO, int] | None:
    """A zero-copy stream over a stored, unencrypted member (None when it must be decoded)."""
    if entry.method != METHOD_STORED or entry.is_encrypted or entry.data_offset is None:
        return None
    length = max(0, min(entry.compressed_size, artifact.size - entry.data_offset))
    stream = io.BufferedReader(RangeStream(artifact.stream, entry.data_offset, length))
    return stream, length  # type: ignore[return-value]


def extracted_findings(ex: Extracted, entry: ZipEntry, loc: Location) -> list[Finding]:
    out: list[Finding] = []
    where = loc.at(offset=entry.data_offset, detail=entry.name)
    if ex.crc_ok is False:
        out.append(
            rules.ZIP_CRC_MISMATCH.finding(
                where,
                f"member {entry.name!r}: stored CRC {entry.crc:08x} does not match its content",
                subject=entry.name,
            )
        )
    if ex.problem:
        out.append(
            general.PARSE_ERROR.finding(
                loc.at(offset=ex.problem_offset, detail=entry.name),
                f"member {entry.name!r}: {ex.problem}",
                subject=f"zip-member:{entry.name}",
            )
        )
    if ex.limit_hit:
        out.append(rules.ARCHIVE_BOMB.finding(where, f"member {entry.name!r}: {ex.limit_hit}", subject=entry.name))
    return out


def analyse_member(artifact: Artifact, entry: ZipEntry, ctx: ScanContext, label: str) -> Analysis:
    """One member analysed through dispatch: stored members are read in place (a plain array costs its
    header only), compressed ones are decoded into a bounded spool; a decode that hit a limit is
    reported, and its truncated bytes are not analysed."""
    view = stored_view(artifact, entry)
    if view is not None:
        return ctx.dispatch(artifact.child(view[0], view[1], label))
    ex = extract(artifact, entry, ctx.limits)
    try:
        found = Analysis(findings=tuple(extracted_findings(ex, entry, artifact.location)))
        if ex.size and ex.limit_hit is None:
            return ctx.dispatch(artifact.child(ex.stream, ex.size, label)).merge(found)
        return found
    finally:
        ex.stream.close()


def unreadable_finding(entry: ZipEntry, loc: Location) -> Finding | None:
    where = loc.at(offset=entry.header_offset, detail=entry.name)
    if entry.is_encrypted:
        return rules.ZIP_ENCRYPTED.finding(where, f"member {entry.name!r} is encrypted", subject=entry.name)
    if not supported_method(entry):
        return rules.ZIP_UNSUPPORTED_METHOD.finding(
            where, f"member {entry.name!r} uses {entry.method_name}", subject=entry.name
        )
    return None


def salvage_local_entries(artifact: Artifact, limits: Limits) -> tuple[ZipEntry, ...]:
    """Members found by walking local headers from the start, for archives whose central directory is gone.

    No loader reads such an archive, but a truncated download of a malicious checkpoint is still worth
    showing for what it carries. Stops at the first header whose sizes are unknown or implausible.
    """
    entries: list[ZipEntry] = []
    pos = 0
    while len(entries) < limits.max_archive_members:
        head = _read(artifact, pos, _LOCAL.size)
        if len(head) < _LOCAL.size or head[:4] != LOCAL_MAGIC:
            break
        _, _, flags, method, _, _, crc, csize, usize, nlen, xlen = _LOCAL.unpack(head)
        raw_name = _read(artifact, pos + _LOCAL.size, nlen)
        extra = _read(artifact, pos + _LOCAL.size + nlen, xlen)
        usize, csize, _ = _zip64_extra(extra, usize, csize, 0)
        data_offset = pos + _LOCAL.size + nlen + xlen
        if (flags & FLAG_DATA_DESCRIPTOR and csize == 0) or data_offset > artifact.size:
            break
        name = _decode_name(raw_name, flags)
        entries.append(
            ZipEntry(
                index=len(entries),
                name=name,
                raw_name=raw_name,
                flags=flags,
                method=method,
                crc=crc,
                compressed_size=csize,
                size=usize,
                header_offset=pos,
                external_attr=0,
                create_system=0,
                central_offset=pos,
                local_name=name,
                local_flags=flags,
                data_offset=data_offset,
                local_problem=None if data_offset + csize <= artifact.size else "member data truncated",
            )
        )
        pos = data_offset + csize
    return tuple(entries)
