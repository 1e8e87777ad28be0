"""ONNX: parse the model with the onnx protobuf classes after dropping tensor bytes, then check it.

A ``.onnx`` file is a protobuf ``ModelProto``. Weights can make it gigabytes
large (and protobuf refuses messages over 2 GB), so the file is first copied
through a streaming wire-format walker that knows the ONNX schema and drops the
bulk payload fields of every ``TensorProto`` (raw_data, float_data, ...). The
small result is parsed with ``onnx.ModelProto`` — nothing is loaded into a
runtime and external data files are never opened.

Checks: external data locations that are absolute or escape the model folder
(CVE-2022-25882, CVE-2024-27318), operators from custom domains, Python
operators, graph size, and indicators in strings.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from modelsieve.formats.base import ScanContext
from modelsieve.indicators import indicator_findings
from modelsieve.model import Analysis, Behaviour, BehaviourKind, Finding, Location
from modelsieve.rules import formats_rules as fr
from modelsieve.rules import general
from modelsieve.source import Artifact

# Sub-message fields per message type (field number -> message type); the rest is copied or dropped.
_SCHEMA: dict[str, dict[int, str]] = {
    "Model": {7: "Graph", 20: "TrainingInfo", 25: "Function"},
    "Graph": {1: "Node", 5: "Tensor", 15: "Sparse"},
    "Node": {5: "Attribute"},
    "Attribute": {5: "Tensor", 6: "Graph", 10: "Tensor", 11: "Graph", 22: "Sparse", 23: "Sparse"},
    "Tensor": {},
    "Sparse": {1: "Tensor", 2: "Tensor"},
    "Function": {7: "Node", 11: "Attribute"},
    "TrainingInfo": {1: "Graph", 2: "Graph"},
}
# TensorProto payload fields: float_data, int32_data, int64_data, raw_data, double_data, uint64_data.
_TENSOR_BULK = frozenset({4, 5, 7, 9, 10, 11})
_TENSOR_STRING_DATA = 6
_MAX_STRING_DATA = 1024 * 1024
_MAX_FIELD = 64 * 1024 * 1024
_MAX_STRIPPED = 512 * 1024 * 1024
_MAX_DEPTH = 48
_MAX_NODES = 2_000_000
_MAX_TEXT = 4 * 1024 * 1024
_MODEL_FIELDS = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25})
_MODEL_WIRE = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2}

STANDARD_DOMAINS = frozenset(
    {
        "",
        "ai.onnx",
        "ai.onnx.ml",
        "ai.onnx.training",
        "ai.onnx.preview.training",
        "com.microsoft",
        "com.microsoft.nchwc",
        "com.microsoft.experimental",
        "com.microsoft.dml",
        "com.ms.internal.nhwc",
        "org.pytorch.aten",
        "pkg.onnxscript.torch_lib",
        "pkg.onnxscript.torch_lib.common",
    }
)
_PYTHON_OPS = {("com.microsoft", "PythonOp"), ("com.microsoft", "PythonOpGrad")}


class OnnxError(Exception):
    """Malformed protobuf (GEN001) at ``offset``."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class OnnxLimit(OnnxError):
    """Beyond a bound (GEN002)."""


class _Stream:
    """Buffered random access over an artifact."""

    _CHUNK = 1 << 20

    def __init__(self, artifact: Artifact) -> None:
        self.artifact = artifact
        self._buf = b""
        self._start = 0

    def byte(self, pos: int) -> int:
        rel = pos - self._start
        if not 0 <= rel < len(self._buf):
            self._buf = self.artifact.read_at(pos, self._CHUNK)
            self._start, rel = pos, 0
            if not self._buf:
                raise OnnxError("truncated varint", pos)
        return self._buf[rel]

    def read(self, pos: int, n: int) -> bytes:
        rel = pos - self._start
        if rel >= 0 and rel + n <= len(self._buf):
            return self._buf[rel : rel + n]
        return self.artifact.read_at(pos, n)

    def varint(self, pos: int, end: int) -> tuple[int, int]:
        value = shift = 0
        for i in range(10):
            if pos + i >= end:
                raise OnnxError("truncated varint", pos)
            b = self.byte(pos + i)
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value, pos + i + 1
            shift += 7
        raise OnnxError("varint longer than 10 bytes", pos)


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


