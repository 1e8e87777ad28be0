"""TensorFlow protobufs: SavedModel ``saved_model.pb``, frozen GraphDef ``.pb``, ``keras_metadata.pb``.

Protobuf has no magic number, so sniffing validates the first fields' shape
conservatively (random bytes must not be claimed). Scanning walks the
top-level fields straight from the stream and decodes one NodeDef/FunctionDef
at a time with the compiled protos shipped in ``tensorboard`` (no TensorFlow
install), so a graph full of large constants costs only what one node costs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from modelsieve import kerasconfig
from modelsieve.formats.base import ScanContext
from modelsieve.model import Analysis, Behaviour, BehaviourKind, Finding, Location
from modelsieve.rules import formats_rules as rules
from modelsieve.rules import general
from modelsieve.source import Artifact

_PY_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})
_WRITE_OPS = frozenset({"WriteFile"})
_READ_OPS = frozenset(
    {
        "ReadFile",
        "MatchingFiles",
        "ImmutableConst",
        "WholeFileReader",
        "WholeFileReaderV2",
        "TextLineReader",
        "TextLineReaderV2",
        "FixedLengthRecordReader",
        "FixedLengthRecordReaderV2",
        "TFRecordReader",
        "TFRecordReaderV2",
        "LMDBReader",
    }
)
_CHECKPOINT_OPS = frozenset(
    {"Save", "SaveV2", "SaveSlices", "Restore", "RestoreV2", "RestoreSlice", "MergeV2Checkpoints"}
)
_PRINT_OPS = frozenset({"PrintV2", "Print"})
# TF2 SavedModels keep checkpoint I/O in functions with these names; TF1 savers in "save/" scopes.
_SAVER_FUNCTION_RE = re.compile(r"(traced_save|traced_restore|save_fn|restore_fn|_save_\d|_restore_\d)")
_SAVER_SCOPE_RE = re.compile(r"^(save|saver)(_\d+)?/")
_OP_RE = re.compile(rb"^[A-Za-z_][A-Za-z0-9_>.]{0,127}$")
_META_GRAPH_TAGS = frozenset({0x0A, 0x12, 0x1A, 0x22, 0x2A, 0x32, 0x3A})

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


class _ProtoError(ValueError):
    """Malformed wire format, with the absolute offset where it broke."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at offset {offset}")
        self.offset = offset


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise _ProtoError("truncated or overlong varint", pos)
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


@dataclass(frozen=True)
class _Field:
    """One wire field: number, wire type, value (varint) or the byte range of a length-delimited value."""

    number: int
    wire: int
    value: int
    start: int
    length: int


def _fields(artifact: Artifact, start: int, end: int) -> Iterator[_Field]:
    """Fields between ``start`` and ``end`` of the artifact, read a header at a time."""
    pos = start
    while pos < end:
        head = artifact.read_at(pos, min(20, end - pos))
        key, p = _varint(head, 0)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _ProtoError("field number 0", pos)
        if wire == _VARINT:
            value, p = _varint(head, p)
            yield _Field(number, wire, value, pos + p, 0)
            pos += p
        elif wire == _LEN:
            length, p = _varint(head, p)
            if pos + p + length > end:
                raise _ProtoError(f"field {number} of {length} bytes runs past its end", pos)
            yield _Field(number, wire, 0, pos + p, length)
            pos += p + length
        elif wire == _I64:
            pos += p + 8
        elif wire == _I32:
            pos += p + 4
        else:
            raise _ProtoError(f"unsupported wire type {wire}", pos)
        if pos > end:
            raise _ProtoError("field runs past its end", pos)


