"""TensorFlow protobufs built with the real protobuf library and tensorboard's compiled TensorFlow protos."""

from __future__ import annotations

import base64
import json
import marshal
from pathlib import Path

import pytest
from scanhelp import of_rule, rule_ids, scan_one
from tensorboard.compat.proto import (
    attr_value_pb2,
    function_pb2,
    graph_pb2,
    meta_graph_pb2,
    node_def_pb2,
    saver_pb2,
)

from modelsieve.model import BehaviourKind, Verdict


def _messages():  # type: ignore[no-untyped-def]
    """SavedModel and SavedMetadata message classes, declared from their published .proto definitions."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    pool = descriptor_pool.Default()
    try:
        pool.FindMessageTypeByName("modelsieve_test.SavedModel")
    except KeyError:
        fdp = descriptor_pb2.FileDescriptorProto(
            name="modelsieve_test/saved_model.proto",
            package="modelsieve_test",
            dependency=[meta_graph_pb2.DESCRIPTOR.name],
        )
        sm = fdp.message_type.add(name="SavedModel")
        sm.field.add(name="saved_model_schema_version", number=1, type=3, label=1)
        sm.field.add(name="meta_graphs", number=2, type=11, label=3, type_name=".tensorboard.MetaGraphDef")
        smd = fdp.message_type.add(name="SavedMetadata")
        smd.field.add(name="nodes", number=1, type=11, label=3, type_name=".modelsieve_test.SavedObject")
        so = fdp.message_type.add(name="SavedObject")
        so.field.add(name="node_id", number=2, type=5, label=1)
        so.field.add(name="node_path", number=3, type=9, label=1)
        so.field.add(name="identifier", number=4, type=9, label=1)
        so.field.add(name="metadata", number=5, type=9, label=1)
        pool.Add(fdp)
    get = message_factory.GetMessageClass
    return (
        get(pool.FindMessageTypeByName("modelsieve_test.SavedModel")),
        get(pool.FindMessageTypeByName("modelsieve_test.SavedMetadata")),
    )


def _node(name: str, op: str, *inputs: str, **attrs: bytes) -> node_def_pb2.NodeDef:
    node = node_def_pb2.NodeDef(name=name, op=op, input=list(inputs))
    for key, value in attrs.items():
        node.attr[key].CopyFrom(attr_value_pb2.AttrValue(s=value))
    return node


def _benign_nodes() -> list[node_def_pb2.NodeDef]:
    return [
        _node("input", "Placeholder"),
        _node("weights", "Const"),
        _node("bias", "Const"),
        _node("MatMul", "MatMul", "input", "weights"),
        _node("Add", "Add", "MatMul", "bias"),
        _node("Relu", "Relu", "Add"),
    ]


def _graph(path: Path, extra: list[node_def_pb2.NodeDef], functions: list[function_pb2.FunctionDef] = ()) -> Path:  # type: ignore[assignment]
    graph = graph_pb2.GraphDef(node=[*_benign_nodes(), *extra])
    graph.versions.producer = 1882
    for fn in functions:
        graph.library.function.add().CopyFrom(fn)
    path.write_bytes(graph.SerializeToString())
    return path


def _function(name: str, nodes: list[node_def_pb2.NodeDef]) -> function_pb2.FunctionDef:
    fn = function_pb2.FunctionDef(node_def=nodes)
    fn.signature.name = name
    return fn


def test_benign_graph_is_clean(tmp_path: Path) -> None:
    result = scan_one(_graph(tmp_path / "frozen.pb", []))
    assert result.formats == ("tensorflow-graphdef",)
    assert result.findings == ()
    assert result.verdict is Verdict.CLEAN


@pytest.mark.parametrize(
    ("op", "rule", "verdict"),
    [
        ("ReadFile", "TF003", Verdict.SUSPICIOUS),
        ("MatchingFiles", "TF003", Verdict.SUSPICIOUS),
        ("WriteFile", "TF002", Verdict.MALICIOUS),
        ("PyFunc", "TF001", Verdict.SUSPICIOUS),
        ("PyFuncStateless", "TF001", Verdict.SUSPICIOUS),
        ("EagerPyFunc", "TF001", Verdict.SUSPICIOUS),
        ("SaveV2", "TF004", Verdict.SUSPICIOUS),
        ("Save", "TF004", Verdict.SUSPICIOUS),
        ("RestoreV2", "TF004", Verdict.SUSPICIOUS),
        ("Restore", "TF004", Verdict.SUSPICIOUS),
    ],
)
def test_dangerous_op_in_graph(tmp_path: Path, op: str, rule: str, verdict: Verdict) -> None:
    name = f"{op}_3"
    result = scan_one(_graph(tmp_path / "g.pb", [_node("path", "Const"), _node(name, op, "path")]))
    (f,) = of_rule(result, rule)
    assert f.subject == op
    assert f.location.detail == f"node: {name}"
    assert result.verdict is verdict


def test_pyfunc_reports_token(tmp_path: Path) -> None:
    result = scan_one(_graph(tmp_path / "g.pb", [_node("PyFunc_1", "PyFunc", token=b"pyfunc_7")]))
    (f,) = of_rule(result, "TF001")
    assert "pyfunc_7" in f.message
    assert f.behaviour is not None and f.behaviour.kind is BehaviourKind.EXECUTES_CODE


def test_print_to_file_writes(tmp_path: Path) -> None:
    node = _node("PrintV2_1", "PrintV2", "Relu", output_stream=b"file:///tmp/leak.txt")
    result = scan_one(_graph(tmp_path / "g.pb", [node]))
    (f,) = of_rule(result, "TF002")
    assert f.subject == "PrintV2"
    assert "/tmp/leak.txt" in f.message


def test_print_to_stderr_is_info_only(tmp_path: Path) -> None:
    result = scan_one(_graph(tmp_path / "g.pb", [_node("PrintV2_1", "PrintV2", output_stream=b"stderr")]))
    assert rule_ids(result) == {"TF005"}
    assert result.verdict is Verdict.CLEAN


def test_dangerous_op_inside_function_library(tmp_path: Path) -> None:
    fn = _function("__inference_serve_12", [_node("WriteFile_1", "WriteFile"), _node("x", "Identity")])
    result = scan_one(_graph(tmp_path / "g.pb", [], [fn]))
    (f,) = of_rule(result, "TF002")
    assert f.location.detail == "function: __inference_serve_12, node: WriteFile_1"


def _saved_model(path: Path, meta: meta_graph_pb2.MetaGraphDef) -> Path:
    saved_model_cls, _ = _messages()
    sm = saved_model_cls(saved_model_schema_version=1)
    sm.meta_graphs.add().CopyFrom(meta)
    path.write_bytes(sm.SerializeToString())
    return path


def _meta(extra: list[node_def_pb2.NodeDef], functions: list[function_pb2.FunctionDef]) -> meta_graph_pb2.MetaGraphDef:
    meta = meta_graph_pb2.MetaGraphDef()
    meta.meta_info_def.tags.append("serve")
    meta.meta_info_def.tensorflow_version = "2.16.1"
    saver_nodes = [
        _node("save/Const", "Const"),
        _node("save/SaveV2", "SaveV2", "save/Const"),
        _node("save/RestoreV2", "RestoreV2", "save/Const"),
    ]
    meta.graph_def.node.extend([*_benign_nodes(), *saver_nodes, *extra])
    for fn in functions:
        meta.graph_def.library.function.add().CopyFrom(fn)
    meta.saver_def.CopyFrom(
        saver_pb2.SaverDef(
            filename_tensor_name="save/Const:0", save_tensor_name="save/Identity:0", restore_op_name="save/restore_all"
        )
    )
    return meta


def _checkpoint_functions() -> list[function_pb2.FunctionDef]:
    return [
        _function(
            "__inference__traced_save_88",
            [_node("SaveV2", "SaveV2"), _node("MergeV2Checkpoints", "MergeV2Checkpoints")],
        ),
        _function("__inference__traced_restore_120", [_node("RestoreV2", "RestoreV2")]),
    ]


def test_benign_saved_model_with_saver_is_clean(tmp_path: Path) -> None:
    result = scan_one(_saved_model(tmp_path / "saved_model.pb", _meta([], _checkpoint_functions())))
    assert result.formats == ("tensorflow-saved-model",)
    assert result.findings == ()
    assert result.verdict is Verdict.CLEAN


def test_saved_model_with_read_file_in_serving_function(tmp_path: Path) -> None:
    serve = _function(
        "__inference_signature_wrapper_55",
        [
            _node("Const_1", "Const"),
            _node("ReadFile_3", "ReadFile", "Const_1"),
            _node("MatchingFiles", "MatchingFiles"),
        ],
    )
    result = scan_one(_saved_model(tmp_path / "saved_model.pb", _meta([], [*_checkpoint_functions(), serve])))
    details = {f.location.detail for f in of_rule(result, "TF003")}
    assert details == {
        "function: __inference_signature_wrapper_55, node: ReadFile_3",
        "function: __inference_signature_wrapper_55, node: MatchingFiles",
    }
    assert "TF004" not in rule_ids(result)


def test_saved_model_graph_write_file(tmp_path: Path) -> None:
    meta = _meta([_node("WriteFile", "WriteFile", "Relu")], [])
    result = scan_one(_saved_model(tmp_path / "saved_model.pb", meta))
    (f,) = of_rule(result, "TF002")
    assert f.location.detail == "node: WriteFile"
    assert result.verdict is Verdict.MALICIOUS


def test_keras_metadata_lambda(tmp_path: Path) -> None:
    _, metadata_cls = _messages()
    code = compile("lambda x: __import__('os').system('id') or x", "<l>", "eval").co_consts[0]
    lambda_meta = {
        "class_name": "Lambda",
        "name": "lambda_4",
        "config": {
            "name": "lambda_4",
            "trainable": True,
            "function": [base64.b64encode(marshal.dumps(code)).decode(), None, None],
            "function_type": "lambda",
        },
    }
    md = metadata_cls()
    md.nodes.add(node_id=0, node_path="root", identifier="_tf_keras_sequential", metadata=json.dumps({"name": "seq"}))
    md.nodes.add(node_id=1, node_path="root.layer-0", identifier="_tf_keras_layer", metadata=json.dumps(lambda_meta))
    path = tmp_path / "keras_metadata.pb"
    path.write_bytes(md.SerializeToString())
    result = scan_one(path)
    assert result.formats == ("tensorflow-keras-metadata",)
    (f,) = of_rule(result, "KER001")
    assert f.subject == "os.system"
    assert f.location.detail == "layer: lambda_4"


def test_truncated_graph_is_inconclusive(tmp_path: Path) -> None:
    data = _graph(tmp_path / "g.pb", [_node("ReadFile_3", "ReadFile")]).read_bytes()
    path = tmp_path / "cut.pb"
    path.write_bytes(data[: len(data) - 7])
    result = scan_one(path)
    assert "GEN001" in rule_ids(result)
    assert result.verdict is not Verdict.CLEAN


def test_corrupt_node_is_inconclusive(tmp_path: Path) -> None:
    good = _graph(tmp_path / "g.pb", []).read_bytes()
    # A valid first node, then a node field whose body is garbage protobuf.
    body = b"\xff\xff\xff\xff\x0f\x00"
    path = tmp_path / "bad.pb"
    path.write_bytes(good + b"\x0a" + bytes([len(body)]) + body)
    result = scan_one(path)
    (f,) = of_rule(result, "GEN001")
    assert f.location.offset == len(good) + 2
    assert result.verdict is Verdict.INCONCLUSIVE


def test_truncated_saved_model_is_inconclusive(tmp_path: Path) -> None:
    data = _saved_model(tmp_path / "s.pb", _meta([], [])).read_bytes()
    path = tmp_path / "saved_model.pb"
    path.write_bytes(data[:300])
    result = scan_one(path)
    assert result.formats == ("tensorflow-saved-model",)
    assert "GEN001" in rule_ids(result)


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_are_not_claimed(tmp_path: Path, seed: int) -> None:
    import random

    rng = random.Random(seed)
    path = tmp_path / "model.pb"
    path.write_bytes(bytes([0x0A]) + rng.randbytes(4000))
    result = scan_one(path)
    assert not any(f.startswith("tensorflow") for f in result.formats)


def test_text_starting_with_newline_is_not_a_graph(tmp_path: Path) -> None:
    path = tmp_path / "notes.pb"
    path.write_bytes(b"\n\n\nHello: this is text, not a graph\n" * 20)
    result = scan_one(path)
    assert not any(f.startswith("tensorflow") for f in result.formats)


def test_scanning_never_imports_the_frameworks(tmp_path: Path) -> None:
    """Scanning TF, TFLite and HDF5 content imports neither TensorFlow nor Keras (h5py only in its child)."""
    import subprocess
    import sys

    import h5py

    graph = _graph(tmp_path / "g.pb", [_node("ReadFile_3", "ReadFile")])
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"layers": []}})
    code = (
        "import sys; from modelsieve.api import scan; from modelsieve.options import ScanOptions; "
        "r = scan(sys.argv[1:], ScanOptions(jobs=1)); "
        "print(sorted(m for m in ('tensorflow', 'keras', 'h5py', 'torch') if m in sys.modules)); "
        "print(sorted(f for x in r.results for f in x.formats))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(graph), str(tmp_path / "m.h5")], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "[]"
    assert "tensorflow-graphdef" in out[1] and "keras-h5" in out[1]


def _mutations(data: bytes, seed: int, count: int) -> list[bytes]:
    import random

    rng = random.Random(seed)
    out = []
    for i in range(count):
        mutated = bytearray(data)
        if i % 2:
            mutated = mutated[: rng.randrange(len(mutated))]
        else:
            for _ in range(rng.randint(1, 16)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        out.append(bytes(mutated))
    return out


def test_mutated_protobufs_never_crash_the_analyser(tmp_path: Path) -> None:
    graph = _graph(tmp_path / "g.pb", [_node("ReadFile_3", "ReadFile")], [_function("f", [_node("w", "WriteFile")])])
    saved = _saved_model(tmp_path / "saved_model.pb", _meta([], _checkpoint_functions()))
    for source in (graph, saved):
        for i, data in enumerate(_mutations(source.read_bytes(), 3, 60)):
            path = tmp_path / f"m{i}.pb"
            path.write_bytes(data)
            result = scan_one(path)
            assert "GEN006" not in rule_ids(result), [f.message for f in result.findings]
