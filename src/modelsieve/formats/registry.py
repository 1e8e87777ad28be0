"""The ordered list of format scanners. First one whose sniff matches wins.

Order matters where formats share a container: the specific zip-based formats
(PyTorch, Keras v3, npz, TorchScript) come before the generic zip archive, and
the plain-text scanner comes last.

Importing every format module costs more than scanning a typical file, so each
entry carries an import-free pre-check on the head bytes. A pre-check may only
say "no" when the real sniff could never match; anything else ("maybe", or a
pre-check that fails) imports the module and asks the real sniff, in order.
To add a format: one ``_entry(name, module, attr, precheck)`` line below; when
unsure what the sniff accepts, use ``lambda h, a: True``. tests/test_registry_lazy.py
checks that the lazy choice equals calling every real sniff in order.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from modelsieve.formats.base import FormatScanner, ScanContext
from modelsieve.model import Analysis
from modelsieve.source import Artifact

_ZIP_LOCAL = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_HDF5_MAX_USERBLOCK = 1 << 24
# Every opcode byte the pickle engine accepts first (modelsieve.pickle.vm.OPCODES; a test keeps them equal).
_PICKLE_OPCODES = frozenset(
    b"().012BCFGIJKLMNPQRSTUVX]abcdeghijlopqrstu}\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c"
    b"\x8d\x8e\x8f\x90\x91\x92\x93\x94\x95\x96\x97\x98"
)
_LEGACY_TORCH_MAGIC = b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_COMPRESSED_MAGIC = (b"\x1f\x8b\x08", b"BZh", b"\xfd7zXZ\x00", b"\x04\x22\x4d\x18", b"\x28\xb5\x2f\xfd")
_DATA_FIRST_BYTES = frozenset(b"\x89\xffGIM%fO\x1aRB")
_TEXT_LEAD = frozenset(b" \t\r\n\xef\xbb\xbf")

Precheck = Callable[[bytes, Artifact], bool]


def _maybe_pickle(head: bytes) -> bool:
    return len(head) >= 2 and head[0] in _PICKLE_OPCODES and (head[0] != 0x80 or head[1] <= 5)


def _maybe_hdf5(head: bytes, artifact: Artifact) -> bool:
    # The magic may sit after a user block (512, 1024, 2048, ... bytes), past the head for big blocks.
    offset = 0
    while offset < min(artifact.size, _HDF5_MAX_USERBLOCK):
        if offset + len(_HDF5_MAGIC) <= len(head):
            chunk = head[offset : offset + len(_HDF5_MAGIC)]
        else:
            chunk = artifact.read_at(offset, len(_HDF5_MAGIC))
        if chunk == _HDF5_MAGIC:
            return True
        offset = 512 if offset == 0 else offset * 2
    return False


def _maybe_npz(head: bytes) -> bool:
    if not head.startswith(_ZIP_LOCAL) or len(head) < 30:
        return False
    nlen = int.from_bytes(head[26:28], "little")
    return head[30 : 30 + nlen].endswith(b".npy")


def _maybe_tar(head: bytes) -> bool:
    if len(head) < 512:
        return False
    if head[257:262] == b"ustar":
        return True
    try:
        int(head[148:156].replace(b"\x00", b" ").strip() or b"-1", 8)
    except ValueError:
        return False
    return True


def _maybe_compressed(head: bytes) -> bool:
    if head.startswith(_COMPRESSED_MAGIC):
        return True
    if len(head) >= 3 and head[0] & 0x0F == 8 and head[0] >> 4 <= 7 and (head[0] << 8 | head[1]) % 31 == 0:
        return True  # zlib header
    # .lzma (LZMA-alone) has no magic: the header fields compressed.py checks before trying to decode.
    if len(head) < 14 or head[0] >= 225 or head[13] != 0:
        return False
    dict_size = int.from_bytes(head[1:5], "little")
    top = 1 << (dict_size.bit_length() - 1) if dict_size else 0
    return dict_size >= 4096 and dict_size in (top, top | top >> 1)


def _maybe_model_format(head: bytes) -> bool:
    if head.startswith((b"CBM1", b"binf", b"tree")) or head[:1] in (b"\x08", b"\x0a", b"{"):
        return True
    # JSON and XML model files, after a byte-order mark and whitespace.
    for byte in head:
        if byte not in _TEXT_LEAD:
            return byte in b"{<"
    return False


def _maybe_data(head: bytes) -> bool:
    return (bool(head) and head[0] in _DATA_FIRST_BYTES) or head[4:8] == b"ftyp"


def _maybe_text(head: bytes) -> bool:
    return bool(head) and b"\x00" not in head


@dataclass(frozen=True)
class LazyScanner:
    """A registry entry: the scanner's module is imported only when its pre-check cannot rule the head out."""

    name: str
    module: str
    attr: str
    maybe: Precheck = field(repr=False)

    def load(self) -> FormatScanner:
        return _load(self.module, self.attr)

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        try:
            possible = self.maybe(head, artifact)
        except Exception:  # a pre-check bug must not hide a format: ask the real sniff
            possible = True
        return possible and self.load().sniff(head, artifact)

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        return self.load().scan(artifact, ctx)


