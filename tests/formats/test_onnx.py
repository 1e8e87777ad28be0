"""ONNX models built with onnx.helper: external data traversal (CVE-2022-25882, CVE-2024-27318), custom ops."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from scanhelp import fuzz_never_crashes, of_rule, rule_ids, scan_one

from modelsieve.model import BehaviourKind, Verdict


def _graph(nodes: list, initializers: list | None = None, name: str = "g") -> onnx.GraphProto:
    return helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        initializer=initializers or [],
    )


def _model(graph: onnx.GraphProto, domains: tuple[str, ...] = ()) -> onnx.ModelProto:
    opsets = [helper.make_opsetid("", 17), *(helper.make_opsetid(d, 1) for d in domains)]
    return helper.make_model(graph, opset_imports=opsets, producer_name="modelsieve-tests")


def _add_relu(tensor_name: str = "w1") -> onnx.ModelProto:
    w = numpy_helper.from_array(np.arange(4, dtype=np.float32), tensor_name)
    nodes = [helper.make_node("Add", ["x", tensor_name], ["s"], name="add"), helper.make_node("Relu", ["s"], ["y"])]
    return _model(_graph(nodes, [w]))


def _external(tmp_path: Path, location: str) -> Path:
    model = _add_relu()
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "16")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    path = tmp_path / "model.onnx"
    onnx.save_model(model, str(path))
    return path


def test_benign_add_relu_is_clean(tmp_path: Path) -> None:
    path = tmp_path / "add.onnx"
    onnx.save_model(_add_relu(), str(path))
    onnx.checker.check_model(str(path))
    result = scan_one(path)
    assert result.formats == ("onnx",)
    assert result.verdict is Verdict.CLEAN, result.findings


def test_external_data_in_subfolder_is_clean(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    path = tmp_path / "ext.onnx"
    onnx.save_model(
        _add_relu(),
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="data/weights.bin",
        size_threshold=0,
    )
    assert (tmp_path / "data" / "weights.bin").exists()
    result = scan_one(path)
    assert result.verdict is Verdict.CLEAN, result.findings
    # The weights file itself is not a model; it must not be called malicious either.
    assert scan_one(tmp_path / "data" / "weights.bin").verdict < Verdict.SUSPICIOUS


def test_folder_with_external_data_is_clean_and_labels_the_data_file(tmp_path: Path) -> None:
    import modelsieve
    from modelsieve.cli import exit_code

    (tmp_path / "data").mkdir()
    model = tmp_path / "ext.onnx"
    onnx.save_model(_add_relu(), str(model), save_as_external_data=True, location="data/weights.bin", size_threshold=0)
    stray = tmp_path / "stray.bin"
    stray.write_bytes(np.random.default_rng(0).standard_normal(64).astype(np.float32).tobytes())
    report = modelsieve.scan(tmp_path)
    by_name = {Path(r.path).name: r for r in report.results}
    assert of_rule(by_name["ext.onnx"], "ONX005")[0].subject == "data/weights.bin"
    data = by_name["weights.bin"]
    assert data.formats == ("onnx-external-data",) and data.verdict is Verdict.CLEAN
    assert "ext.onnx" in data.findings[0].message
    # Bytes no model names stay "not analysed": only the model's own data is vouched for.
    assert by_name["stray.bin"].verdict is Verdict.NOT_ANALYSED
    stray.unlink()
    report = modelsieve.scan(tmp_path)
    assert report.summary.verdict is Verdict.CLEAN
    assert exit_code(report) == 0


def test_cve_2022_25882_traversal_is_onx001(tmp_path: Path) -> None:
    path = _external(tmp_path, "../../etc/passwd")
    result = scan_one(path)
    (finding,) = of_rule(result, "ONX001")
    assert finding.location.detail == "tensor: w1"
    assert finding.subject == "../../etc/passwd"
    assert finding.behaviour is not None and finding.behaviour.kind is BehaviourKind.READS_FILE
    assert result.verdict is Verdict.MALICIOUS
    # The current onnx library refuses it too: confirmation that this is the attack it was fixed for.
    proc = subprocess.run(
        [sys.executable, "-c", f"import onnx; onnx.load({str(path)!r})"], capture_output=True, timeout=120
    )
    assert proc.returncode != 0
    assert b"points outside the directory" in proc.stderr


@pytest.mark.parametrize("location", ["/etc/passwd", "C:\\Windows\\win.ini", "\\\\server\\share\\w.bin", "~/.ssh/id"])
def test_cve_2024_27318_absolute_is_onx002(tmp_path: Path, location: str) -> None:
    result = scan_one(_external(tmp_path, location))
    (finding,) = of_rule(result, "ONX002")
    assert finding.location.detail == "tensor: w1"
    assert finding.subject == location
    assert result.verdict is Verdict.SUSPICIOUS


def test_external_data_symlink_out_of_folder_is_onx001(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"\x00" * 16)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "weights.bin").symlink_to(outside / "secret.txt")
    path = _external(model_dir, "weights.bin")
    (finding,) = of_rule(scan_one(path), "ONX001")
    assert "symbolic link" in finding.message
    assert finding.location.detail == "tensor: w1"


def test_inner_dotdot_that_stays_inside_is_clean(tmp_path: Path) -> None:
    assert scan_one(_external(tmp_path, "data/../weights.bin")).verdict is Verdict.CLEAN


def test_custom_domain_op_is_onx003_and_not_malicious(tmp_path: Path) -> None:
    node = helper.make_node("FancyOp", ["x"], ["y"], name="fancy", domain="com.example.ops")
    path = tmp_path / "custom.onnx"
    onnx.save_model(_model(_graph([node]), ("com.example.ops",)), str(path))
    result = scan_one(path)
    (finding,) = of_rule(result, "ONX003")
    assert finding.subject == "com.example.ops::FancyOp"
    assert finding.location.detail == "node: fancy"
    assert result.verdict is Verdict.CLEAN


def test_python_op_is_onx004(tmp_path: Path) -> None:
    node = helper.make_node(
        "PythonOp", ["x"], ["y"], name="pyop", domain="com.microsoft", func_name="evil_module.EvilFunction"
    )
    path = tmp_path / "pyop.onnx"
    onnx.save_model(_model(_graph([node]), ("com.microsoft",)), str(path))
    result = scan_one(path)
    (finding,) = of_rule(result, "ONX004")
    assert "evil_module.EvilFunction" in finding.message
    assert result.verdict is Verdict.SUSPICIOUS


def test_custom_op_and_external_data_inside_if_subgraph(tmp_path: Path) -> None:
    """Nested bodies (If branches) are walked: their nodes and constant tensors count."""
    const = helper.make_tensor("hidden", TensorProto.FLOAT, [4], [0.0] * 4)
    const.ClearField("float_data")
    const.data_location = TensorProto.EXTERNAL
    entry = const.external_data.add()
    entry.key, entry.value = "location", "../../../../home/user/.aws/credentials"
    then_g = helper.make_graph(
        [helper.make_node("Constant", [], ["y"], value=const, name="c")],
        "then",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    else_g = helper.make_graph(
        [helper.make_node("Secret", ["x"], ["y"], domain="evil.ops", name="secret")],
        "else",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    cond = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    graph = helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g, name="branch")],
        "main",
        [cond, helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    path = tmp_path / "nested.onnx"
    onnx.save_model(_model(graph, ("evil.ops",)), str(path))
    result = scan_one(path)
    assert of_rule(result, "ONX001")[0].location.detail == "tensor: hidden"
    assert of_rule(result, "ONX003")[0].subject == "evil.ops::Secret"
    assert "branch" in of_rule(result, "ONX003")[0].evidence


def test_metadata_url_is_surfaced(tmp_path: Path) -> None:
    model = _add_relu()
    helper.set_model_props(model, {"source": "fetch https://pastebin.com/raw/xyz"})
    path = tmp_path / "meta.onnx"
    onnx.save_model(model, str(path))
    result = scan_one(path)
    (finding,) = of_rule(result, "IND002")
    assert finding.location.detail == "metadata: source"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, wire: int, payload: bytes) -> bytes:
    return _varint(num << 3 | wire) + (_varint(len(payload)) + payload if wire == 2 else payload)


def test_model_over_protobuf_2gb_limit_is_parsed_without_reading_weights(tmp_path: Path) -> None:
    """A >2 GB model (sparse file): tensor bytes are skipped, the structure is still checked."""
    n = 2**31 + 64
    tensor_head = _field(1, 0, _varint(n // 4)) + _field(2, 0, _varint(1)) + _field(8, 2, b"big")
    raw_header = _varint(9 << 3 | 2) + _varint(n)
    tensor_len = len(tensor_head) + len(raw_header) + n
    node = _field(1, 2, b"x") + _field(2, 2, b"y") + _field(4, 2, b"Relu")
    graph_head = _field(1, 2, node) + _field(2, 2, b"g")
    init_header = _varint(5 << 3 | 2) + _varint(tensor_len)
    graph_len = len(graph_head) + len(init_header) + tensor_len
    opset = _field(8, 2, _field(2, 0, _varint(17)))
    model_head = _field(1, 0, _varint(8)) + _field(2, 2, b"tests") + opset + _varint(7 << 3 | 2) + _varint(graph_len)
    path = tmp_path / "huge.onnx"
    with open(path, "wb") as f:
        f.write(model_head + graph_head + init_header + tensor_head + raw_header)
        f.truncate(len(model_head) + graph_len)
    result = scan_one(path)
    assert result.formats == ("onnx",)
    assert result.verdict is Verdict.CLEAN, result.findings


def test_truncated_model_is_gen001(tmp_path: Path) -> None:
    path = tmp_path / "add.onnx"
    onnx.save_model(_add_relu(), str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 20])
    result = scan_one(path)
    assert "GEN001" in rule_ids(result)
    assert result.verdict is Verdict.INCONCLUSIVE


def test_hostile_length_is_gen001_not_allocation(tmp_path: Path) -> None:
    path = tmp_path / "hostile.onnx"
    path.write_bytes(_field(1, 0, _varint(8)) + _field(2, 2, b"x") + _varint(7 << 3 | 2) + _varint(2**60) + b"\x0a")
    assert rule_ids(scan_one(path)) == {"GEN001"}


def test_node_count_limit_is_gen002(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from modelsieve.formats import onnx as onnx_format

    monkeypatch.setattr(onnx_format, "_MAX_NODES", 10)
    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"]) for i in range(20)]
    graph = helper.make_graph(
        nodes,
        "deep",
        [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("t20", TensorProto.FLOAT, [4])],
    )
    path = tmp_path / "many.onnx"
    onnx.save_model(_model(graph), str(path))
    (finding,) = of_rule(scan_one(path), "GEN002")
    assert finding.subject == "onnx-nodes"


def test_sniff_is_specific() -> None:
    from modelsieve.formats.onnx import SCANNER
    from modelsieve.source import bytes_artifact

    saved_model_like = b"\x08\x01\x12\x80\x01" + b"\x0a\x05hello" * 4
    assert not SCANNER.sniff(saved_model_like, bytes_artifact(saved_model_like, None))  # type: ignore[arg-type]
    assert not SCANNER.sniff(struct.pack("<Q", 8) + b"{}", bytes_artifact(b"", None))  # type: ignore[arg-type]


def test_function_bodies_are_walked(tmp_path: Path) -> None:
    """Model-local functions: their nodes, nested Loop bodies and constant tensors are checked too."""
    secret = helper.make_tensor("from_function", TensorProto.FLOAT, [1], [0.0])
    secret.ClearField("float_data")
    secret.data_location = TensorProto.EXTERNAL
    entry = secret.external_data.add()
    entry.key, entry.value = "location", "/etc/shadow"
    body = helper.make_graph(
        [helper.make_node("Hidden", ["v"], ["v_out"], domain="evil.loop", name="hidden")],
        "body",
        [helper.make_tensor_value_info("v", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1])],
    )
    function = helper.make_function(
        "local.fn",
        "Fn",
        ["x"],
        ["y"],
        [
            helper.make_node("Constant", [], ["c"], value=secret, name="const"),
            helper.make_node("Loop", ["n", "cond", "x"], ["y"], body=body, name="loop"),
        ],
        [helper.make_opsetid("", 17)],
    )
    graph = _graph([helper.make_node("Fn", ["x"], ["y"], domain="local.fn", name="call")])
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local.fn", 1)],
        functions=[function],
    )
    path = tmp_path / "fn.onnx"
    onnx.save_model(model, str(path))
    result = scan_one(path)
    assert of_rule(result, "ONX002")[0].location.detail == "tensor: from_function"
    (custom,) = of_rule(result, "ONX003")  # the call to the local function itself is not a custom op
    assert custom.subject == "evil.loop::Hidden"


def test_mutated_models_never_crash() -> None:
    fuzz_never_crashes(_add_relu().SerializeToString())
