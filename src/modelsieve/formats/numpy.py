"""NumPy ``.npy`` arrays and ``.npz`` archives.

A plain array costs one header read: the data is never touched. An array whose
dtype holds Python objects is stored as a pickle right after the header, and
``np.load(allow_pickle=True)`` unpickles it, so that pickle is analysed.
``.npz`` is a zip of ``.npy`` members read by Python's zipfile (last duplicate
wins); every member is analysed by content.
"""

from __future__ import annotations

import ast
import struct
from dataclasses import dataclass

from modelsieve.formats import ziplenient as zl
from modelsieve.formats.base import ScanContext
from modelsieve.model import Analysis, Effect, Finding, Severity
from modelsieve.rules import containers_rules as rules
from modelsieve.rules import general
from modelsieve.source import Artifact

NPY_MAGIC = b"\x93NUMPY"
# numpy's own reader refuses headers longer than this unless told otherwise.
_MAX_HEADER = 10_000
_SIMPLE_DESCR = {"b": 1, "i": None, "u": None, "f": None, "c": None, "?": 1, "S": None, "U": None, "V": None}


@dataclass(frozen=True)
class NpyHeader:
    """The parsed ``.npy`` header."""

    major: int
    descr: object
    fortran_order: bool
    shape: tuple[int, ...]
    data_offset: int


class NpyError(ValueError):
    """The header is malformed; ``offset`` says where."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def parse_header(artifact: Artifact) -> NpyHeader:
    head = artifact.read_at(0, 12)
    if len(head) < 10 or not head.startswith(NPY_MAGIC):
        raise NpyError("not an .npy header", 0)
    major = head[6]
    if major == 1:
        (hlen,) = struct.unpack_from("<H", head, 8)
        start = 10
    elif major in (2, 3):
        if len(head) < 12:
            raise NpyError("truncated header length", 8)
        (hlen,) = struct.unpack_from("<I", head, 8)
        start = 12
    else:
        raise NpyError(f"unknown .npy format version {major}.{head[7]}", 6)
    if hlen > _MAX_HEADER:
        raise NpyError(f"header of {hlen} bytes exceeds numpy's limit of {_MAX_HEADER}", 8)
    raw = artifact.read_at(start, hlen)
    if len(raw) < hlen:
        raise NpyError("header truncated", start + len(raw))
    try:
        text = raw.decode("latin1" if major < 3 else "utf-8")
        # literal_eval builds only literals; this is numpy's own safe_eval.
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError) as exc:
        raise NpyError(f"header is not a Python literal: {exc}", start) from exc
    if not isinstance(value, dict) or not {"descr", "fortran_order", "shape"} <= set(value):
        raise NpyError("header lacks descr/fortran_order/shape", start)
    shape = value["shape"]
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise NpyError(f"invalid shape {shape!r}", start)
    return NpyHeader(major, value["descr"], bool(value["fortran_order"]), shape, start + hlen)


def has_objects(descr: object) -> bool:
    """True when the dtype (simple or structured, nested) stores Python objects."""
    if isinstance(descr, str):
        return descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, list):
        return any(isinstance(f, tuple) and len(f) >= 2 and has_objects(f[1]) for f in descr)
    if isinstance(descr, tuple):
        return any(has_objects(d) for d in descr)
    return False


def _itemsize(descr: object) -> int | None:
    if not isinstance(descr, str):
        return None
    body = descr.lstrip("<>|=")
    if not body or body[0] not in _SIMPLE_DESCR:
        return None
    digits = body[1:]
    if not digits.isdigit():
        return _SIMPLE_DESCR[body[0]]
    size = int(digits)
    return size * 4 if body[0] == "U" else size


class NpyScanner:
    """Single ``.npy`` arrays."""

    name = "numpy"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return head.startswith(NPY_MAGIC)

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        loc = artifact.location
        try:
            header = parse_header(artifact)
        except NpyError as exc:
            return Analysis(
                formats=(self.name,),
                findings=(
                    general.PARSE_ERROR.finding(loc.at(offset=exc.offset), f".npy: {exc}", subject="npy-header"),
                ),
            )
        if not has_objects(header.descr):
            return Analysis(formats=(self.name,), findings=tuple(_size_check(header, artifact)))
        from modelsieve import pickle as engine

        inner = engine.analyse_pickle(artifact, ctx, start=header.data_offset, multiple=False)
        return Analysis(formats=(self.name,)).merge(
            inner, Analysis(findings=(_object_finding(header, artifact, inner),))
        )


def _object_finding(header: NpyHeader, artifact: Artifact, inner: Analysis) -> Finding:
    active = [f for f in inner.findings if f.severity >= Severity.LOW and f.suppressed is None]
    where = artifact.location.at(offset=header.data_offset)
    text = f"object array {header.shape} of dtype {header.descr!r}: np.load(allow_pickle=True) unpickles it"
    if not active:
        return rules.NUMPY_OBJECT_ARRAY.finding(where, text + " (plain data)", subject="object-array")
    return rules.NUMPY_OBJECT_ARRAY.finding(
        where,
        text + "; the pickle does more than hold data: " + ", ".join(sorted({f.rule_id for f in active})),
        subject="object-array",
        severity=Severity.MEDIUM,
        effect=Effect.SUSPICIOUS,
    )


def _size_check(header: NpyHeader, artifact: Artifact) -> list[Finding]:
    item = _itemsize(header.descr)
    if item is None:
        return []
    count = 1
    for d in header.shape:
        count *= d
    need = header.data_offset + count * item
    if need > artifact.size:
        return [
            general.PARSE_ERROR.finding(
                artifact.location.at(offset=artifact.size),
                f".npy data truncated: shape {header.shape} needs {need} bytes, file has {artifact.size}",
                subject="npy-truncated",
            )
        ]
    return []


class NpzScanner:
    """``np.savez`` archives: a zip whose members are ``.npy`` files."""

    name = "npz"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        if not head.startswith(zl.LOCAL_MAGIC) or len(head) < 30:
            return False
        (nlen,) = struct.unpack_from("<H", head, 26)
        first = head[30 : 30 + nlen]
        return first.endswith(b".npy")

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        loc = artifact.location
        directory = zl.read_directory(artifact, ctx.limits)
        findings = zl.quirk_findings(directory, loc, ctx.limits)
        result = Analysis(formats=(self.name,))
        for entry in directory.entries:
            ctx.check_time()
            if entry.is_dir or entry.size == 0:
                continue
            blocked = zl.unreadable_finding(entry, loc)
            if blocked is not None:
                findings.append(blocked)
                continue
            result = result.merge(zl.analyse_member(artifact, entry, ctx, zl.member_label(directory, entry, None)))
        return result.merge(Analysis(findings=tuple(findings)))


NPY = NpyScanner()
NPZ = NpzScanner()
