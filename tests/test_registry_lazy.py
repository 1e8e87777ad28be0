"""The lazy registry: import-free pre-checks never change which scanner claims a file.

The eager answer calls every real sniff in registry order; the lazy registry must pick the
same scanner for real files of every family, their truncations, and random bytes.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import random
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from fixtures.pickle_exploits import EXPLOITS
from modelsieve.formats.registry import scanners
from modelsieve.model import Location
from modelsieve.source import HEAD_SIZE, Artifact, bytes_artifact


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _tar(members: dict[str, bytes], fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _v7_tar(data: bytes) -> bytes:
    """A pre-POSIX tar header: no ustar magic, only the checksum."""
    header = bytearray(512)
    header[:8] = b"data.pkl"
    header[124:136] = b"%011o\x00" % len(data)
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\x00 " % sum(header)
    return bytes(header) + data + bytes(-len(data) % 512) + bytes(1024)


def _real_files(tmp: Path) -> dict[str, bytes]:
    import joblib
    import torch

    files: dict[str, bytes] = {}
    torch.save({"w": torch.zeros(10)}, tmp / "a.pt")
    files["torch-zip"] = (tmp / "a.pt").read_bytes()
    torch.save({"w": torch.zeros(10)}, tmp / "legacy.pt", _use_new_zipfile_serialization=False)
    files["torch-legacy"] = (tmp / "legacy.pt").read_bytes()
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(tmp / "script.pt"))
    files["torchscript"] = (tmp / "script.pt").read_bytes()
    np.save(tmp / "a.npy", np.arange(10))
    files["npy"] = (tmp / "a.npy").read_bytes()
    np.savez(tmp / "a.npz", a=np.arange(3), b=np.ones(2))
    files["npz"] = (tmp / "a.npz").read_bytes()
    joblib.dump({"a": np.arange(100)}, tmp / "a.joblib")
    files["joblib"] = (tmp / "a.joblib").read_bytes()
    joblib.dump({"a": np.arange(100)}, tmp / "z.joblib", compress=3)
    files["joblib-zlib"] = (tmp / "z.joblib").read_bytes()
    try:
        import h5py

        with h5py.File(tmp / "a.h5", "w") as f:
            f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"layers": []}})
            f.create_dataset("w", data=np.zeros(4))
        files["hdf5"] = (tmp / "a.h5").read_bytes()
        for block in (512, 8192):
            with h5py.File(tmp / f"ub{block}.h5", "w", userblock_size=block) as f:
                f.create_dataset("w", data=np.zeros(4))
            files[f"hdf5-userblock-{block}"] = (tmp / f"ub{block}.h5").read_bytes()
    except ImportError:
        pass
    try:
        import gguf

        w = gguf.GGUFWriter(str(tmp / "a.gguf"), "llama")
        w.add_tensor("t", np.zeros(4, dtype=np.float32))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        files["gguf"] = (tmp / "a.gguf").read_bytes()
    except ImportError:
        pass
    try:
        import onnx
        from onnx import TensorProto, helper

        node = helper.make_node("Relu", ["x"], ["y"])
        graph = helper.make_graph(
            [node],
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        )
        files["onnx"] = helper.make_model(graph, producer_name="test").SerializeToString()
        del onnx
    except ImportError:
        pass
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    files["safetensors"] = struct.pack("<Q", len(header)) + header + bytes(8)
    return files


def _crafted() -> dict[str, bytes]:
    pkl = EXPLOITS[0].build("/tmp/never")
    files = {
        "keras-v3": _zip({"config.json": b'{"class_name": "Sequential"}', "metadata.json": b"{}"}),
        "zip": _zip({"a.txt": b"hello"}, zipfile.ZIP_DEFLATED),
        "zip-empty": _zip({}),
        "mar": _zip({"MAR-INF/MANIFEST.json": b'{"model": {"handler": "h.py"}}', "h.py": b"x = 1\n"}),
        "llamafile": b"MZqFpD='\n" + bytes(100) + _zip({"w.gguf": b"GGUF" + bytes(20)}),
        "prepended-zip": b"junk" * 10 + _zip({"a.txt": b"hello"}),
        "tar-ustar": _tar({"data.pkl": pkl}, tarfile.USTAR_FORMAT),
        "tar-gnu": _tar({"data.pkl": pkl}, tarfile.GNU_FORMAT),
        "tar-v7": _v7_tar(pkl),
        "gzip": gzip.compress(pkl),
        "bz2": bz2.compress(pkl),
        "xz": lzma.compress(pkl),
        "lzma-alone": lzma.compress(pkl, format=lzma.FORMAT_ALONE),
        "lzma-alone-4k": lzma.compress(pkl, lzma.FORMAT_ALONE, filters=[{"id": lzma.FILTER_LZMA1, "dict_size": 4096}]),
        "lzma-alone-12k": lzma.compress(
            pkl, lzma.FORMAT_ALONE, filters=[{"id": lzma.FILTER_LZMA1, "dict_size": 12288}]
        ),
        "zlib": zlib.compress(pkl),
        "lz4-magic": b"\x04\x22\x4d\x18" + bytes(20),
        "zstd-magic": b"\x28\xb5\x2f\xfd" + bytes(20),
        "7z-magic": b"7z\xbc\xaf\x27\x1c" + bytes(40),
        "tflite": b"\x1c\x00\x00\x00TFL3" + bytes(64),
        "catboost": b"CBM1" + bytes(32),
        "xgb-binary": b"binf" + bytes(32),
        "xgb-ubjson": b"{L\x00\x00\x00\x00\x00\x00\x00\x07learner" + bytes(10),
        "xgb-json": b'\xef\xbb\xbf \n{"learner": {}}',
        "lightgbm": b"tree\nversion=v3\n",
        "openvino": b'<?xml version="1.0"?>\n<!-- x -->\n<net name="m" version="11"></net>',
        "coreml-manifest": b'{"itemInfoEntries": {}, "rootModelIdentifier": "x"}',
        "coreml": b"\x08\x04\x12\x02\x0a\x00" + b"\xc2\x0c\x00",
        "paddle": b"\x0a\x20\x08\x00\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01" + bytes(20),
        "saved-model": b"\x08\x01\x12\x10\x0a\x0e" + bytes(14),
        "graphdef": b"\x0a\x10\x0a\x01x\x12\x0bPlaceholder" + bytes(4),
        "keras-metadata": b"\x0a\x10\x10\x01_tf_keras_model" + bytes(4),
        "png": b"\x89PNG\r\n\x1a\n" + bytes(40),
        "jpeg": b"\xff\xd8\xff\xe0" + bytes(40),
        "riff": b"RIFF\x00\x00\x00\x00WAVE" + bytes(20),
        "mp4": b"\x00\x00\x00\x18ftypisom" + bytes(20),
        "bmp": b"BM" + struct.pack("<I", 1000) + bytes(40),
        "pdf": b"%PDF-1.4\n",
        "text": b"# README\nThis model is fine.\n" * 20,
        "text-utf8-cut": ("é" * 3000).encode()[:HEAD_SIZE],
        "json": b'{"architectures": ["LlamaForCausalLM"]}',
        "python": b"import os\nos.system('touch /tmp/x')\n",
    }
    for exploit in EXPLOITS:
        try:
            files[f"exploit-{exploit.name}"] = exploit.build("/tmp/never")
        except Exception:  # a builder needing an optional package: the rest still cover the family
            continue
    return files


def _random(count: int) -> dict[str, bytes]:
    rng = random.Random(1234)
    leads = [b"", b"\x08", b"\x0a", b"\x80\x02", b"(", b"PK\x03\x04", b"{", b"<", b"\xef\xbb\xbf", b"\x1f\x8b\x08"]
    out: dict[str, bytes] = {}
    for i in range(count):
        size = rng.choice([1, 3, 9, 15, 40, 600, 5000])
        out[f"random-{i}"] = rng.choice(leads) + rng.randbytes(size)
    return out


@cache
def _corpus() -> tuple[tuple[str, bytes], ...]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        files = {**_real_files(Path(tmp)), **_crafted()}
    variants: dict[str, bytes] = {}
    for name, data in files.items():
        variants[name] = data
        for cut in (2, 10, 30, 600):
            if cut < len(data):
                variants[f"{name}[:{cut}]"] = data[:cut]
    variants.update(_random(400))
    return tuple(variants.items())


def _artifact(data: bytes, name: str) -> Artifact:
    return bytes_artifact(data, Location(name), name=name)


def _eager(data: bytes, name: str) -> str | None:
    for entry in scanners():
        art = _artifact(data, name)
        try:
            if entry.load().sniff(art.head(), art):
                return entry.name
        except Exception:
            continue
    return None


def _lazy(data: bytes, name: str) -> str | None:
    for entry in scanners():
        art = _artifact(data, name)
        try:
            if entry.sniff(art.head(), art):
                return entry.name
        except Exception:
            continue
    return None


def test_lazy_registry_picks_the_same_scanner_as_the_eager_order() -> None:
    mismatches = [(name, _eager(data, name), _lazy(data, name)) for name, data in _corpus()]
    assert [m for m in mismatches if m[1] != m[2]] == []


def test_corpus_covers_every_scanner_but_archives_that_need_real_tools() -> None:
    claimed = {_eager(data, name) for name, data in _corpus()}
    assert {e.name for e in scanners()} - claimed <= {"7z"}


def test_pre_checks_reject_what_real_sniffs_reject_for_common_files() -> None:
    """The saving is real: a torch zip reaches only the zip pre-checks, text only the text-ish ones."""
    corpus = dict(_corpus())
    art = _artifact(corpus["torch-zip"], "a.pt")
    maybe = [e.name for e in scanners() if e.maybe(art.head(), art)]
    assert maybe == ["keras-v3", "pytorch", "zip-model", "zip", "pickle"]  # "P" is also a pickle opcode
    art = _artifact(corpus["text"], "README.md")
    assert [e.name for e in scanners() if e.maybe(art.head(), art)] == ["text"]
    art = _artifact(corpus["npy"], "a.npy")
    assert [e.name for e in scanners() if e.maybe(art.head(), art)] == ["numpy", "pickle"]  # 0x93 is an opcode


def test_entry_names_match_the_real_scanners() -> None:
    assert [e.name for e in scanners()] == [e.load().name for e in scanners()]


def test_pickle_opcode_table_matches_the_engine() -> None:
    from modelsieve.formats import registry
    from modelsieve.pickle.vm import OPCODES

    assert frozenset(registry._PICKLE_OPCODES) == frozenset(ord(op) if isinstance(op, str) else op for op in OPCODES)


def test_hdf5_userblock_past_the_head_is_still_found() -> None:
    data = bytes(8192) + b"\x89HDF\r\n\x1a\n" + bytes(100)
    art = _artifact(data, "ub.h5")
    assert _lazy(data, "ub.h5") == _eager(data, "ub.h5") == "hdf5"
    assert art.size > HEAD_SIZE


def test_scanning_a_torch_zip_imports_only_the_zip_formats(tmp_path: Path) -> None:
    import torch

    path = tmp_path / "a.pt"
    torch.save({"w": torch.zeros(10)}, path)
    code = (
        "import sys\n"
        "import modelsieve.formats.registry as r\n"
        "from modelsieve.dispatch import analyse, make_context\n"
        "from modelsieve.limits import Limits\n"
        "from modelsieve.model import Location\n"
        "from modelsieve.source import Artifact\n"
        f"p = {str(path)!r}\n"
        "import os\n"
        "with open(p, 'rb') as f:\n"
        "    a = analyse(Artifact(stream=f, size=os.path.getsize(p), location=Location(p), name='a.pt'),"
        " make_context(Limits()))\n"
        "print(a.formats)\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('modelsieve.formats.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    formats, loaded = out.splitlines()[-2:]
    assert "pytorch" in formats
    modules = set(loaded.split())
    assert "modelsieve.formats.torch" in modules
    for absent in ("gguf", "keras_h5", "tensorflow", "onnx", "text", "safetensors", "compressed", "archive"):
        assert f"modelsieve.formats.{absent}" not in modules


@pytest.mark.parametrize("absent", ["modelsieve.formats.torch", "modelsieve.formats.keras_h5"])
def test_importing_the_registry_imports_no_format_module(absent: str) -> None:
    code = f"import sys, modelsieve.formats.registry as r; r.scanners(); print({absent!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
