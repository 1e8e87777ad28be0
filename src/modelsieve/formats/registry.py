"""The ordered list of format scanners. First one whose sniff matches wins.

Order matters where formats share a container: the specific zip-based formats
(PyTorch, Keras v3, npz, TorchScript) come before the generic zip archive, and
the plain-text scanner comes last.
"""

from __future__ import annotations

from functools import cache

from modelsieve.formats.base import FormatScanner


@cache
def scanners() -> tuple[FormatScanner, ...]:
    # Imported here so that `modelsieve --help` does not pay for every format.
    from modelsieve.formats import (
        archive,
        compressed,
        gguf,
        joblib,
        keras_h5,
        keras_v3,
        numpy,
        onnx,
        other,
        rawpickle,
        safetensors,
        tensorflow,
        text,
        tflite,
        torch,
    )

    found: list[FormatScanner] = []
    found.append(safetensors.SCANNER)
    found.append(gguf.SCANNER)
    # Keras v3 is a zip: it must stay ahead of any generic zip/archive scanner.
    found.append(keras_v3.SCANNER)
    found.append(keras_h5.SCANNER)
    found.append(tflite.SCANNER)
    # Containers: torch zip / TorchScript / npz ahead of the generic zip (archive.ZIP, last of the zips);
    # legacy torch and joblib ahead of the raw-pickle scanner, which must be appended after them.
    found.append(torch.TORCH_ZIP)
    found.append(numpy.NPZ)
    found.append(numpy.NPY)
    found.append(torch.TORCH_LEGACY)
    found.append(joblib.JOBLIB)
    found.append(archive.TAR)
    found.append(compressed.COMPRESSED)
    found.append(archive.SEVEN_Z)
    # TorchServe .mar / llamafile are zips with a known layout: ahead of the generic zip.
    found.append(other.ZIP_MODELS)
    found.append(archive.ZIP)
    # Raw pickles after every container that wraps pickles (legacy torch, joblib, compressed, archives).
    found.append(rawpickle.SCANNER)
    # Not-analysed model formats (CoreML and Paddle are protobuf) and plain data: before the protobuf sniffs.
    found.append(other.MODELS)
    found.append(other.DATA)
    # ONNX is protobuf too, but its sniff is specific (ir_version first, printable producer): before TensorFlow.
    found.append(onnx.SCANNER)
    # Protobuf has no magic: keep the TensorFlow sniff after every magic-number format.
    found.append(tensorflow.SCANNER)
    # Plain text claims any UTF-8 content: it must stay last.
    found.append(text.SCANNER)
    return tuple(found)