@dataclass
class _Budget:
    """Running totals while stripping."""

    ctx: ScanContext
    copied: int = 0
    dropped: int = 0


def _strip(s: _Stream, start: int, end: int, kind: str, depth: int, budget: _Budget) -> bytes:
    """Re-encode the message in [start, end) without tensor payload fields."""
    if depth > _MAX_DEPTH:
        raise OnnxLimit(f"graphs nested deeper than {_MAX_DEPTH} levels", start)
    budget.ctx.check_time()
    schema = _SCHEMA[kind]
    out = bytearray()
    pos = start
    while pos < end:
        tag_at = pos
        tag, pos = s.varint(pos, end)
        field, wire = tag >> 3, tag & 7
        if field == 0:
            raise OnnxError("field number 0", tag_at)
        if wire == 0:
            _, nxt = s.varint(pos, end)
            out += s.read(tag_at, nxt - tag_at)
            pos = nxt
            continue
        if wire in (1, 5):
            size = 8 if wire == 1 else 4
            if pos + size > end:
                raise OnnxError("truncated fixed-width field", tag_at)
            out += s.read(tag_at, pos + size - tag_at)
            pos += size
            continue
        if wire != 2:
            raise OnnxError(f"unsupported wire type {wire}", tag_at)
        length, body = s.varint(pos, end)
        if body + length > end:
            raise OnnxError(f"field {field} of {kind} runs past its container ({length} bytes)", tag_at)
        pos = body + length
        if field in schema:
            inner = _strip(s, body, body + length, schema[field], depth + 1, budget)
            out += _varint_bytes(tag) + _varint_bytes(len(inner)) + inner
        elif kind == "Tensor" and (
            field in _TENSOR_BULK or (field == _TENSOR_STRING_DATA and length > _MAX_STRING_DATA)
        ):
            budget.dropped += length
        elif length > _MAX_FIELD:
            raise OnnxLimit(f"field {field} of {kind} is {length} bytes, over the {_MAX_FIELD} byte limit", tag_at)
        else:
            out += s.read(tag_at, pos - tag_at)
        if len(out) + budget.copied > _MAX_STRIPPED:
            raise OnnxLimit(f"model structure larger than {_MAX_STRIPPED} bytes without weights", tag_at)
    if pos != end:
        raise OnnxError(f"{kind} message overruns its length", pos)
    return bytes(out)