def _kind(head: bytes, size: int) -> str | None:
    try:
        if head[:1] == b"\x08":
            version, p = _varint(head, 1)
            if version > 10 or head[p : p + 1] != b"\x12":
                return None
            length, q = _varint(head, p + 1)
            # A length running past the end is a truncated file: claimed here, reported by the scan.
            if length < 2 or q >= len(head) or head[q] not in _META_GRAPH_TAGS:
                return None
            return "saved_model"
        if head[:1] != b"\x0a":
            return None
        length, p = _varint(head, 1)
        if length < 4 or p >= len(head):
            return None
        if head[p] in (0x10, 0x1A) and b"_tf_keras_" in head:
            return "keras_metadata"
        if head[p] != 0x0A:
            return None
        n, q = _varint(head, p + 1)
        name = head[q : q + n]
        if not 1 <= n <= 1024 or len(name) != n or any(c < 0x20 or c == 0x7F for c in name):
            return None
        if head[q + n : q + n + 1] != b"\x12":
            return None
        m, r = _varint(head, q + n + 1)
        op = head[r : r + m]
        if not 1 <= m <= 128 or len(op) != m or not _OP_RE.match(op):
            return None
        return "graphdef"
    except _ProtoError:
        return None


@dataclass(frozen=True)
class _Scope:
    """Where nodes come from: the top-level graph or a library function, and saver names to excuse."""

    location: Location
    function: str | None
    saver_prefixes: tuple[str, ...]

    def at(self, node: str) -> Location:
        prefix = f"function: {self.function}, " if self.function else ""
        return self.location.at(detail=f"{prefix}node: {node}")

    def is_saver(self, node: str) -> bool:
        if self.function is not None:
            return bool(_SAVER_FUNCTION_RE.search(self.function))
        return bool(_SAVER_SCOPE_RE.match(node)) or any(node.startswith(p) for p in self.saver_prefixes)


@dataclass(frozen=True)
class TensorFlowScanner:
    """SavedModel, GraphDef and keras_metadata protobufs."""

    name: str = "tensorflow"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return _kind(head, artifact.size) is not None

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        kind = _kind(artifact.head(), artifact.size) or "graphdef"
        fmt = f"tensorflow-{kind.replace('_', '-')}"
        try:
            if kind == "saved_model":
                findings = list(_saved_model(artifact, ctx))
            elif kind == "keras_metadata":
                findings = list(_keras_metadata(artifact, ctx))
            else:
                scope = _Scope(artifact.location, None, ())
                findings = list(_graph_def(artifact, 0, artifact.size, scope, ctx))
        except _ProtoError as exc:
            return Analysis(
                formats=(fmt,),
                findings=(
                    general.PARSE_ERROR.finding(
                        artifact.location.at(offset=exc.offset),
                        f"{kind} protobuf is malformed: {exc}",
                        subject=kind,
                    ),
                ),
            )
        return Analysis(formats=(fmt,), findings=tuple(findings))


def _read(artifact: Artifact, field: _Field, ctx: ScanContext) -> bytes | None:
    if field.length > ctx.limits.max_member_in_memory:
        return None
    data = artifact.read_at(field.start, field.length)
    if len(data) != field.length:
        raise _ProtoError("truncated field", field.start + len(data))
    return data


def _saved_model(artifact: Artifact, ctx: ScanContext) -> Iterator[Finding]:
    for field in _fields(artifact, 0, artifact.size):
        if field.number == 2 and field.wire == _LEN:
            yield from _meta_graph(artifact, field, ctx)


def _meta_graph(artifact: Artifact, meta: _Field, ctx: ScanContext) -> Iterator[Finding]:
    end = meta.start + meta.length
    saver: tuple[str, ...] = ()
    graphs: list[_Field] = []
    for field in _fields(artifact, meta.start, end):
        if field.number == 3 and field.wire == _LEN:
            saver = _saver_prefixes(artifact, field, ctx)
        elif field.number == 2 and field.wire == _LEN:
            graphs.append(field)
    for graph in graphs:
        yield from _graph_def(
            artifact, graph.start, graph.start + graph.length, _Scope(artifact.location, None, saver), ctx
        )


