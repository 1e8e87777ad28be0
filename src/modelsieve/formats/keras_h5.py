"""HDF5 files, and the Keras models stored in them (legacy ``.h5`` format).

The HDF5 superblock signature sits at offset 0 or at a power-of-two userblock
offset (512, 1024, ...). Only the attributes Keras stores are read
(``model_config``, ``training_config``, ``keras_version``, ``backend``), and the
object tree is walked for objects that make HDF5 read other files (external
links, external storage, virtual datasets; HDF001/HDF002); no tensor data is
read, no link is followed and Keras is never imported. The HDF5 C library can crash
on hostile files, so h5py runs in a separate, resource-limited process
(``modelsieve._h5worker``); a crash there is an inconclusive finding here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from modelsieve import kerasconfig
from modelsieve.formats.base import ScanContext
from modelsieve.model import Analysis, Finding, Location
from modelsieve.rules import formats_rules, general
from modelsieve.source import Artifact

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_MAX_USERBLOCK = 1 << 24
_CONFIG_ATTRS = ("model_config", "training_config")
_WORKER_TIMEOUT = 60.0


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
        answer = _read_attributes(artifact, ctx)
        if not answer.get("ok"):
            return Analysis(
                formats=(self.name,),
                findings=(
                    general.PARSE_ERROR.finding(
                        artifact.location.at(offset=0),
                        f"HDF5 file could not be read: {answer.get('error', 'unknown error')}",
                        subject="hdf5",
                        evidence=str(answer.get("error", ""))[:300],
                    ),
                ),
            )
        attrs = answer.get("attrs")
        attrs = attrs if isinstance(attrs, dict) else {}
        formats: list[str] = [self.name]
        configs: list[Analysis] = []
        for attr in _CONFIG_ATTRS:
            value = attrs.get(attr)
            if not isinstance(value, dict):
                continue
            if attr == "model_config":
                formats.append("keras-h5")
            configs.append(_config_analysis(value, attr, artifact, ctx))
            ctx.check_time()
        refs = _reference_findings(answer, artifact.location)
        return Analysis(formats=tuple(formats), findings=refs).merge(*configs)


def _read_attributes(artifact: Artifact, ctx: ScanContext) -> dict[str, object]:
    path = getattr(artifact.stream, "name", None)
    if artifact.depth == 0 and isinstance(path, str) and os.path.isfile(path):
        return _run_worker(path, ctx)
    # Nested members (e.g. model.weights.h5 in a .keras zip) are copied to a private temporary file; passing
    # the spool's descriptor as /dev/fd/N does not work, HDF5 insists on resolving a real path.
    with tempfile.NamedTemporaryFile(prefix="modelsieve-", suffix=".h5") as tmp:
        artifact.stream.seek(0)
        shutil.copyfileobj(artifact.stream, tmp, 1 << 20)
        tmp.flush()
        return _run_worker(tmp.name, ctx)


def _run_worker(path: str, ctx: ScanContext) -> dict[str, object]:
    from modelsieve import _h5worker

    cmd = [sys.executable, "-I", _h5worker.__file__, path, str(ctx.limits.max_header_bytes)]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=_WORKER_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"HDF5 reader gave no answer within {_WORKER_TIMEOUT:g}s"}
    except OSError as exc:
        return {"ok": False, "error": f"HDF5 reader could not start: {exc}"}
    try:
        answer = json.loads(proc.stdout)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        status = proc.returncode
        how = f"signal {-status}" if status < 0 else f"exit status {status}"
        return {"ok": False, "error": f"the HDF5 library crashed on this file ({how})"}
    return answer


def _config_analysis(value: dict[str, object], attr: str, artifact: Artifact, ctx: ScanContext) -> Analysis:
    location = artifact.location
    where = location.at(detail=f"attribute: {attr}")
    if "too_large" in value:
        return _found(
            general.LIMIT_EXCEEDED.finding(
                where,
                f"`{attr}` attribute is {value['too_large']} bytes, over the {ctx.limits.max_header_bytes}-byte "
                "bound; the model config was not analysed",
                subject=attr,
            )
        )
    text = value.get("text")
    if not isinstance(text, str):
        return _found(
            general.PARSE_ERROR.finding(where, f"`{attr}` attribute unreadable: {value.get('error')}", subject=attr)
        )
    try:
        config = json.loads(text)
    except RecursionError:
        return _found(general.LIMIT_EXCEEDED.finding(where, f"`{attr}` JSON nested too deeply", subject=attr))
    except ValueError as exc:
        return _found(
            general.PARSE_ERROR.finding(
                where, f"`{attr}` attribute is not valid JSON: {exc}", subject=attr, evidence=text[:200]
            )
        )
    return kerasconfig.analyse(config, location, ctx, depth=artifact.depth)


_REFERENCE_WORDS = {
    "external-link": "external link to",
    "external-storage": "dataset stored in the external file",
    "virtual-source": "virtual dataset reading from",
}


def _reference_findings(answer: dict[str, object], location: Location) -> tuple[Finding, ...]:
    from modelsieve.formats.onnx import location_problem

    out: list[Finding] = []
    refs = answer.get("references")
    for ref in refs if isinstance(refs, list) else ():
        if not isinstance(ref, dict):
            continue
        kind, obj, filename = str(ref.get("kind", "")), str(ref.get("object", "")), str(ref.get("file", ""))
        inside = str(ref.get("inside", ""))
        target = f"{filename}:{inside}" if inside else filename
        problem = location_problem(filename)
        rule = formats_rules.HDF5_REFERENCE_OUTSIDE if problem else formats_rules.HDF5_REFERENCE
        why = f" ({problem[1]})" if problem else ""
        out.append(
            rule.finding(
                location.at(detail=f"object: {obj}"),
                f"HDF5 {_REFERENCE_WORDS.get(kind, kind)} `{target}`{why}: using {obj} reads that file",
                subject=f"{kind}:{filename}",
                evidence=target[:300],
            )
        )
    if answer.get("truncated"):
        out.append(
            general.LIMIT_EXCEEDED.finding(
                location,
                f"HDF5 object tree walked for external references only up to {answer.get('walked')} objects",
                subject="hdf5-objects",
            )
        )
    return tuple(out)


def _found(*findings: Finding) -> Analysis:
    return Analysis(findings=findings)


SCANNER = KerasH5Scanner()
