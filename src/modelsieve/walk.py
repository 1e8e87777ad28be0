"""Expand scan targets (files and folders) into the files to analyse."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from modelsieve.model import SkippedItem

_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".cache"})


@dataclass(frozen=True)
class FileTarget:
    """A regular file to scan; ``relative`` is its path inside the scanned folder."""

    path: Path
    display: str
    relative: str
    explicit: bool

    def __reduce__(self) -> tuple[object, tuple[str, str, str, bool]]:
        # Sent to every worker of a scan: a path pickled as its text is written and read several times faster
        # than a Path object (which pickles as its parts and is rebuilt from them).
        return (_target, (os.fspath(self.path), self.display, self.relative, self.explicit))


def _target(path: str, display: str, relative: str, explicit: bool) -> FileTarget:
    return FileTarget(Path(path), display, relative, explicit)


def expand(targets: list[str]) -> tuple[list[FileTarget], list[SkippedItem]]:
    """Files under the targets, in a stable order, plus what was skipped and why.

    Symbolic links found inside a folder are not followed: a link inside a downloaded
    repository can point anywhere on the machine, and its target is not part of the
    artifact. A target named on the command line is what the person asked for, link or
    not, so it is followed (as ``find -H`` and ripgrep do).
    """
    files: list[FileTarget] = []
    skipped: list[SkippedItem] = []
    for target in targets:
        path = Path(target)
        if path.is_dir():
            for f, rel, reason in _walk(path):
                if reason:
                    skipped.append(SkippedItem(str(f), reason))
                else:
                    files.append(FileTarget(f, str(f), rel, explicit=False))
        elif path.exists() or path.is_symlink():
            files.append(FileTarget(path, target, path.name, explicit=True))
        else:
            skipped.append(SkippedItem(target, "no such file or folder"))
    return files, skipped


def _walk(root: Path) -> Iterator[tuple[Path, str, str]]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in dirnames:
            # os.walk lists a link to a folder among the folders and, without followlinks, never enters
            # it: say so instead of leaving it out silently.
            full = Path(dirpath) / name
            if full.is_symlink():
                yield full, full.relative_to(root).as_posix(), _link_reason(full)
        for name in sorted(filenames):
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            if full.is_symlink():
                yield full, rel, _link_reason(full)
            elif not full.is_file():
                yield full, rel, "not a regular file"
            else:
                yield full, rel, ""


def _link_reason(link: Path) -> str:
    return f"symbolic link to {os.readlink(link)}; not followed"
