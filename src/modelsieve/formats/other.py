"""Formats recognised by their bytes but not analysed in depth, and plain data a repository carries.

* Model formats said plainly to be "not analysed" (FMT001): XGBoost (JSON, UBJSON,
  legacy binary), LightGBM text models, CatBoost (``CBM1``), CoreML
  (``.mlmodel`` protobuf, ``.mlpackage`` Manifest.json), OpenVINO IR XML,
  PaddlePaddle ``.pdmodel`` protobuf.
* Zip-based packages whose members are analysed one by one: TorchServe ``.mar``
  (MAR-INF/MANIFEST.json names a handler the server imports) and llamafile
  (an Actually Portable Executable that is also a zip holding GGUF weights).
* Plain data (images, audio, video, PDF): recognised so it is not "unknown".
  None of these formats carries code that loading runs.
"""

from __future__ import annotations

import json
import re
import struct

from modelsieve.formats import ziplenient as zl
from modelsieve.formats.base import ScanContext
from modelsieve.limits import Limits
from modelsieve.model import Analysis, Behaviour, BehaviourKind, Finding
from modelsieve.rules import formats_rules as fr
from modelsieve.rules import general
from modelsieve.source import Artifact

_MAR_MANIFEST = "MAR-INF/MANIFEST.json"
_APE_MAGIC = (b"MZqFpD='", b"MZqFpD=\n", b"jartsr='")


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(buf) and shift < 64:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos
    raise ValueError("truncated varint")


def _coreml(head: bytes, artifact: Artifact) -> bool:
    """CoreML Model: specificationVersion, description, then a model-type field numbered 200 or more."""
    if head[:1] != b"\x08":
        return False
    try:
        version, pos = _varint(head, 1)
        if not 1 <= version <= 16 or head[pos : pos + 1] != b"\x12":
            return False
        length, pos = _varint(head, pos + 1)
        if length > 64 * 1024 * 1024 or head[pos : pos + 1] not in (b"\x0a", b"\x12", b"\x1a", b"\x22"):
            return False
        after = artifact.read_at(pos + length, 16)
        field, _ = _varint(after, 0)
    except ValueError:
        return False
    return (field >> 3) >= 200 or (field >> 3) == 10


_PADDLE_BLOCK0 = b"\x08\x00\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"


def _paddle(head: bytes) -> bool:
    """ProgramDesc: blocks[0] = {idx: 0, parent_idx: -1, ...}."""
    if head[:1] != b"\x0a":
        return False
    try:
        _, pos = _varint(head, 1)
    except ValueError:
        return False
    return head[pos : pos + len(_PADDLE_BLOCK0)] == _PADDLE_BLOCK0


def _text_head(head: bytes) -> str:
    return head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")


def model_format(head: bytes, artifact: Artifact) -> str | None:
    """The name of a recognised-but-not-analysed model format, or None."""
    if head.startswith(b"CBM1"):
        return "CatBoost model"
    if head.startswith(b"binf"):
        return "XGBoost binary model"
    if head[:1] == b"{" and head[1:2] in (b"i", b"U", b"I", b"l", b"L") and b"learner" in head[:32]:
        return "XGBoost UBJSON model"
    if re.match(rb"tree\r?\nversion=v\d", head):
        return "LightGBM text model"
    if _coreml(head, artifact):
        return "CoreML model (.mlmodel)"
    if _paddle(head):
        return "PaddlePaddle program (.pdmodel)"
    text = _text_head(head)
    if text.startswith("{") and re.match(r'\{\s*"learner"\s*:', text):
        return "XGBoost JSON model"
    if text.startswith("{") and '"itemInfoEntries"' in text and '"rootModelIdentifier"' in text:
        return "CoreML package manifest (.mlpackage)"
    if re.match(r"(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<net\s[^>]*\bversion=", text, re.DOTALL):
        return "OpenVINO IR model (.xml)"
    return None


_DATA_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "PNG image"),
    (b"\xff\xd8\xff", 0, "JPEG image"),
    (b"GIF87a", 0, "GIF image"),
    (b"GIF89a", 0, "GIF image"),
    (b"II*\x00", 0, "TIFF image"),
    (b"MM\x00*", 0, "TIFF image"),
    (b"%PDF-", 0, "PDF document"),
    (b"fLaC", 0, "FLAC audio"),
    (b"OggS\x00", 0, "Ogg audio"),
    (b"ID3", 0, "MP3 audio"),
    (b"\x1aE\xdf\xa3", 0, "Matroska/WebM video"),
)


