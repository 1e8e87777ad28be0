"""modelsieve: what would happen if you loaded this model? Answered without loading it."""

from __future__ import annotations

# Not typing.TYPE_CHECKING: `import modelsieve` happens before `modelsieve scan` forks its workers, and
# importing typing alone costs ~10 ms there (mypy honours any constant of this name).
TYPE_CHECKING = False

__version__ = "0.1.0"

if TYPE_CHECKING:
    from typing import Any

    from modelsieve.api import scan as scan


def __getattr__(name: str) -> Any:
    # Lazy so that `import modelsieve` (and the CLI's --help) stays fast.
    if name == "scan":
        from modelsieve.api import scan

        return scan
    raise AttributeError(name)


__all__ = ["__version__", "scan"]