def _looks_like_model(head: bytes) -> bool:
    """Walk the first top-level fields: ir_version first, then only ModelProto fields with their wire types.

    TensorFlow SavedModel and CoreML also start with a small varint and a field 2, but theirs is a nested
    message, whereas ONNX's field 2-4 are short printable strings (producer name, version, domain).
    """
    if len(head) < 4 or head[0] != 0x08 or not 3 <= head[1] <= 32:
        return False
    pos, seen = 2, 0
    while pos < len(head) and seen < 4:
        tag = head[pos]
        field, wire = tag >> 3, tag & 7
        if tag & 0x80 or field not in _MODEL_FIELDS or _MODEL_WIRE[field] != wire:
            return False
        pos += 1
        value = shift = 0
        while pos < len(head) and shift < 64:
            b = head[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        if wire == 2:
            if field == 7:
                return True
            if field in (2, 3, 4):
                raw = head[pos : pos + value]
                if value > 1024 or (len(raw) == value and not _printable(raw)):
                    return False
            pos += value
        seen += 1
    return seen >= 1


def _printable(raw: bytes) -> bool:
    try:
        return raw.decode("utf-8").isprintable()
    except UnicodeDecodeError:
        return False


def _graphs(model: Any) -> Iterator[tuple[str, Any]]:
    """Every graph: main, training, bodies of If/Loop/Scan (also inside functions), depth-first."""
    stack: list[tuple[str, Any]] = []
    if model.HasField("graph"):
        stack.append((f"graph: {model.graph.name or 'main'}", model.graph))
    for i, info in enumerate(model.training_info):
        stack.append((f"training_info[{i}].initialization", info.initialization))
        stack.append((f"training_info[{i}].algorithm", info.algorithm))
    for function in model.functions:
        stack.extend(_bodies(f"function: {function.domain}.{function.name}", function.node))
    while stack:
        where, graph = stack.pop()
        yield where, graph
        stack.extend(_bodies(where, graph.node))


def _bodies(where: str, nodes: Any) -> list[tuple[str, Any]]:
    out = []
    for node in nodes:
        for attr in node.attribute:
            if attr.HasField("g"):
                out.append((f"{where} > node: {node.name or node.op_type} > {attr.name}", attr.g))
            for j, g in enumerate(attr.graphs):
                out.append((f"{where} > node: {node.name or node.op_type} > {attr.name}[{j}]", g))
    return out


def _tensors(graph: Any) -> Iterator[Any]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    yield from _node_tensors(graph.node)


def _node_tensors(nodes: Any) -> Iterator[Any]:
    for node in nodes:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("sparse_tensor"):
                yield attr.sparse_tensor.values
            for sparse in attr.sparse_tensors:
                yield sparse.values


def location_problem(location: str) -> tuple[str, str] | None:
    """("traversal" | "absolute", why) for an external-data location that leaves the model folder."""
    if not location:
        return "absolute", "empty location"
    if "\x00" in location:
        return "absolute", "NUL byte in location"
    norm = location.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        return "absolute", "absolute path"
    if norm.startswith("~"):
        return "absolute", "home-relative path"
    if re.match(r"^(?:CON|PRN|AUX|NUL|COM\d|LPT\d)(?:\.|$)", norm, re.IGNORECASE):
        return "absolute", "device name"
    clean = posixpath.normpath(norm)
    if clean == ".." or clean.startswith("../"):
        return "traversal", "climbs out of the model folder"
    return None


class OnnxScanner:
    """ONNX ModelProto."""

    name = "onnx"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return _looks_like_model(head)

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        loc = artifact.location
        budget = _Budget(ctx)
        try:
            stripped = _strip(_Stream(artifact), 0, artifact.size, "Model", 0, budget)
        except OnnxLimit as exc:
            return self._one(general.LIMIT_EXCEEDED.finding(loc.at(offset=exc.offset), f"ONNX: {exc}", subject="onnx"))
        except OnnxError as exc:
            return self._one(general.PARSE_ERROR.finding(loc.at(offset=exc.offset), f"ONNX: {exc}", subject="onnx"))
        from google.protobuf.message import DecodeError
        from onnx import ModelProto

        try:
            model = ModelProto.FromString(stripped)
        except (DecodeError, RecursionError, ValueError) as exc:
            return self._one(general.PARSE_ERROR.finding(loc, f"ONNX: not a valid ModelProto: {exc}", subject="onnx"))
        return Analysis(formats=(self.name,), findings=tuple(_check(model, loc, ctx)))

    def _one(self, finding: Finding) -> Analysis:
        return Analysis(formats=(self.name,), findings=(finding,))


def _check(model: Any, loc: Location, ctx: ScanContext) -> list[Finding]:
    findings: list[Finding] = []
    functions = {(f.domain, f.name) for f in model.functions}
    text: list[tuple[str, str]] = [("model", model.doc_string), ("model", model.producer_name)]
    text += [(f"metadata: {p.key}", p.value) for p in model.metadata_props]
    nodes = 0
    custom_seen: set[tuple[str, str]] = set()
    all_graphs = list(_graphs(model))
    function_nodes = [(f"function: {f.domain}.{f.name}", f.node) for f in model.functions]
    for where, node_list in [(w, g.node) for w, g in all_graphs] + function_nodes:
        for node in node_list:
            nodes += 1
            if nodes > _MAX_NODES:
                findings.append(
                    general.LIMIT_EXCEEDED.finding(
                        loc.at(detail=where), f"ONNX graph has more than {_MAX_NODES} nodes", subject="onnx-nodes"
                    )
                )
                return findings
            if nodes % 10000 == 0:
                ctx.check_time()
            findings.extend(_node(node, where, loc, functions, custom_seen))
            text.append((f"node: {node.name or node.op_type}", node.doc_string))
            for attr in node.attribute:
                if attr.s:
                    text.append((f"node: {node.name or node.op_type}", attr.s.decode("utf-8", "replace")))
                for s in attr.strings:
                    text.append((f"node: {node.name or node.op_type}", s.decode("utf-8", "replace")))
    data_files: dict[str, str] = {}
    for function in model.functions:
        for tensor in _node_tensors(function.node):
            findings.extend(_external(tensor, loc, data_files))
    for where, graph in all_graphs:
        text.append((where, graph.doc_string))
        for tensor in _tensors(graph):
            findings.extend(_external(tensor, loc, data_files))
            for s in tensor.string_data:
                text.append((f"tensor: {tensor.name}", s.decode("utf-8", "replace")))
    findings.extend(_indicators(text, loc))
    return findings


def _node(
    node: Any, where: str, loc: Location, functions: set[tuple[str, str]], seen: set[tuple[str, str]]
) -> list[Finding]:
    domain, op = node.domain, node.op_type
    label = node.name or op
    if (domain, op) in _PYTHON_OPS or (domain == "ai.onnx.contrib" and op.startswith("Py")):
        func = next((a.s.decode("utf-8", "replace") for a in node.attribute if a.name in ("func_name", "name")), "")
        target = func or f"{domain}::{op}"
        return [
            fr.ONNX_PYTHON_OP.finding(
                loc.at(detail=f"node: {label}"),
                f"node {label!r} is a Python operator ({domain}::{op}) calling {target}",
                subject=f"{domain}::{op}:{func}",
                evidence=f"{where}; op {domain}::{op}",
                behaviour=Behaviour(BehaviourKind.EXECUTES_CODE, f"running the model calls Python function {target}"),
            )
        ]
    if domain in STANDARD_DOMAINS or (domain, op) in functions or (domain, op) in seen:
        return []
    seen.add((domain, op))
    return [
        fr.ONNX_CUSTOM_DOMAIN.finding(
            loc.at(detail=f"node: {label}"),
            f"operator {domain}::{op} needs a custom-op library",
            subject=f"{domain}::{op}",
            evidence=where,
            behaviour=Behaviour(BehaviourKind.NEEDS_CODE, f"running the model needs native custom op {domain}::{op}"),
        )
    ]


def _external(tensor: Any, loc: Location, data_files: dict[str, str]) -> list[Finding]:
    """Findings for one tensor's external data; ``data_files`` collects the benign locations seen."""
    entries = {e.key: e.value for e in tensor.external_data}
    if tensor.data_location != 1 and not entries:
        return []
    location = entries.get("location", "")
    problem = location_problem(location) or _symlink_problem(location, loc)
    if problem is None:
        if location in data_files:
            return []
        data_files[location] = tensor.name
        # Named once per file so a folder scan can tell this model's data apart from unknown bytes.
        return [
            fr.ONNX_EXTERNAL_DATA.finding(
                loc.at(detail=f"tensor: {tensor.name}"),
                f"tensor data is read from {location!r} beside the model",
                subject=location,
                evidence=f"external_data location={location!r}",
            )
        ]
    kind, why = problem
    rule = fr.ONNX_EXTERNAL_TRAVERSAL if kind == "traversal" else fr.ONNX_EXTERNAL_ABSOLUTE
    return [
        rule.finding(
            loc.at(detail=f"tensor: {tensor.name}"),
            f"external data of tensor {tensor.name!r} is read from {location!r} ({why})",
            subject=location,
            evidence=f"external_data location={location!r}",
            behaviour=Behaviour(BehaviourKind.READS_FILE, f"loading the model reads {location}"),
        )
    ]


def _symlink_problem(location: str, loc: Location) -> tuple[str, str] | None:
    """A relative location that a symlink on disk redirects out of the model folder.

    Only for a model file read straight from disk (no archive members): the
    loader joins the location to the model's folder and follows links.
    """
    if loc.members or not os.path.isfile(loc.path):
        return None
    folder = os.path.dirname(os.path.realpath(loc.path))
    target = os.path.join(os.path.dirname(os.path.abspath(loc.path)), location.replace("\\", "/"))
    if not os.path.lexists(target):
        return None
    real = os.path.realpath(target)
    if os.path.commonpath([folder, real]) != folder:
        return "traversal", f"a symbolic link redirects it to {real}"
    return None


def _indicators(text: list[tuple[str, str]], loc: Location) -> list[Finding]:
    out: list[Finding] = []
    budget = _MAX_TEXT
    for detail, value in text:
        if not value or len(value) < 4:
            continue
        budget -= len(value)
        if budget < 0:
            break
        out.extend(indicator_findings(value, loc.at(detail=detail)))
    return out


SCANNER = OnnxScanner()
