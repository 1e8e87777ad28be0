"""Which files of a repository are worth scanning: by name, then by the bytes of their head.

Names only pick candidates cheaply; content decides for the rest (a pickle named
``config.p`` or with no extension is still a pickle).
"""

from __future__ import annotations

import pickletools
import re
from pathlib import PurePosixPath

# Formats a loader deserialises: their name alone makes a file worth a full scan.
RISKY_SUFFIXES = frozenset(
    {
        ".pkl",
        ".pickle",
        ".dill",
        ".pt",
        ".pth",
        ".ckpt",
        ".bin",
        ".joblib",
        ".npy",
        ".npz",
        ".h5",
        ".hdf5",
        ".keras",
        ".gguf",
        ".onnx",
        ".safetensors",
        ".pb",
        ".tflite",
        ".model",
        ".mar",
        ".nemo",
        ".pdparams",
        ".sav",
        ".p",
        ".jit",
        ".torchscript",
        ".msgpack",
        ".zip",
        ".tar",
        ".tgz",
        ".gz",
        ".bz2",
        ".xz",
        ".lzma",
        ".7z",
        ".zst",
        ".ptl",
        ".ot",
        ".mlmodel",
        ".llamafile",
        ".cloudpickle",
        ".skops",
    }
)
# Text files that loading reads and that can carry code (chat templates, auto_map, custom code).
TEXT_NAMES = frozenset(
    {
        "config.json",
        "tokenizer_config.json",
        "generation_config.json",
        "preprocessor_config.json",
        "processor_config.json",
        "chat_template.json",
        "model_index.json",
        "adapter_config.json",
    }
)
TEXT_SUFFIXES = frozenset({".py", ".jinja", ".jinja2"})

_MAGICS: tuple[tuple[int, bytes, str], ...] = (
    (0, b"PK\x03\x04", "zip"),
    (0, b"PK\x05\x06", "zip"),
    (0, b"\x1f\x8b", "gzip"),
    (0, b"BZh", "bzip2"),
    (0, b"\xfd7zXZ\x00", "xz"),
    (0, b"7z\xbc\xaf\x27\x1c", "7z"),
    (0, b"\x28\xb5\x2f\xfd", "zstd"),
    (0, b"\x04\x22\x4d\x18", "lz4"),
    (0, b"\x93NUMPY", "numpy"),
    (0, b"\x89HDF\r\n\x1a\n", "hdf5"),
    (0, b"GGUF", "gguf"),
    (4, b"TFL3", "tflite"),
    (257, b"ustar", "tar"),
)
_PICKLE_STARTS = frozenset({"PROTO", "GLOBAL", "MARK", "EMPTY_DICT", "EMPTY_LIST", "EMPTY_TUPLE", "FRAME", "INST"})
_SAFETENSORS = re.compile(rb'^\{\s*"')


def name_hint(path: str) -> str | None:
    """Why the name alone makes the file a candidate (``model format`` / ``loaded text``), else None."""
    p = PurePosixPath(path)
    suffix = p.suffix.lower()
    if suffix in RISKY_SUFFIXES:
        return "model format"
    if p.name in TEXT_NAMES or suffix in TEXT_SUFFIXES:
        return "loaded text"
    return None


def content_hint(head: bytes) -> str | None:
    """A serialisation or container format recognised in the first bytes, else None."""
    for offset, magic, label in _MAGICS:
        if head[offset : offset + len(magic)] == magic:
            return label
    if len(head) >= 10:
        header_len = int.from_bytes(head[:8], "little")
        if 2 <= header_len <= 100 * 1024**2 and _SAFETENSORS.match(head[8:16]):
            return "safetensors"
    if _looks_like_pickle(head):
        return "pickle"
    return None


def _looks_like_pickle(head: bytes) -> bool:
    """A few opcodes decode cleanly and the first is one a pickle starts with (reading only, never loading)."""
    if not head:
        return False
    count = 0
    try:
        for opcode, _arg, _pos in pickletools.genops(head):
            if count == 0 and opcode.name not in _PICKLE_STARTS:
                return False
            count += 1
            if count >= 4 or opcode.name == "STOP":
                return True
    except Exception:
        return count >= 3
    return count >= 2
