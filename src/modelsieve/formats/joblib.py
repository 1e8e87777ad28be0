"""joblib dumps: a pickle with raw NumPy array bytes spliced in after each NumpyArrayWrapper.

A plain opcode walker dies at the first array's bytes, so a payload placed after
an array goes unseen; the engine is asked to skip the array bytes the way
joblib's unpickler reads them and go on. Compressed dumps (``compress=3``,
``('lzma', 3)``, gzip, bz2, xz, lz4) are whole-file compressed streams: the
compressed-stream scanner decodes them and dispatch brings the inner dump back
here. The pre-0.10 ``ZF`` zlib container is decoded here.
"""

from __future__ import annotations

import zlib

from modelsieve.formats.base import ScanContext
from modelsieve.model import Analysis, Finding
from modelsieve.rules import containers_rules as rules
from modelsieve.rules import general
from modelsieve.source import Artifact, spool

_WRAPPER = b"NumpyArrayWrapper"
_ZF_PREFIX = b"ZF"
# joblib pads the hexadecimal length to len(hex(2**64)) characters.
_ZF_HEADER = 2 + 19


def _engine():  # type: ignore[no-untyped-def]
    from modelsieve import pickle as engine

    return engine


def _is_zfile(head: bytes) -> bool:
    if not head.startswith(_ZF_PREFIX + b"0x") or len(head) < _ZF_HEADER + 2:
        return False
    try:
        int(head[2:_ZF_HEADER].strip(), 16)
    except ValueError:
        return False
    return head[_ZF_HEADER] == 0x78


class JoblibScanner:
    """joblib.dump files (any name), uncompressed, or the legacy ZF container."""

    name = "joblib"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        if _is_zfile(head):
            return True
        # Only the head is searched so plain pickles cost nothing extra; a dump whose first array
        # comes later is recognised by the raw-pickle scanner from the globals it references.
        return _WRAPPER in head and bool(_engine().looks_like_pickle(head))

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        if _is_zfile(artifact.head(_ZF_HEADER + 2)):
            return self._scan_zfile(artifact, ctx)
        return Analysis(formats=(self.name,)).merge(_engine().analyse_joblib(artifact, ctx))

    def _scan_zfile(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        loc = artifact.location
        declared = int(artifact.head(_ZF_HEADER)[2:].strip(), 16)
        findings: list[Finding] = []
        limit = min(declared, ctx.limits.max_archive_expanded_bytes)
        if declared > ctx.limits.max_archive_expanded_bytes:
            findings.append(
                rules.ARCHIVE_BOMB.finding(loc, f"ZF container declares {declared} bytes", subject="expanded-size")
            )
        out = spool(ctx.limits.max_member_in_memory)
        try:
            decoder = zlib.decompressobj()
            pos, size = _ZF_HEADER, 0
            try:
                while size < limit:
                    ctx.check_time()
                    chunk = decoder.unconsumed_tail or artifact.read_at(pos, 1 << 16)
                    if not decoder.unconsumed_tail:
                        pos += len(chunk)
                    if not chunk:
                        break
                    piece = decoder.decompress(chunk, min(1 << 20, limit - size))
                    out.write(piece)
                    size += len(piece)
                    if decoder.eof:
                        break
                    if size > 16 * 1024**2 and size > pos * ctx.limits.max_compression_ratio:
                        findings.append(
                            rules.ARCHIVE_BOMB.finding(loc, "ZF container expands too far", subject="compression-ratio")
                        )
                        break
            except zlib.error as exc:
                findings.append(
                    general.PARSE_ERROR.finding(loc.at(offset=pos), f"ZF container corrupt: {exc}", subject="joblib-zf")
                )
            result = Analysis(formats=(self.name,))
            if size:
                out.seek(0)
                result = result.merge(ctx.dispatch(artifact.child(out, size, f"{artifact.name or 'stream'}!")))
            return result.merge(Analysis(findings=tuple(findings)))
        finally:
            out.close()


JOBLIB = JoblibScanner()
