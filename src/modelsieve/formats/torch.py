"""PyTorch checkpoints: zip archives (torch.save, TorchScript) and the legacy stacked-pickle format.

The zip path mirrors ``torch.load``: the archive must start with a local header,
the top folder is the first central entry's folder, and ``data.pkl`` is found the
way miniz finds it (case-insensitive, first hit of a binary search). Only the
central directory, the pickles, metadata and TorchScript code are read; tensor
storages under ``data/`` are never touched, whatever their size.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, replace
from typing import BinaryIO

from modelsieve.formats import ziplenient as zl
from modelsieve.formats.base import ScanContext
from modelsieve.limits import Limits
from modelsieve.model import Analysis, Confidence, Effect, Finding, Location, Severity
from modelsieve.rules import containers_rules as rules
from modelsieve.rules import general
from modelsieve.source import Artifact

_PICKLE_PEEK = 16
# sniff() gets no context; the default member cap bounds the directory it reads.
_SNIFF_LIMITS = Limits()
_CODE_CAP = 4 * 1024**2
# The legacy format's first pickle: protocol 2, LONG1 of the magic number 0x1950a86a20f9469cfc6c, STOP.
_LEGACY_MAGIC = b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_LEGACY_PICKLES = 5
_LEGACY_MAX_ARG = 64 * 1024**2
# Member names torch.save / torch.jit.save write next to data.pkl (relative to the top folder).
_METADATA = frozenset(
    {"version", ".data/version", "byteorder", ".format_version", ".storage_alignment", ".data/serialization_id"}
)
_STANDARD_OP_NAMESPACES = frozenset(
    {"aten", "prim", "quantized", "_quantized", "profiler", "cuda", "quantized_decomposed", "_caffe2"}
)
_OP_RE = re.compile(r"(?<![\w.])(?:torch\.)?ops\.([A-Za-z_]\w*)\.([A-Za-z_]\w*)")
# ATen operators that touch files or processes from TorchScript.
_IO_RE = re.compile(r"(?<![\w])torch\.(from_file|save|load|_load_for_lite_interpreter)\s*\(")
# Globals TorchScript's unpickler resolves without importing Python code.
_JIT_GLOBALS = ("__torch__.", "torch.jit._pickle.")
_DEF_RE = re.compile(r"^\s*def\s+(\w+)\s*\(", re.MULTILINE)


def _engine():  # type: ignore[no-untyped-def]
    from modelsieve import pickle as engine

    return engine


@dataclass(frozen=True)
class _Layout:
    """What torch.load would do with this archive."""

    root: str
    main: zl.ZipEntry | None
    torchscript: bool


def _root(directory: zl.ZipDirectory) -> str:
    first = directory.entries[0].name if directory.entries else ""
    return first.split("/", 1)[0] if "/" in first else ""


def _layout(directory: zl.ZipDirectory) -> _Layout:
    root = _root(directory)
    main = directory.locate(f"{root}/data.pkl") if root else None
    prefix = f"{root}/"
    torchscript = any(e.name == prefix + "constants.pkl" for e in directory.entries)
    return _Layout(root=root, main=main, torchscript=torchscript)


def _relative(name: str, root: str) -> str | None:
    prefix = f"{root}/"
    return name[len(prefix) :] if name.startswith(prefix) else None


def _is_tensor_member(rel: str | None) -> bool:
    return rel is not None and rel.startswith("data/")


class TorchZipScanner:
    """torch.save / torch.jit.save zip archives (any file name: .pt, .pth, .bin, .ckpt, none)."""

    name = "pytorch"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        if not head.startswith(zl.LOCAL_MAGIC):
            return False
        directory = zl.read_directory(artifact, _SNIFF_LIMITS, local_headers=False)
        if directory.truncated_listing:
            # Checkpoints with more tensors than the member limit: miniz searches the whole directory.
            directory = zl.read_directory(
                artifact, _SNIFF_LIMITS, local_headers=False, max_entries=zl.MAX_CENTRAL_ENTRIES
            )
        if not directory.entries:
            return False
        layout = _layout(directory)
        return layout.main is not None or layout.torchscript

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        # Checkpoints of large models hold one storage record per tensor (100k+ in one file). Those records are
        # never parsed, by torch.load or here, so they do not count against the member limit; the central
        # directory itself is still bounded by ziplenient.MAX_CENTRAL_ENTRIES.
        directory = zl.read_directory(artifact, ctx.limits, local_headers=False, max_entries=zl.MAX_CENTRAL_ENTRIES)
        root = _root(directory)

        def bulk(entry: zl.ZipEntry) -> bool:
            return _is_tensor_member(_relative(entry.name, root))

        directory = zl.with_local_headers(artifact, directory, skip=bulk)
        loc = artifact.location
        layout = _layout(directory)
        findings = zl.quirk_findings(directory, loc, ctx.limits, bulk=bulk)
        fmt = "torchscript" if layout.torchscript else self.name
        findings.extend(_layout_findings(directory, layout, artifact))
        result = Analysis(formats=(fmt,))
        done: set[int] = set()
        # Past the member limit (reported by quirk_findings) the remaining non-storage members are skipped.
        members = [e for e in directory.entries if not e.is_dir and not bulk(e)][: ctx.limits.max_archive_members]
        pickles: list[zl.ZipEntry] = []
        if layout.main is not None:
            pickles.append(layout.main)
        for entry in members:
            if entry is layout.main:
                continue
            if entry.name.endswith((".pkl", ".debug_pkl")):
                pickles.append(entry)
        for entry in pickles:
            ctx.check_time()
            done.add(entry.index)
            label = zl.member_label(directory, entry, layout.main)
            analysis = _analyse_member_pickle(artifact, entry, label, ctx, findings, torchscript=layout.torchscript)
            result = result.merge(analysis if _loaded(entry, layout) else _not_loaded(analysis, label))
        if layout.torchscript:
            findings.extend(_torchscript_findings(artifact, directory, layout, ctx))
        for entry in members:
            rel = _relative(entry.name, layout.root)
            if entry.index in done or rel in _METADATA:
                continue
            if rel is not None and rel.startswith("code/") and entry.name.endswith(".py"):
                continue
            ctx.check_time()
            label = zl.member_label(directory, entry, None)
            result = result.merge(_not_loaded(_other_member(artifact, directory, entry, ctx, findings), label))
        return result.merge(Analysis(findings=tuple(findings)))


def _loaded(entry: zl.ZipEntry, layout: _Layout) -> bool:
    """Whether loading the archive unpickles this member (torch.load: data.pkl; torch.jit.load: also constants)."""
    if entry is layout.main:
        return True
    if not layout.torchscript:
        return False
    rel = _relative(entry.name, layout.root) or ""
    return rel == "constants.pkl" or (rel.startswith("code/") and rel.endswith(".debug_pkl"))


def _not_loaded(analysis: Analysis, member: str) -> Analysis:
    """Findings from a member torch.load never reads: kept with their effect, so the verdict stays conservative
    (another loader, a script or a later unzip may read it), but worded as such and at most MEDIUM confidence."""
    note = f" (member {member!r} is not read by torch.load)"
    lowered = tuple(
        replace(
            f,
            message=f.message + note,
            confidence=Confidence.MEDIUM if f.confidence is Confidence.HIGH else f.confidence,
        )
        for f in analysis.findings
    )
    return Analysis(analysis.formats, lowered, analysis.imports, analysis.calls)


def _layout_findings(directory: zl.ZipDirectory, layout: _Layout, artifact: Artifact) -> list[Finding]:
    loc = artifact.location
    out: list[Finding] = []
    outside = [e.name for e in directory.entries if _relative(e.name, layout.root) is None]
    if outside:
        out.append(
            rules.TORCH_LAYOUT.finding(
                loc,
                f"{len(outside)} member(s) outside the top folder {layout.root!r} that torch reads: "
                + ", ".join(repr(n) for n in outside[:5]),
                subject="members-outside-root",
                evidence=", ".join(outside[:20]),
            )
        )
    data_pkls = [e for e in directory.entries if e.name.lower().endswith("data.pkl")]
    if len(data_pkls) > 1:
        read = layout.main.name if layout.main else "none"
        out.append(
            rules.TORCH_LAYOUT.finding(
                loc,
                f"{len(data_pkls)} data.pkl members; torch.load reads {read!r} (entry "
                f"#{layout.main.index if layout.main else '-'})",
                subject="several-data-pkl",
                evidence=", ".join(f"#{e.index} {e.name}" for e in data_pkls[:20]),
            )
        )
    if layout.main is not None and layout.main.name != f"{layout.root}/data.pkl":
        out.append(
            rules.TORCH_LAYOUT.finding(
                loc,
                f"torch.load reads {layout.main.name!r}: miniz matches member names ignoring case, "
                "scanners looking for 'data.pkl' do not",
                subject="case-variant-data-pkl",
            )
        )
    if layout.root and layout.root not in ("archive", _stem(artifact.name)) and not outside:
        out.append(
            rules.TORCH_LAYOUT.finding(
                loc,
                f"top folder is {layout.root!r}, not 'archive' or the file's stem (renamed or hand-built archive)",
                subject="renamed-root",
                severity=Severity.INFO,
                effect=Effect.NONE,
            )
        )
    if layout.main is None and not layout.torchscript:
        out.append(
            general.PARSE_ERROR.finding(
                loc, "no data.pkl under the top folder: torch.load fails", subject="no-data-pkl"
            )
        )
    return out


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else name


def _analyse_member_pickle(
    artifact: Artifact,
    entry: zl.ZipEntry,
    label: str,
    ctx: ScanContext,
    findings: list[Finding],
    *,
    torchscript: bool,
) -> Analysis:
    blocked = zl.unreadable_finding(entry, artifact.location)
    if blocked is not None:
        # miniz refuses encrypted members, but the bytes may be a plaintext pickle with the bit merely set.
        plain = _as_plain(entry)
        if not (entry.is_encrypted and _engine().looks_like_pickle(zl.read_head(artifact, plain, _PICKLE_PEEK))):
            findings.append(blocked)
            return Analysis()
        entry = plain
    ex = zl.extract(artifact, entry, ctx.limits, max_bytes=ctx.limits.max_pickle_bytes)
    try:
        findings.extend(zl.extracted_findings(ex, entry, artifact.location))
        if ex.size == 0:
            if entry.size == 0:
                findings.append(
                    general.PARSE_ERROR.finding(
                        artifact.location.at(detail=entry.name),
                        f"pickle member {entry.name!r} is empty: loading fails",
                        subject=f"empty:{entry.name}",
                    )
                )
            return Analysis()
        child = artifact.child(ex.stream, ex.size, label)
        analysis = _engine().analyse_pickle(child, ctx, multiple=True, persistent_load="torch")
        return _without_jit_globals(analysis) if torchscript else analysis
    finally:
        ex.stream.close()


def _jit_resolved(subject: str) -> bool:
    return subject == "__torch__" or subject.startswith(_JIT_GLOBALS)


def _without_jit_globals(analysis: Analysis) -> Analysis:
    """Drop findings about globals that TorchScript's C++ unpickler resolves itself.

    torch.jit.load reads these pickles with its own restricted unpickler: ``__torch__.*`` are classes
    compiled from the archive's code/ (reported by TOR001/TOR003) and ``torch.jit._pickle.build_*``
    rebuild lists. No Python import or call happens for them.
    """
    kept = tuple(f for f in analysis.findings if not _jit_resolved(f.subject))
    return Analysis(analysis.formats, kept, analysis.imports, analysis.calls)


def _as_plain(entry: zl.ZipEntry) -> zl.ZipEntry:
    from dataclasses import replace

    return replace(entry, flags=entry.flags & ~(zl.FLAG_ENCRYPTED | zl.FLAG_STRONG_ENCRYPTION))


def _other_member(
    artifact: Artifact, directory: zl.ZipDirectory, entry: zl.ZipEntry, ctx: ScanContext, findings: list[Finding]
) -> Analysis:
    """A member outside the standard layout: analysed by content, hidden pickles called out."""
    blocked = zl.unreadable_finding(entry, artifact.location)
    if blocked is not None:
        findings.append(blocked)
        return Analysis()
    if entry.size == 0:
        return Analysis()
    head = zl.read_head(artifact, entry, _PICKLE_PEEK)
    odd_chars = any(ord(c) < 32 or c == "\\" for c in entry.name)
    if odd_chars or _engine().looks_like_pickle(head):
        what = "holds a pickle under a non-pickle name" if not odd_chars else "has control characters or backslashes"
        findings.append(
            rules.ZIP_ODD_MEMBER.finding(
                artifact.location.at(offset=entry.header_offset, detail=entry.name),
                f"member {entry.name!r} {what}",
                subject=entry.name,
            )
        )
    ex = zl.extract(artifact, entry, ctx.limits, max_bytes=ctx.limits.max_pickle_bytes)
    try:
        findings.extend(zl.extracted_findings(ex, entry, artifact.location))
        if ex.size == 0:
            return Analysis()
        return ctx.dispatch(artifact.child(ex.stream, ex.size, zl.member_label(directory, entry, None)))
    finally:
        ex.stream.close()


def _torchscript_findings(
    artifact: Artifact, directory: zl.ZipDirectory, layout: _Layout, ctx: ScanContext
) -> list[Finding]:
    loc = artifact.location
    code = [
        e
        for e in directory.entries
        if (_relative(e.name, layout.root) or "").startswith("code/") and e.name.endswith(".py") and not e.is_dir
    ]
    out: list[Finding] = [
        rules.TORCHSCRIPT_CODE.finding(
            loc,
            f"TorchScript archive with {len(code)} code file(s): " + ", ".join(e.name for e in code[:8]),
            subject="torchscript-code",
            evidence="\n".join(e.name for e in code[:50]),
        )
    ]
    for entry in code:
        if zl.unreadable_finding(entry, loc) is not None:
            continue
        ex = zl.extract(artifact, entry, ctx.limits, max_bytes=_CODE_CAP)
        try:
            text = ex.stream.read().decode("utf-8", "replace")
        finally:
            ex.stream.close()
        out.extend(_code_calls(text, entry, loc))
    return out


def _code_calls(text: str, entry: zl.ZipEntry, loc: Location) -> list[Finding]:
    out: list[Finding] = []
    seen: set[str] = set()
    defs = [(m.start(), m.group(1)) for m in _DEF_RE.finditer(text)]

    def method_at(pos: int) -> str:
        name = "<module>"
        for start, fn in defs:
            if start > pos:
                break
            name = fn
        return name

    hits: list[tuple[int, str]] = []
    for m in _OP_RE.finditer(text):
        if m.group(1) not in _STANDARD_OP_NAMESPACES:
            hits.append((m.start(), f"ops.{m.group(1)}.{m.group(2)}"))
    for m in _IO_RE.finditer(text):
        hits.append((m.start(), f"torch.{m.group(1)}"))
    for pos, call in hits:
        method = method_at(pos)
        key = f"{call}@{method}"
        if key in seen:
            continue
        seen.add(key)
        line = text.count("\n", 0, pos) + 1
        snippet = text[text.rfind("\n", 0, pos) + 1 : text.find("\n", pos) if "\n" in text[pos:] else len(text)]
        on_load = method == "__setstate__"
        when = "while loading (__setstate__)" if on_load else f"in {method}()"
        out.append(
            rules.TORCHSCRIPT_OPS.finding(
                loc.child(entry.name).at(detail=f"line {line}, {method}"),
                f"TorchScript code calls {call} {when}",
                subject=call,
                evidence=snippet.strip()[:300],
                severity=Severity.HIGH if on_load else None,
                effect=Effect.MALICIOUS if on_load and call.startswith("torch.") else None,
            )
        )
    return out


class LegacyTorchScanner:
    """``torch.save(..., _use_new_zipfile_serialization=False)``: five pickles, then raw storages."""

    name = "pytorch-legacy"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return _engine().looks_like_pickle(head) and _LEGACY_MAGIC in head[:64]

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        end = _legacy_end(artifact.stream, artifact.size)
        analysis = _engine().analyse_pickle(artifact, ctx, start=0, end=end, multiple=True, persistent_load="torch")
        return Analysis(formats=(self.name,)).merge(analysis)


class _BoundedReader(io.RawIOBase):
    """Refuses huge single reads so that walking opcodes never pulls a hostile length into memory."""

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self._s = stream
        self._size = size

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0 or n > _LEGACY_MAX_ARG:
            raise ValueError("argument too large")
        return self._s.read(n)

    def readline(self, size: int | None = -1) -> bytes:
        return self._s.readline(_LEGACY_MAX_ARG)

    def tell(self) -> int:
        return self._s.tell()


def _legacy_end(stream: BinaryIO, size: int) -> int | None:
    """Offset just after the fifth pickle (where storage bytes start), or None when it cannot be walked."""
    import pickletools  # only legacy (non-zip) checkpoints need it

    try:
        stream.seek(0)
        reader = _BoundedReader(stream, size)
        for _ in range(_LEGACY_PICKLES):
            for op, _arg, _pos in pickletools.genops(reader):  # type: ignore[arg-type]
                if op.name == "STOP":
                    break
            else:
                return None
        return reader.tell()
    except Exception:
        return None


TORCH_ZIP = TorchZipScanner()
TORCH_LEGACY = LegacyTorchScanner()
