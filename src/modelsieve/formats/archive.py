"""Generic archives: zip, tar and 7z. Every member goes back through dispatch and is judged by content.

Extraction hazards are findings of their own: names that escape the target
folder, links that point outside it, and bombs (member count, expanded size,
compression ratio, overlapping zip members). Stored zip members and tar members
are read in place; only compressed members are decoded, into bounded spools.
Compressed tars (.tar.gz, .tar.xz, ...) arrive here after the compressed-stream
scanner has decoded the outer layer.
"""

from __future__ import annotations

import io
import posixpath
from typing import TYPE_CHECKING, Any, BinaryIO

from modelsieve.formats import ziplenient as zl
from modelsieve.formats.base import ScanContext
from modelsieve.model import Analysis, Finding, Location
from modelsieve.rules import containers_rules as rules
from modelsieve.rules import general
from modelsieve.source import Artifact, spool

if TYPE_CHECKING:
    import tarfile

SEVEN_Z_MAGIC = b"7z\xbc\xaf\x27\x1c"


def _escapes(name: str) -> bool:
    return zl.is_dangerous_path(name)


def _bomb(loc: Location, message: str, subject: str) -> Finding:
    return rules.ARCHIVE_BOMB.finding(loc, message, subject=subject)


class ZipArchiveScanner:
    """Any zip that no model-specific scanner claimed."""

    name = "zip"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return head.startswith((zl.LOCAL_MAGIC, b"PK\x05\x06"))

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        loc = artifact.location
        directory = zl.read_directory(artifact, ctx.limits)
        findings = zl.quirk_findings(directory, loc, ctx.limits)
        result = Analysis(formats=(self.name,))
        if directory.error and not directory.entries:
            salvaged = zl.salvage_local_entries(artifact, ctx.limits)
            directory = zl.ZipDirectory(entries=salvaged, error=directory.error)
        if any(f.rule_id == rules.ARCHIVE_BOMB.id and f.subject == "overlap" for f in findings):
            # Overlapping members exist only to multiply expansion; decoding them is the attack.
            return result.merge(Analysis(findings=tuple(findings)))
        expanded = 0
        for entry in directory.entries:
            ctx.check_time()
            if entry.is_dir:
                continue
            where = loc.at(offset=entry.header_offset, detail=entry.name)
            if entry.is_symlink:
                findings.extend(_zip_link(artifact, entry, where))
                continue
            blocked = zl.unreadable_finding(entry, loc)
            if blocked is not None:
                findings.append(blocked)
                continue
            expanded += entry.size
            if expanded > ctx.limits.max_archive_expanded_bytes:
                findings.append(
                    _bomb(loc, f"members expand past {ctx.limits.max_archive_expanded_bytes} bytes", "expanded-size")
                )
                break
            if entry.size == 0 and entry.compressed_size == 0:
                continue
            result = result.merge(zl.analyse_member(artifact, entry, ctx, zl.member_label(directory, entry, None)))
        return result.merge(Analysis(findings=tuple(findings)))


def _zip_link(artifact: Artifact, entry: zl.ZipEntry, where: Location) -> list[Finding]:
    target = zl.read_head(artifact, entry, 4096).decode("utf-8", "replace")
    return _link_findings(entry.name, target, symbolic=True, where=where)


def _link_findings(name: str, target: str, *, symbolic: bool, where: Location) -> list[Finding]:
    base = posixpath.dirname(name) if symbolic else ""
    resolved = posixpath.normpath(posixpath.join(base, target.replace("\\", "/")))
    if target.startswith(("/", "\\")) or (len(target) > 1 and target[1] == ":") or resolved.split("/")[0] == "..":
        kind = "symbolic" if symbolic else "hard"
        return [
            rules.ARCHIVE_LINK_ESCAPE.finding(
                where, f"{kind} link {name!r} points outside the folder: {target!r}", subject=name, evidence=target
            )
        ]
    return []


def _is_tar(head: bytes) -> bool:
    if len(head) < 512:
        return False
    if head[257:262] == b"ustar":
        return True
    # Old (v7) tars have no magic: the header checksum is the only signature.
    try:
        stored = int(head[148:156].replace(b"\x00", b" ").strip() or b"-1", 8)
    except ValueError:
        return False
    block = head[:148] + b" " * 8 + head[156:512]
    return stored == sum(block) and any(head[:100])


