"""HDF5 files, and the Keras models stored in them (legacy ``.h5`` format).

The HDF5 superblock signature sits at offset 0 or at a power-of-two userblock
offset (512, 1024, ...). h5py reads only the attributes Keras stores
(``model_config``, ``training_config``, ``keras_version``, ``backend``); no
tensor data is read and Keras is never imported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from modelsieve import kerasconfig
from modelsieve.formats.base import ScanContext
from modelsieve.model import Analysis, Finding, Location
from modelsieve.rules import general
from modelsieve.source import Artifact

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_MAX_USERBLOCK = 1 << 24
_CONFIG_ATTRS = ("model_config", "training_config")


def hdf5_offset(head: bytes, artifact: Artifact) -> int | None:
    """Where the HDF5 signature is (0, 512, 1024, ...), or None."""
    offset = 0
    while offset < min(artifact.size, _MAX_USERBLOCK):
        if offset + len(HDF5_MAGIC) <= len(head):
            chunk = head[offset : offset + len(HDF5_MAGIC)]
        else:
            chunk = artifact.read_at(offset, len(HDF5_MAGIC))
        if chunk == HDF5_MAGIC:
            return offset
        offset = 512 if offset == 0 else offset * 2
    return None


@dataclass(frozen=True)
class KerasH5Scanner:
    """HDF5 container; Keras model configs inside are checked for Lambda code and foreign references."""

    name: str = "hdf5"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return hdf5_offset(head, artifact) is not None

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        import h5py

        try:
            artifact.stream.seek(0)
            handle = h5py.File(artifact.stream, "r")
        except Exception as exc:  # any HDF5 library error means unreadable content
            return Analysis(
                formats=(self.name,),
                findings=(
                    general.PARSE_ERROR.finding(
                        artifact.location.at(offset=0),
                        f"HDF5 file could not be opened: {type(exc).__name__}: {exc}",
                        subject="hdf5",
                        evidence=str(exc)[:300],
                    ),
                ),
            )
        try:
            with handle:
                return self._scan_open(handle, artifact, ctx)
        except Exception as exc:  # a corrupt object deep in the file
            return Analysis(
                formats=(self.name,),
                findings=(
                    general.PARSE_ERROR.finding(
                        artifact.location,
                        f"HDF5 content could not be read: {type(exc).__name__}: {exc}",
                        subject="hdf5",
                        evidence=str(exc)[:300],
                    ),
                ),
            )

    def _scan_open(self, handle: object, artifact: Artifact, ctx: ScanContext) -> Analysis:
        attrs = handle.attrs  # type: ignore[attr-defined]
        formats: list[str] = [self.name]
        findings: list[Finding] = []
        for attr in _CONFIG_ATTRS:
            if attr not in attrs:
                continue
            if attr == "model_config":
                formats.append("keras-h5")
            findings.extend(_config_findings(attrs, attr, artifact.location, ctx))
            ctx.check_time()
        return Analysis(formats=tuple(formats), findings=tuple(findings))


def _config_findings(attrs: object, attr: str, location: Location, ctx: ScanContext) -> list[Finding]:
    where = location.at(detail=f"attribute: {attr}")
    try:
        size = attrs.get_id(attr).get_storage_size()  # type: ignore[attr-defined]
    except Exception:  # size unknown: read it and rely on the library's own checks
        size = 0
    if size > ctx.limits.max_header_bytes:
        return [
            general.LIMIT_EXCEEDED.finding(
                where,
                f"`{attr}` attribute is {size} bytes, over the {ctx.limits.max_header_bytes}-byte bound; "
                "the model config was not analysed",
                subject=attr,
            )
        ]
    try:
        value = attrs[attr]  # type: ignore[index]
    except Exception as exc:
        return [general.PARSE_ERROR.finding(where, f"`{attr}` attribute unreadable: {exc}", subject=attr)]
    text = _as_text(value)
    if text is None:
        return [
            general.PARSE_ERROR.finding(where, f"`{attr}` attribute is not text ({type(value).__name__})", subject=attr)
        ]
    if len(text) > ctx.limits.max_header_bytes:
        # Variable-length strings report no storage size up front; the bound is applied once read.
        return [
            general.LIMIT_EXCEEDED.finding(
                where,
                f"`{attr}` attribute is {len(text)} characters, over the {ctx.limits.max_header_bytes} bound; "
                "the model config was not analysed",
                subject=attr,
            )
        ]
    try:
        config = json.loads(text)
    except RecursionError:
        return [general.LIMIT_EXCEEDED.finding(where, f"`{attr}` JSON nested too deeply", subject=attr)]
    except ValueError as exc:
        return [
            general.PARSE_ERROR.finding(
                where, f"`{attr}` attribute is not valid JSON: {exc}", subject=attr, evidence=text[:200]
            )
        ]
    return list(kerasconfig.analyse_config(config, location))


def _as_text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    # h5py returns numpy scalars/arrays for some string encodings.
    item = getattr(value, "item", None)
    if callable(item):
        try:
            inner = item()
        except (ValueError, TypeError):
            return None
        if isinstance(inner, bytes):
            return inner.decode("utf-8", errors="replace")
        if isinstance(inner, str):
            return inner
    return None


SCANNER = KerasH5Scanner()
