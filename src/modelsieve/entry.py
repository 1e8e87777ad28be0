"""The ``modelsieve`` command. For ``modelsieve scan`` of a folder or several files it forks warm workers first,
so that they import the scanner on another core while this process starts the CLI.

Only what both sides need (the result types, options, file walk: ``modelsieve.api`` without the analysers) is
imported before the fork: each side would otherwise import it again, on a core the other side needs."""

from __future__ import annotations

import gc
import os
import sys


def main() -> None:
    # Imports make hundreds of thousands of objects and no garbage: collections while they run are wasted.
    gc.disable()
    warm = None
    if sys.argv[1:2] == ["scan"] and _several_files(sys.argv[2:]):
        from modelsieve.warm import start, usable_cores

        if usable_cores() >= 2:
            import modelsieve.api  # noqa: F401 - shared by the workers and the CLI, see the module docstring

        warm = start()
    try:
        from modelsieve.cli import run

        gc.enable()
        run(warm)
    finally:
        if warm is not None:
            warm.close()
        # The process ends now: the interpreter's last collection over every object left would be wasted.
        gc.freeze()


def _several_files(args: list[str]) -> bool:
    """Whether the arguments name a folder, an @FILE list or two files or more: a single file is scanned
    sooner without workers (forking and stopping one costs more than it saves)."""
    if {"--help", "-h"} & set(args):
        return False
    named = [a for a in args if not a.startswith("-")]
    if any(a.startswith("@") for a in named) or any(os.path.isdir(a) for a in named):
        return True
    return sum(os.path.isfile(a) for a in named) >= 2


if __name__ == "__main__":
    main()
