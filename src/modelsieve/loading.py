"""Which files standard loading reads, so that the others are weighed separately.

Two kinds of knowledge: names that training loops write and loaders never open
(``training_args.bin``, optimizer and RNG states, ``checkpoint-N/`` folders), and
the precedence of checkpoint files inside one folder (``from_pretrained`` takes
``model.safetensors`` over ``pytorch_model.bin``, and only the shards that an
``*.index.json`` names). A file that is not loaded is still scanned and reported;
it only stops deciding the folder's verdict unless ``--include-unloaded`` is given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath

# Written by training loops for resuming, never read by from_pretrained / pipelines.
_NOT_LOADED_NAMES = frozenset(
    {
        "training_args.bin",
        "optimizer.pt",
        "optimizer.bin",
        "scheduler.pt",
        "scheduler.bin",
        "scaler.pt",
        "trainer_state.json",
    }
)
_NOT_LOADED_PATTERNS = (
    re.compile(r"^rng_state(_\d+)?\.pth$"),
    re.compile(r"^optimizer.*\.(pt|bin|pth)$"),
)
_CHECKPOINT_DIR = re.compile(r"^(checkpoint|global_step)[-_]?\d+$")

# Weight files of the PyTorch flavour of transformers checkpoints, in loading precedence.
_SAFETENSORS_MAIN = frozenset({"model.safetensors", "model.safetensors.index.json"})
_TORCH_BIN = re.compile(r"^pytorch_model(-\d+-of-\d+)?\.bin$")
_TORCH_BIN_INDEX = "pytorch_model.bin.index.json"
_SHARD = re.compile(r"-\d{5}-of-\d{5}\.(safetensors|bin)$")
_INDEX = re.compile(r"\.index\.json$")

# An index larger than this is not a real shard index; it is not parsed.
MAX_INDEX_BYTES = 16 * 1024 * 1024


def loaded_by_default(relative_path: str) -> bool:
    """False for training by-products that ``from_pretrained``-style loading never opens."""
    return name_reason(relative_path) is None


def name_reason(relative_path: str) -> str | None:
    """Why loading never reads this path, judged from its name and folders alone (None: it may be read)."""
    # The components PurePosixPath would give (empty and "." ones dropped), without building one: this runs
    # for every file scanned.
    parts = [p for p in relative_path.replace("\\", "/").split("/") if p not in ("", ".")]
    name = parts[-1] if parts else ""
    if name in _NOT_LOADED_NAMES or any(p.match(name) for p in _NOT_LOADED_PATTERNS):
        return "training by-product; standard loading never reads it"
    # Intermediate training checkpoints in subfolders are not what a user loads.
    for part in parts[:-1]:
        if _CHECKPOINT_DIR.match(part):
            return f"intermediate training checkpoint in {part}/; standard loading reads the top folder"
    return None


def shard_names(index_text: bytes) -> frozenset[str] | None:
    """File names an ``*.index.json`` maps weights to; None when the bytes are not such an index."""
    if len(index_text) > MAX_INDEX_BYTES:
        return None
    try:
        data = json.loads(index_text)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict):
        return None
    return frozenset(v for v in weight_map.values() if isinstance(v, str))


def unloaded_reasons(
    relative_paths: Iterable[str], indexes: Mapping[str, frozenset[str]] | None = None
) -> dict[str, str]:
    """For each path that standard loading would not read, the reason; paths it reads are absent.

    ``indexes`` maps the relative path of each parsed ``*.index.json`` to the shard
    names it lists (see ``shard_names``); indexes that could not be parsed are left out.
    """
    indexes = {_norm(k): v for k, v in (indexes or {}).items()}
    original = {_norm(rel): rel for rel in relative_paths}
    reasons: dict[str, str] = {}
    by_folder: dict[str, list[PurePosixPath]] = {}
    for norm, rel in original.items():
        reason = name_reason(rel)
        if reason is not None:
            reasons[rel] = reason
        p = PurePosixPath(norm)
        by_folder.setdefault(p.parent.as_posix(), []).append(p)
    for members in by_folder.values():
        names = {m.name for m in members}
        listed: set[str] = set()
        index_names: list[str] = []
        for m in members:
            if _INDEX.search(m.name) and m.as_posix() in indexes:
                listed |= indexes[m.as_posix()]
                index_names.append(m.name)
        for m in members:
            rel = original[m.as_posix()]
            if rel in reasons:
                continue
            why = _precedence_reason(m.name, names, listed, index_names)
            if why:
                reasons[rel] = why
    return reasons


def _norm(rel: str) -> str:
    return PurePosixPath(rel.replace("\\", "/")).as_posix()


def _precedence_reason(name: str, names: set[str], listed: set[str], index_names: list[str]) -> str | None:
    if _TORCH_BIN.match(name) or name == _TORCH_BIN_INDEX:
        main = sorted(names & _SAFETENSORS_MAIN)
        if main:
            return f"transformers loads {main[0]} instead of this file"
    if listed and name not in listed and _SHARD.search(name):
        return f"not one of the shards listed in {', '.join(sorted(index_names))}"
    return None
