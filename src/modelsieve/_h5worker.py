"""Read the Keras attributes of an HDF5 file in a child process (h5py only, never imports Keras).

The HDF5 C library can crash on hostile files (fuzzing found segfaults while
reading attributes), so ``formats.keras_h5`` runs this file as a separate
process with memory and CPU limits: ``python -I _h5worker.py PATH MAX_BYTES``.
It prints one JSON object: ``{"ok": true, "attrs": {name: {...}}}`` where each
attribute is ``{"text": ...}``, ``{"too_large": size}`` or ``{"error": ...}``.
"""

from __future__ import annotations

import json
import sys

ATTRIBUTES = ("model_config", "training_config", "keras_version", "backend")
_MEMORY_LIMIT = 4 << 30
_CPU_SECONDS = 60


def _limit_resources() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (_MEMORY_LIMIT, _MEMORY_LIMIT))
        resource.setrlimit(resource.RLIMIT_CPU, (_CPU_SECONDS, _CPU_SECONDS))
    except (ImportError, ValueError, OSError):
        pass


def _as_text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    # h5py returns numpy scalars or 0-d arrays for some string encodings.
    item = getattr(value, "item", None)
    if callable(item):
        try:
            inner = item()
        except (ValueError, TypeError):
            return None
        if isinstance(inner, bytes):
            return inner.decode("utf-8", errors="replace")
        if isinstance(inner, str):
            return inner
    return None


def _attribute(attrs: object, name: str, max_bytes: int) -> dict[str, object]:
    try:
        size = attrs.get_id(name).get_storage_size()  # type: ignore[attr-defined]
    except Exception:  # size unknown: read it and bound it afterwards
        size = 0
    if size > max_bytes:
        return {"too_large": size}
    try:
        value = attrs[name]  # type: ignore[index]
    except Exception as exc:  # any library error on this attribute
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}
    text = _as_text(value)
    if text is None:
        return {"error": f"not text ({type(value).__name__})"}
    if len(text) > max_bytes:
        return {"too_large": len(text)}
    return {"text": text}


def read(path: str, max_bytes: int) -> dict[str, object]:
    import h5py

    try:
        handle = h5py.File(path, "r")
    except Exception as exc:  # any HDF5 error means unreadable content
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    try:
        with handle:
            attrs = handle.attrs
            found: dict[str, object] = {}
            for name in ATTRIBUTES:
                try:
                    present = name in attrs
                except Exception as exc:  # a corrupt attribute table
                    return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
                if present:
                    found[name] = _attribute(attrs, name, max_bytes)
            return {"ok": True, "attrs": found}
    except Exception as exc:  # a corrupt object deep in the file
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


def main() -> None:
    _limit_resources()
    result = read(sys.argv[1], int(sys.argv[2]))
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