@cache
def _load(module: str, attr: str) -> FormatScanner:
    scanner: FormatScanner = getattr(importlib.import_module(f"modelsieve.formats.{module}"), attr)
    return scanner


def _entry(name: str, module: str, attr: str, maybe: Precheck) -> LazyScanner:
    return LazyScanner(name=name, module=module, attr=attr, maybe=maybe)


@cache
def scanners() -> tuple[LazyScanner, ...]:
    found: list[LazyScanner] = []
    found.append(_entry("safetensors", "safetensors", "SCANNER", lambda h, a: h[8:9] == b"{"))
    found.append(_entry("gguf", "gguf", "SCANNER", lambda h, a: h[:4] == b"GGUF"))
    # Keras v3 is a zip: it must stay ahead of any generic zip/archive scanner.
    found.append(_entry("keras-v3", "keras_v3", "SCANNER", lambda h, a: h.startswith(_ZIP_LOCAL)))
    found.append(_entry("hdf5", "keras_h5", "SCANNER", _maybe_hdf5))
    found.append(_entry("tflite", "tflite", "SCANNER", lambda h, a: h[4:8] == b"TFL3"))
    # Containers: torch zip / TorchScript / npz ahead of the generic zip (archive.ZIP, last of the zips);
    # legacy torch and joblib ahead of the raw-pickle scanner, which must be appended after them.
    found.append(_entry("pytorch", "torch", "TORCH_ZIP", lambda h, a: h.startswith(_ZIP_LOCAL)))
    found.append(_entry("npz", "numpy", "NPZ", lambda h, a: _maybe_npz(h)))
    found.append(_entry("numpy", "numpy", "NPY", lambda h, a: h.startswith(b"\x93NUMPY")))
    found.append(
        _entry(
            "pytorch-legacy",
            "torch",
            "TORCH_LEGACY",
            lambda h, a: _maybe_pickle(h) and _LEGACY_TORCH_MAGIC in h[:64],
        )
    )
    found.append(
        _entry(
            "joblib",
            "joblib",
            "JOBLIB",
            lambda h, a: h.startswith(b"ZF0x") or (b"NumpyArrayWrapper" in h and _maybe_pickle(h)),
        )
    )
    found.append(_entry("tar", "archive", "TAR", lambda h, a: _maybe_tar(h)))
    found.append(_entry("compressed", "compressed", "COMPRESSED", lambda h, a: _maybe_compressed(h)))
    found.append(_entry("7z", "archive", "SEVEN_Z", lambda h, a: h.startswith(b"7z\xbc\xaf\x27\x1c")))
    # TorchServe .mar / llamafile are zips with a known layout: ahead of the generic zip.
    found.append(
        _entry(
            "zip-model",
            "other",
            "ZIP_MODELS",
            lambda h, a: h.startswith((_ZIP_LOCAL, b"MZqFpD='", b"MZqFpD=\n", b"jartsr='")),
        )
    )
    found.append(_entry("zip", "archive", "ZIP", lambda h, a: h.startswith((_ZIP_LOCAL, b"PK\x05\x06"))))
    # Raw pickles after every container that wraps pickles (legacy torch, joblib, compressed, archives).
    found.append(_entry("pickle", "rawpickle", "SCANNER", lambda h, a: _maybe_pickle(h)))
    # Not-analysed model formats (CoreML and Paddle are protobuf) and plain data: before the protobuf sniffs.
    found.append(_entry("other-model", "other", "MODELS", lambda h, a: _maybe_model_format(h)))
    found.append(_entry("data", "other", "DATA", lambda h, a: _maybe_data(h)))
    # ONNX is protobuf too, but its sniff is specific (ir_version first, printable producer): before TensorFlow.
    found.append(_entry("onnx", "onnx", "SCANNER", lambda h, a: len(h) >= 4 and h[0] == 0x08 and 3 <= h[1] <= 32))
    # Protobuf has no magic: keep the TensorFlow sniff after every magic-number format.
    found.append(_entry("tensorflow", "tensorflow", "SCANNER", lambda h, a: h[:1] in (b"\x08", b"\x0a")))
    # Plain text claims any UTF-8 content: it must stay last.
    found.append(_entry("text", "text", "SCANNER", lambda h, a: _maybe_text(h)))
    return tuple(found)
