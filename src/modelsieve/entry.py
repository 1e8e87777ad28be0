"""The ``modelsieve`` command. For ``modelsieve scan`` of local files and folders it forks warm workers first,
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
    wanted = _workers_wanted(sys.argv[2:]) if sys.argv[1:2] == ["scan"] else 0
    if wanted:
        from modelsieve.warm import start, usable_cores

        cores = usable_cores()
        if cores >= 2:
            # Shared by the workers and the CLI (see the module docstring); pickle carries the job and results.
            import pickle  # noqa: F401

            import modelsieve.api  # noqa: F401

            warm = start(min(wanted, cores))
    try:
        from modelsieve.cli import run

        gc.enable()
        run(warm)
    finally:
        if warm is not None:
            warm.close()
        # The process ends now: the interpreter's last collection over every object left would be wasted.
        gc.freeze()


def _workers_wanted(args: list[str]) -> int:
    """Workers worth forking for these ``scan`` arguments: one per core for a folder or an @FILE list, one per
    file named (at most one per core), none for a Hub repository or help. Even a single file is scanned
    sooner by a worker: it imports the analysers while this process imports the command line."""
    if {"--help", "-h"} & set(args):
        return 0
    named = [a for a in args if not a.startswith("-")]
    if any(a.startswith("@") for a in named) or any(os.path.isdir(a) for a in named):
        return os.cpu_count() or 1
    return sum(os.path.isfile(a) for a in named)


if __name__ == "__main__":
    main()
