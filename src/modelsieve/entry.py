"""The ``modelsieve`` command. For ``modelsieve scan`` it forks warm workers first, before anything heavy is
imported, so that they import the scanner on the other cores while this process starts the CLI."""

from __future__ import annotations

import sys


def main() -> None:
    warm = None
    if sys.argv[1:2] == ["scan"] and not {"--help", "-h"} & set(sys.argv[2:]):
        from modelsieve.warm import start

        warm = start()
    try:
        from modelsieve.cli import run

        run(warm)
    finally:
        if warm is not None:
            warm.close()


if __name__ == "__main__":
    main()