def _saver_prefixes(artifact: Artifact, field: _Field, ctx: ScanContext) -> tuple[str, ...]:
    from tensorboard.compat.proto import saver_pb2

    data = _read(artifact, field, ctx)
    if data is None:
        return ()
    try:
        saver = saver_pb2.SaverDef.FromString(data)
    except Exception:  # a bad SaverDef only loses the excuse for saver nodes
        return ()
    names = (saver.filename_tensor_name, saver.save_tensor_name, saver.restore_op_name)
    return tuple(sorted({n.split("/")[0] + "/" for n in names if "/" in n}))


def _graph_def(artifact: Artifact, start: int, end: int, scope: _Scope, ctx: ScanContext) -> Iterator[Finding]:
    for field in _fields(artifact, start, end):
        ctx.check_time()
        if field.wire != _LEN:
            continue
        if field.number == 1:
            yield from _node(artifact, field, scope, ctx)
        elif field.number == 2:
            yield from _library(artifact, field, scope, ctx)


def _library(artifact: Artifact, lib: _Field, scope: _Scope, ctx: ScanContext) -> Iterator[Finding]:
    from tensorboard.compat.proto import function_pb2

    for field in _fields(artifact, lib.start, lib.start + lib.length):
        if field.number != 1 or field.wire != _LEN:
            continue
        ctx.check_time()
        data = _read(artifact, field, ctx)
        if data is None:
            yield general.LIMIT_EXCEEDED.finding(
                scope.location.at(offset=field.start),
                f"function definition of {field.length} bytes not analysed",
                subject="function-size",
            )
            continue
        try:
            fdef = function_pb2.FunctionDef.FromString(data)
        except Exception as exc:  # protobuf DecodeError and friends
            raise _ProtoError(f"FunctionDef does not decode ({type(exc).__name__})", field.start) from exc
        inner = _Scope(scope.location, fdef.signature.name or "<unnamed>", ())
        for node in fdef.node_def:
            yield from _classify(node, inner)


def _node(artifact: Artifact, field: _Field, scope: _Scope, ctx: ScanContext) -> Iterator[Finding]:
    from tensorboard.compat.proto import node_def_pb2

    data = _read(artifact, field, ctx)
    if data is None:
        # A huge node is a big constant; name and op come first on the wire.
        data = artifact.read_at(field.start, 64 * 1024)
        name = op = ""
        pos = 0
        try:
            while pos < len(data) and not (name and op):
                key, pos = _varint(data, pos)
                length, pos = _varint(data, pos)
                if key == 0x0A:
                    name = data[pos : pos + length].decode("utf-8", "replace")
                elif key == 0x12:
                    op = data[pos : pos + length].decode("utf-8", "replace")
                else:
                    break
                pos += length
        except _ProtoError:
            pass
        node = node_def_pb2.NodeDef(name=name, op=op)
    else:
        try:
            node = node_def_pb2.NodeDef.FromString(data)
        except Exception as exc:
            raise _ProtoError(f"NodeDef does not decode ({type(exc).__name__})", field.start) from exc
    yield from _classify(node, scope)


def _attr_text(node: object, key: str) -> str:
    attrs = getattr(node, "attr", {})
    if key not in attrs:
        return ""
    return bytes(attrs[key].s).decode("utf-8", "replace")


