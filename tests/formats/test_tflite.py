"""TFLite flatbuffers built with the flatbuffers Builder and the generated TFLite schema of the tflite package."""

from __future__ import annotations

import importlib
from pathlib import Path

import flatbuffers
import pytest
from scanhelp import of_rule, rule_ids, scan_one
from tflite.BuiltinOperator import BuiltinOperator

from modelsieve.model import BehaviourKind, Verdict

# tflite/__init__ rebinds each submodule name to its class; the builder functions live in the modules.
Buffer = importlib.import_module("tflite.Buffer")
Model = importlib.import_module("tflite.Model")
OperatorCode = importlib.import_module("tflite.OperatorCode")
SubGraph = importlib.import_module("tflite.SubGraph")


def _model(path: Path, ops: list[int | str]) -> Path:
    """A TFLite model whose operator code table holds builtins (ints) and custom ops (names)."""
    b = flatbuffers.Builder(1024)
    codes = []
    for op in ops:
        name = b.CreateString(op) if isinstance(op, str) else None
        builtin = BuiltinOperator.CUSTOM if isinstance(op, str) else op
        OperatorCode.Start(b)
        OperatorCode.AddDeprecatedBuiltinCode(b, min(builtin, 127))
        OperatorCode.AddBuiltinCode(b, builtin)
        if name is not None:
            OperatorCode.AddCustomCode(b, name)
        OperatorCode.AddVersion(b, 1)
        codes.append(OperatorCode.End(b))
    Model.StartOperatorCodesVector(b, len(codes))
    for c in reversed(codes):
        b.PrependUOffsetTRelative(c)
    codes_vec = b.EndVector()
    graph_name = b.CreateString("main")
    SubGraph.Start(b)
    SubGraph.AddName(b, graph_name)
    graph = SubGraph.End(b)
    Model.StartSubgraphsVector(b, 1)
    b.PrependUOffsetTRelative(graph)
    graphs = b.EndVector()
    Buffer.Start(b)
    empty = Buffer.End(b)
    Model.StartBuffersVector(b, 1)
    b.PrependUOffsetTRelative(empty)
    buffers = b.EndVector()
    desc = b.CreateString("modelsieve test model")
    Model.Start(b)
    Model.AddVersion(b, 3)
    Model.AddOperatorCodes(b, codes_vec)
    Model.AddSubgraphs(b, graphs)
    Model.AddBuffers(b, buffers)
    Model.AddDescription(b, desc)
    root = Model.End(b)
    b.Finish(root, file_identifier=b"TFL3")
    path.write_bytes(bytes(b.Output()))
    return path


def test_fixture_is_a_real_tflite_model(tmp_path: Path) -> None:
    data = _model(tmp_path / "m.tflite", [BuiltinOperator.ADD, "MyOp"]).read_bytes()
    model = Model.Model.GetRootAs(data, 0)
    assert data[4:8] == b"TFL3"
    assert model.OperatorCodesLength() == 2
    assert model.OperatorCodes(1).CustomCode() == b"MyOp"


def test_benign_model_is_clean(tmp_path: Path) -> None:
    path = _model(tmp_path / "benign.bin", [BuiltinOperator.ADD, BuiltinOperator.CONV_2D, BuiltinOperator.SOFTMAX])
    result = scan_one(path)
    assert result.formats == ("tflite",)
    assert result.findings == ()
    assert result.verdict is Verdict.CLEAN


def test_custom_op_needs_native_code(tmp_path: Path) -> None:
    result = scan_one(_model(tmp_path / "custom.tflite", [BuiltinOperator.ADD, "AcmeSecretOp"]))
    (f,) = of_rule(result, "TFL001")
    assert f.subject == "AcmeSecretOp"
    assert f.location.detail == "operator_code: 1, custom op: AcmeSecretOp"
    assert f.behaviour is not None and f.behaviour.kind is BehaviourKind.LOADS_NATIVE
    assert result.verdict is Verdict.SUSPICIOUS


def test_standard_custom_op_is_not_reported(tmp_path: Path) -> None:
    result = scan_one(_model(tmp_path / "ssd.tflite", [BuiltinOperator.CONV_2D, "TFLite_Detection_PostProcess"]))
    assert result.findings == ()


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("FlexWriteFile", BehaviourKind.WRITES_FILE),
        ("FlexReadFile", BehaviourKind.READS_FILE),
        ("FlexPyFunc", BehaviourKind.EXECUTES_CODE),
    ],
)
def test_flex_file_and_python_ops(tmp_path: Path, name: str, kind: BehaviourKind) -> None:
    result = scan_one(_model(tmp_path / "flex.tflite", [BuiltinOperator.ADD, name]))
    (f,) = of_rule(result, "TFL002")
    assert f.subject == name
    assert f.behaviour is not None and f.behaviour.kind is kind


def test_benign_flex_op_is_not_reported(tmp_path: Path) -> None:
    result = scan_one(_model(tmp_path / "flex.tflite", ["FlexRFFT"]))
    assert result.findings == ()


def test_corrupt_flatbuffer_is_inconclusive(tmp_path: Path) -> None:
    path = tmp_path / "bad.tflite"
    path.write_bytes(b"\xff\xff\xff\x7fTFL3" + b"\x01" * 64)
    result = scan_one(path)
    assert "GEN001" in rule_ids(result)
    assert result.verdict is Verdict.INCONCLUSIVE


def test_truncated_model_is_inconclusive(tmp_path: Path) -> None:
    data = _model(tmp_path / "m.tflite", [BuiltinOperator.ADD, "AcmeSecretOp"]).read_bytes()
    path = tmp_path / "cut.tflite"
    path.write_bytes(data[:40])
    result = scan_one(path)
    assert "GEN001" in rule_ids(result)
    assert result.verdict is not Verdict.CLEAN


def test_huge_operator_vector_is_inconclusive(tmp_path: Path) -> None:
    data = bytearray(_model(tmp_path / "m.tflite", [BuiltinOperator.ADD]).read_bytes())
    model = Model.Model.GetRootAs(bytes(data), 0)
    start = model._tab.Vector(model._tab.Offset(6))
    data[start - 4 : start] = (0x7FFFFFFF).to_bytes(4, "little")
    path = tmp_path / "huge.tflite"
    path.write_bytes(bytes(data))
    result = scan_one(path)
    assert rule_ids(result) & {"GEN001", "GEN002"}
    assert result.verdict is Verdict.INCONCLUSIVE


def test_mutated_flatbuffers_never_crash_the_analyser(tmp_path: Path) -> None:
    import random

    rng = random.Random(5)
    data = _model(tmp_path / "m.tflite", [BuiltinOperator.ADD, "AcmeSecretOp", "FlexWriteFile"]).read_bytes()
    for i in range(80):
        mutated = bytearray(data)
        if i % 2:
            mutated = mutated[: rng.randrange(8, len(mutated))]
        else:
            for _ in range(rng.randint(1, 16)):
                mutated[rng.randrange(8, len(mutated))] = rng.randrange(256)
        path = tmp_path / f"m{i}.tflite"
        path.write_bytes(bytes(mutated))
        result = scan_one(path)
        assert "GEN006" not in rule_ids(result), [f.message for f in result.findings]