class TarScanner:
    """Plain tar (compressed tars are decoded first by the compressed-stream scanner)."""

    name = "tar"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return _is_tar(head)

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        loc = artifact.location
        findings: list[Finding] = []
        # tarfile pulls in shutil, bz2 and lzma: paid only when a tar is actually read.
        import tarfile

        members: list[tarfile.TarInfo] = []
        try:
            artifact.stream.seek(0)
            with tarfile.open(fileobj=artifact.stream, mode="r:") as tf:
                while True:
                    ctx.check_time()
                    try:
                        info = tf.next()
                    except (tarfile.TarError, EOFError, OSError, ValueError, UnicodeError) as exc:
                        findings.append(
                            general.PARSE_ERROR.finding(
                                loc.at(offset=tf.offset), f"tar header unreadable: {exc}", subject="tar-structure"
                            )
                        )
                        break
                    if info is None:
                        break
                    if len(members) >= ctx.limits.max_archive_members:
                        findings.append(
                            _bomb(loc, f"more than {ctx.limits.max_archive_members} members", "member-count")
                        )
                        break
                    members.append(info)
        except (tarfile.TarError, EOFError, OSError, ValueError, UnicodeError) as exc:
            findings.append(general.PARSE_ERROR.finding(loc, f"tar unreadable: {exc}", subject="tar-structure"))
        result = Analysis(formats=(self.name,))
        expanded = 0
        for info in members:
            ctx.check_time()
            where = loc.at(offset=info.offset, detail=info.name)
            if _escapes(info.name):
                findings.append(
                    rules.ARCHIVE_TRAVERSAL.finding(
                        where, f"member name {info.name!r} escapes the folder", subject=info.name
                    )
                )
            if info.issym() or info.islnk():
                findings.extend(_link_findings(info.name, info.linkname, symbolic=info.issym(), where=where))
                continue
            if not info.isreg() or info.size == 0:
                continue
            expanded += info.size
            if expanded > ctx.limits.max_archive_expanded_bytes:
                findings.append(
                    _bomb(loc, f"members expand past {ctx.limits.max_archive_expanded_bytes} bytes", "expanded-size")
                )
                break
            end = info.offset_data + info.size
            if end > artifact.size:
                findings.append(
                    general.PARSE_ERROR.finding(
                        where, f"member {info.name!r} runs past the end of the file", subject=f"tar-member:{info.name}"
                    )
                )
            length = max(0, min(info.size, artifact.size - info.offset_data))
            if info.sparse is not None or length == 0:
                continue
            view = io.BufferedReader(zl.RangeStream(artifact.stream, info.offset_data, length))
            result = result.merge(ctx.dispatch(artifact.child(view, length, info.name)))  # type: ignore[arg-type]
        return result.merge(Analysis(findings=tuple(findings)))


class _CappedWriter:
    """py7zr writer into a spool that keeps at most ``cap`` bytes and remembers if it overflowed."""

    def __init__(self, limit_in_memory: int, cap: int) -> None:
        self.stream: BinaryIO = spool(limit_in_memory)
        self.cap = cap
        self.written = 0
        self.overflow = False

    def write(self, s: bytes | bytearray) -> int:
        room = self.cap - self.written
        if len(s) > room:
            self.overflow = True
            s = s[: max(0, room)]
        self.stream.write(s)
        self.written += len(s)
        return len(s)

    def read(self, size: int | None = None) -> bytes:
        return self.stream.read(-1 if size is None else size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.stream.seek(offset, whence)

    def flush(self) -> None:
        self.stream.flush()

    def size(self) -> int:
        return self.written

    def close(self) -> None:
        # py7zr closes each member when done; the spool must live until dispatch.
        return None


def _writer_factory(limit_in_memory: int, cap: int, sink: dict[str, _CappedWriter]) -> Any:
    import py7zr.io

    class _Factory(py7zr.io.WriterFactory):
        def create(self, filename: str) -> py7zr.io.Py7zIO:
            writer = _CappedWriter(limit_in_memory, cap)
            sink[filename] = writer
            return writer  # type: ignore[return-value]

    return _Factory()


class SevenZipScanner:
    """7z archives (py7zr), e.g. the 7z-packed PyTorch checkpoints of the nullifAI campaign."""

    name = "7z"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return head.startswith(SEVEN_Z_MAGIC)

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        loc = artifact.location
        findings: list[Finding] = []
        result = Analysis(formats=(self.name,))
        sink: dict[str, _CappedWriter] = {}
        try:
            import py7zr

            artifact.stream.seek(0)
            with py7zr.SevenZipFile(artifact.stream, mode="r") as z:  # type: ignore[arg-type]
                if z.needs_password():
                    findings.append(
                        rules.ZIP_ENCRYPTED.finding(loc, "7z archive is encrypted; not analysed", subject="7z")
                    )
                    return result.merge(Analysis(findings=tuple(findings)))
                infos = z.list()
                if len(infos) > ctx.limits.max_archive_members:
                    findings.append(_bomb(loc, f"{len(infos)} members", "member-count"))
                    return result.merge(Analysis(findings=tuple(findings)))
                declared = 0
                for info in infos:
                    if _escapes(info.filename):
                        findings.append(
                            rules.ARCHIVE_TRAVERSAL.finding(
                                loc.at(detail=info.filename),
                                f"member name {info.filename!r} escapes the folder",
                                subject=info.filename,
                            )
                        )
                    declared += int(info.uncompressed or 0)
                limit = ctx.limits.max_archive_expanded_bytes
                if declared > limit or (
                    declared > 16 * 1024**2 and declared > artifact.size * ctx.limits.max_compression_ratio
                ):
                    findings.append(
                        _bomb(loc, f"members declare {declared} bytes from {artifact.size}; not expanded", "7z")
                    )
                    return result.merge(Analysis(findings=tuple(findings)))
                factory = _writer_factory(ctx.limits.max_member_in_memory, limit, sink)
                z.extract(path=None, factory=factory)
        except Exception as exc:
            findings.append(
                general.PARSE_ERROR.finding(loc, f"7z archive unreadable: {type(exc).__name__}: {exc}", subject="7z")
            )
        try:
            for name, writer in sink.items():
                ctx.check_time()
                if writer.overflow:
                    findings.append(_bomb(loc.at(detail=name), f"member {name!r} expands past the limit", name))
                if writer.written == 0:
                    continue
                writer.stream.seek(0)
                result = result.merge(ctx.dispatch(artifact.child(writer.stream, writer.written, name)))
        finally:
            for writer in sink.values():
                writer.stream.close()
        return result.merge(Analysis(findings=tuple(findings)))


ZIP = ZipArchiveScanner()
TAR = TarScanner()
SEVEN_Z = SevenZipScanner()
