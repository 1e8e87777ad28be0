"""Read the Keras attributes of an HDF5 file in a child process (h5py only, never imports Keras).

The HDF5 C library can crash on hostile files (fuzzing found segfaults while
reading attributes), so ``formats.keras_h5`` runs this file as a separate
process with memory and CPU limits: ``python -I _h5worker.py PATH MAX_BYTES``.
It prints one JSON object: ``{"ok": true, "attrs": {name: {...}}, "references": [...], "walked": N,
"truncated": bool}`` where each attribute is ``{"text": ...}``, ``{"too_large": size}`` or ``{"error": ...}``,
and each reference is an object of the file that makes the HDF5 library read another file when it is used:
``{"kind": "external-link" | "external-storage" | "virtual-source", "object": "/path", "file": "name",
"inside": "/object/in/that/file"}`` (``inside`` empty for raw storage).
Links are read as links (``getlink=True``): the walk never opens the files they name.
"""

from __future__ import annotations

import json
import sys

ATTRIBUTES = ("model_config", "training_config", "keras_version", "backend")
#: Objects visited at most, and references reported at most, per file (a hostile file can hold millions).
MAX_OBJECTS = 100_000
MAX_REFERENCES = 200
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
            refs, walked, truncated = references(handle)
            return {"ok": True, "attrs": found, "references": refs, "walked": walked, "truncated": truncated}
    except Exception as exc:  # a corrupt object deep in the file
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


def references(handle: object) -> tuple[list[dict[str, str]], int, bool]:
    """Every external link, external raw storage and virtual-dataset source file in the file, each object
    visited once (hard links can make cycles), within MAX_OBJECTS."""
    import h5py

    refs: list[dict[str, str]] = []
    seen: set[object] = set()
    stack: list[tuple[str, object]] = [("", handle)]
    walked = 0

    def add(kind: str, obj: str, file: str, inside: str = "") -> None:
        if len(refs) < MAX_REFERENCES:
            refs.append({"kind": kind, "object": obj, "file": file, "inside": inside})

    while stack:
        prefix, group = stack.pop()
        for name in group:  # type: ignore[attr-defined]
            walked += 1
            if walked > MAX_OBJECTS:
                return refs, walked - 1, True
            path = f"{prefix}/{name}"
            link = group.get(name, getlink=True)  # type: ignore[attr-defined]
            if isinstance(link, h5py.ExternalLink):
                add("external-link", path, link.filename, link.path)
                continue
            if not isinstance(link, h5py.HardLink):
                continue  # soft links name objects of this file, reached through their hard link
            obj = group.get(name)  # type: ignore[attr-defined]
            info = h5py.h5o.get_info(obj.id)
            # HDF5 1.10 names an object by its address, 1.12 and later by a token.
            key = info.addr if hasattr(info, "addr") else info.token
            if key in seen:
                continue
            seen.add(key)
            if isinstance(obj, h5py.Group):
                stack.append((path, obj))
            elif isinstance(obj, h5py.Dataset):
                for entry in obj.external or ():
                    add("external-storage", path, str(entry[0]))
                if obj.is_virtual:
                    for source in obj.virtual_sources():
                        if source.file_name != ".":  # "." is this file itself
                            add("virtual-source", path, source.file_name, source.dset_name)
    return refs, walked, False


def main() -> None:
    _limit_resources()
    result = read(sys.argv[1], int(sys.argv[2]))
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
