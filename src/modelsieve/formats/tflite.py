"""TensorFlow Lite flatbuffers (file identifier ``TFL3`` at offset 4).

Read with the generated accessors of the ``tflite`` package. Only the operator
code table matters for security: CUSTOM operators need native code registered
by whoever runs the model, and ``Flex<Op>`` customs run full TensorFlow ops
(file I/O, PyFunc) through the select-TF-ops delegate. Files are memory-mapped
when possible, so weight buffers are never copied.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from dataclasses import dataclass

from modelsieve.formats.base import ScanContext
from modelsieve.model import Analysis, Behaviour, BehaviourKind, Finding
from modelsieve.rules import formats_rules as rules
from modelsieve.rules import general
from modelsieve.source import Artifact

_IDENTIFIER = b"TFL3"
_CUSTOM = 32
_MAX_OPERATOR_CODES = 100_000
_MAX_NAME = 256
# Custom ops that the stock TFLite interpreters and Task libraries register themselves.
_STANDARD_CUSTOM_OPS = frozenset(
    {
        "TFLite_Detection_PostProcess",
        "Mfcc",
        "AudioSpectrogram",
        "MaxPoolingWithArgmax2D",
        "MaxUnpooling2D",
        "Convolution2DTransposeBias",
        "NumericVerify",
    }
)
_FLEX_PYTHON = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})
_FLEX_FILES = frozenset(
    {
        "WriteFile",
        "ReadFile",
        "MatchingFiles",
        "Save",
        "SaveV2",
        "SaveSlices",
        "Restore",
        "RestoreV2",
        "RestoreSlice",
        "MergeV2Checkpoints",
        "ImmutableConst",
        "WholeFileReaderV2",
        "TextLineReaderV2",
    }
)


@dataclass(frozen=True)
class TFLiteScanner:
    """TFLite model flatbuffer."""

    name: str = "tflite"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return len(head) >= 8 and head[4:8] == _IDENTIFIER

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        buf, mapped = _buffer(artifact, ctx)
        if buf is None:
            return Analysis(
                formats=(self.name,),
                findings=(
                    general.LIMIT_EXCEEDED.finding(
                        artifact.location,
                        f"{artifact.size}-byte TFLite model cannot be mapped and is over the in-memory bound",
                        subject="tflite-size",
                    ),
                ),
            )
        try:
            findings = list(_operator_codes(buf, artifact, ctx))
        except Exception as exc:  # out-of-range offsets surface as struct/index errors
            findings = [
                general.PARSE_ERROR.finding(
                    artifact.location,
                    f"TFLite flatbuffer is malformed: {type(exc).__name__}: {exc}",
                    subject="tflite",
                )
            ]
        finally:
            if mapped is not None:
                mapped.close()
        return Analysis(formats=(self.name,), findings=tuple(findings))


def _buffer(artifact: Artifact, ctx: ScanContext) -> tuple[bytes | mmap.mmap | None, mmap.mmap | None]:
    try:
        # Only top-level files are real files; fileno() on a spooled member would force it to disk.
        if artifact.depth != 0:
            raise ValueError("nested member")
        fileno = artifact.stream.fileno()
        mapped = mmap.mmap(fileno, 0, access=mmap.ACCESS_READ)
        if len(mapped) == artifact.size:
            return mapped, mapped
        mapped.close()
    except (AttributeError, OSError, ValueError, TypeError):
        pass
    if artifact.size > ctx.limits.max_member_in_memory:
        return None, None
    return artifact.read_at(0, artifact.size), None


def _check(buf: bytes | mmap.mmap, offset: int, what: str) -> None:
    if not 0 <= offset < len(buf):
        raise ValueError(f"{what} offset {offset} outside the {len(buf)}-byte buffer")


def _operator_codes(buf: bytes | mmap.mmap, artifact: Artifact, ctx: ScanContext) -> Iterator[Finding]:
    from tflite.Model import Model

    model = Model.GetRootAs(buf, 0)
    _check(buf, model._tab.Pos, "root table")
    count = model.OperatorCodesLength()
    if count:
        # operator_codes is field 1 (vtable slot 6); its vector must fit in the buffer.
        start = model._tab.Vector(model._tab.Offset(6))
        if start + 4 * count > len(buf):
            raise ValueError(f"operator_codes vector of {count} entries runs past the end of the buffer")
    if count > _MAX_OPERATOR_CODES:
        yield general.LIMIT_EXCEEDED.finding(
            artifact.location, f"{count} operator codes, over the {_MAX_OPERATOR_CODES} bound", subject="tflite-ops"
        )
        return
    for index in range(count):
        if index % 1000 == 0:
            ctx.check_time()
        code = model.OperatorCodes(index)
        if code is None:
            continue
        _check(buf, code._tab.Pos, "operator code")
        builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
        if builtin != _CUSTOM:
            continue
        raw = code.CustomCode()
        name = (raw or b"").decode("utf-8", "replace")[:_MAX_NAME]
        yield from _custom(name, index, artifact)


def _custom(name: str, index: int, artifact: Artifact) -> Iterator[Finding]:
    where = artifact.location.at(detail=f"operator_code: {index}, custom op: {name or '<unnamed>'}")
    if name in _STANDARD_CUSTOM_OPS:
        return
    if name.startswith("Flex"):
        tf_op = name[4:]
        if tf_op in _FLEX_PYTHON or tf_op in _FLEX_FILES:
            kind = BehaviourKind.EXECUTES_CODE if tf_op in _FLEX_PYTHON else BehaviourKind.READS_FILE
            if tf_op.startswith(("Write", "Save", "Merge")):
                kind = BehaviourKind.WRITES_FILE
            yield rules.TFLITE_FLEX_FILE_OP.finding(
                where,
                f"custom op `{name}` runs the TensorFlow op {tf_op} through the Flex delegate",
                subject=name,
                evidence=f"custom_code={name!r}",
                behaviour=Behaviour(kind, f"runs TensorFlow op {tf_op} via the Flex delegate"),
            )
        return
    yield rules.TFLITE_CUSTOM_OP.finding(
        where,
        f"custom op `{name or '<unnamed>'}` needs a native implementation registered by the loader",
        subject=name or "<unnamed>",
        evidence=f"custom_code={name!r}",
        behaviour=Behaviour(BehaviourKind.LOADS_NATIVE, f"needs native custom op `{name or '<unnamed>'}`"),
    )


SCANNER = TFLiteScanner()
