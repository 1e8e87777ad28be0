"""Which files standard loading reads, so that the others are weighed separately."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

# Written by training loops for resuming, never read by from_pretrained / pipelines.
_NOT_LOADED_NAMES = frozenset(
    {
        "training_args.bin",
        "optimizer.pt",
        "optimizer.bin",
        "scheduler.pt",
        "scaler.pt",
        "trainer_state.json",
    }
)
_NOT_LOADED_PATTERNS = (
    re.compile(r"^rng_state(_\d+)?\.pth$"),
    re.compile(r"^optimizer.*\.(pt|bin)$"),
)
_CHECKPOINT_DIR = re.compile(r"^(checkpoint|global_step)[-_]?\d+$")


def loaded_by_default(relative_path: str) -> bool:
    """False for training by-products that ``from_pretrained``-style loading never opens."""
    path = PurePosixPath(relative_path.replace("\\", "/"))
    name = path.name
    if name in _NOT_LOADED_NAMES or any(p.match(name) for p in _NOT_LOADED_PATTERNS):
        return False
    # Intermediate training checkpoints in subfolders are not what a user loads.
    return not any(_CHECKPOINT_DIR.match(part) for part in path.parts[:-1])