def data_format(head: bytes) -> str | None:
    """Images, audio, video and documents, by magic number."""
    for magic, offset, name in _DATA_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return name
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return {b"WEBP": "WEBP image", b"WAVE": "WAV audio", b"AVI ": "AVI video"}[head[8:12]]
    if head[4:8] == b"ftyp" and re.match(rb"[a-zA-Z0-9 ]{4}", head[8:12]):
        return "MP4/QuickTime media"
    if head[:2] == b"BM" and len(head) >= 14 and struct.unpack_from("<I", head, 2)[0] > 14:
        return "BMP image"
    return None


class ModelFormatScanner:
    """Known model formats that are reported as not analysed (never as clean)."""

    name = "other-model"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return model_format(head, artifact) is not None

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        what = model_format(artifact.head(), artifact) or "model"
        return Analysis(
            formats=(what,),
            findings=(
                fr.FORMAT_NOT_ANALYSED.finding(
                    artifact.location,
                    f"{what}: recognised, not analysed",
                    subject=what,
                    evidence=f"first bytes: {artifact.head(16).hex()}",
                ),
            ),
        )


class DataScanner:
    """Images, audio, video and documents: data, not code."""

    name = "data"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return data_format(head) is not None

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        return Analysis(formats=(data_format(artifact.head()) or "data",))


class ZipModelScanner:
    """TorchServe .mar archives and llamafiles: zips whose members are dispatched one by one."""

    name = "zip-model"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        if head.startswith(_APE_MAGIC):
            return True
        if not head.startswith(zl.LOCAL_MAGIC):
            return False
        directory = zl.read_directory(artifact, Limits(), local_headers=False)
        return any(e.name == _MAR_MANIFEST for e in directory.entries)

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        loc = artifact.location
        directory = zl.read_directory(artifact, ctx.limits)
        findings: list[Finding] = []
        if artifact.head(8).startswith(_APE_MAGIC):
            fmt = "llamafile"
            findings.append(
                fr.FORMAT_EXECUTABLE_MODEL.finding(
                    loc.at(offset=0),
                    "llamafile: a program (Actually Portable Executable) bundling model weights; "
                    "running it runs native code that is not analysed",
                    subject="llamafile",
                    evidence=f"first bytes: {artifact.head(16).hex()}",
                    behaviour=Behaviour(BehaviourKind.LOADS_NATIVE, "the file is a native executable"),
                )
            )
            if directory.error:
                return Analysis(formats=(fmt,), findings=tuple(findings))
        else:
            fmt = "torchserve-mar"
            findings.extend(self._manifest(artifact, directory, ctx))
        findings.extend(zl.quirk_findings(directory, loc, ctx.limits))
        result = Analysis(formats=(fmt,))
        return result.merge(self._members(artifact, directory, ctx, findings))

    def _manifest(self, artifact: Artifact, directory: zl.ZipDirectory, ctx: ScanContext) -> list[Finding]:
        entry = directory.last(_MAR_MANIFEST)
        loc = artifact.location
        if entry is None:
            return []
        raw = zl.read_head(artifact, entry, 256 * 1024)
        try:
            manifest = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return [
                general.PARSE_ERROR.finding(
                    loc.at(detail=_MAR_MANIFEST), f"MAR manifest is not JSON: {exc}", subject="mar-manifest"
                )
            ]
        model = manifest.get("model") if isinstance(manifest, dict) else None
        handler = model.get("handler") if isinstance(model, dict) else None
        if not isinstance(handler, str) or not handler:
            return []
        return [
            fr.FORMAT_HANDLER_CODE.finding(
                loc.at(detail=_MAR_MANIFEST),
                f"serving this archive imports and runs handler {handler}",
                subject=handler,
                evidence=f'"handler": "{handler}"',
                behaviour=Behaviour(BehaviourKind.NEEDS_CODE, f"TorchServe imports handler {handler}"),
            )
        ]

    def _members(
        self, artifact: Artifact, directory: zl.ZipDirectory, ctx: ScanContext, findings: list[Finding]
    ) -> Analysis:
        loc = artifact.location
        result = Analysis()
        expanded = 0
        for entry in directory.entries:
            ctx.check_time()
            if entry.is_dir or entry.is_symlink or (entry.size == 0 and entry.compressed_size == 0):
                continue
            blocked = zl.unreadable_finding(entry, loc)
            if blocked is not None:
                findings.append(blocked)
                continue
            expanded += entry.size
            if expanded > ctx.limits.max_archive_expanded_bytes:
                findings.append(
                    general.LIMIT_EXCEEDED.finding(
                        loc, f"members expand past {ctx.limits.max_archive_expanded_bytes} bytes", subject="expanded"
                    )
                )
                break
            result = result.merge(zl.analyse_member(artifact, entry, ctx, entry.name))
        return result.merge(Analysis(findings=tuple(findings)))


MODELS = ModelFormatScanner()
DATA = DataScanner()
ZIP_MODELS = ZipModelScanner()