def _classify(node: object, scope: _Scope) -> Iterator[Finding]:
    op = str(getattr(node, "op", ""))
    name = str(getattr(node, "name", ""))[:300]
    where = scope.at(name)
    inputs = ", ".join(list(getattr(node, "input", []))[:6])
    evidence = f"op={op} name={name}" + (f" inputs=[{inputs}]" if inputs else "")
    if op in _PY_OPS:
        token = _attr_text(node, "token")
        yield rules.TF_PYTHON_OP.finding(
            where,
            f"node `{name}` ({op}) calls a Python function registered as `{token or '?'}` when the graph runs",
            subject=op,
            evidence=evidence + (f" token={token}" if token else ""),
            behaviour=Behaviour(BehaviourKind.EXECUTES_CODE, f"calls Python function `{token or '?'}` via {op}"),
        )
    elif op in _WRITE_OPS:
        yield rules.TF_WRITES_FILE.finding(
            where,
            f"node `{name}` ({op}) writes a file when the graph runs",
            subject=op,
            evidence=evidence,
            behaviour=Behaviour(BehaviourKind.WRITES_FILE, f"writes a file via TensorFlow op {op}"),
        )
    elif op in _READ_OPS:
        yield rules.TF_READS_FILE.finding(
            where,
            f"node `{name}` ({op}) reads or lists files when the graph runs",
            subject=op,
            evidence=evidence,
            behaviour=Behaviour(BehaviourKind.READS_FILE, f"reads files via TensorFlow op {op}"),
        )
    elif op in _CHECKPOINT_OPS and not scope.is_saver(name):
        yield rules.TF_CHECKPOINT_OP.finding(
            where,
            f"node `{name}` ({op}) reads or writes checkpoint files outside the saver",
            subject=op,
            evidence=evidence,
            behaviour=Behaviour(BehaviourKind.WRITES_FILE, f"reads/writes checkpoint files via {op}"),
        )
    elif op in _PRINT_OPS:
        stream = _attr_text(node, "output_stream")
        if stream.startswith("file://"):
            yield rules.TF_WRITES_FILE.finding(
                where,
                f"node `{name}` ({op}) prints to the file `{stream[7:]}` when the graph runs",
                subject=op,
                evidence=evidence + f" output_stream={stream}",
                behaviour=Behaviour(BehaviourKind.WRITES_FILE, f"writes to `{stream[7:]}` via {op}"),
            )
        else:
            yield rules.TF_PRINT.finding(where, f"node `{name}` ({op}) prints when the graph runs", subject=op)


def _keras_metadata(artifact: Artifact, ctx: ScanContext) -> Iterator[Finding]:
    seen: set[tuple[str, str, str | None]] = set()
    for field in _fields(artifact, 0, artifact.size):
        if field.number != 1 or field.wire != _LEN:
            continue
        ctx.check_time()
        data = _read(artifact, field, ctx)
        if data is None:
            yield general.LIMIT_EXCEEDED.finding(
                artifact.location.at(offset=field.start), "keras metadata object too large", subject="metadata-size"
            )
            continue
        metadata, node_path = _saved_object(data, field.start)
        if not metadata:
            continue
        where = artifact.location.at(offset=field.start, detail=f"object: {node_path}")
        try:
            config = json.loads(metadata)
        except RecursionError:
            yield general.LIMIT_EXCEEDED.finding(where, "metadata JSON nested too deeply", subject="metadata")
            continue
        except ValueError as exc:
            yield general.PARSE_ERROR.finding(
                where, f"metadata of `{node_path}` is not JSON: {exc}", subject="metadata"
            )
            continue
        is_model = node_path == "root"
        for finding in kerasconfig.analyse_config(
            config, artifact.location, is_model=is_model, ctx=ctx, depth=artifact.depth
        ):
            key = (finding.rule_id, finding.subject, finding.location.detail)
            if key not in seen:
                seen.add(key)
                yield finding


def _saved_object(data: bytes, base: int) -> tuple[str, str]:
    """(metadata JSON, node_path) of one SavedObject message."""
    metadata = node_path = ""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        wire = key & 7
        if wire == _VARINT:
            _, pos = _varint(data, pos)
        elif wire == _LEN:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise _ProtoError("SavedObject field runs past its end", base + pos)
            value = data[pos : pos + length].decode("utf-8", "replace")
            if key >> 3 == 3:
                node_path = value
            elif key >> 3 == 5:
                metadata = value
            pos += length
        elif wire == _I64:
            pos += 8
        elif wire == _I32:
            pos += 4
        else:
            raise _ProtoError(f"unsupported wire type {wire}", base + pos)
    return metadata, node_path or "?"


SCANNER = TensorFlowScanner()
