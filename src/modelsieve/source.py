"""Artifacts: a seekable byte stream plus where it came from.

Formats read artifacts through ``stream`` (seek/read), never as one big bytes
value, so a 10 GB checkpoint costs only what is actually read.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import BinaryIO

from modelsieve.model import Location

HEAD_SIZE = 4096


@dataclass(frozen=True)
class Artifact:
    """One byte stream to analyse: a file, an archive member or a decoded layer.

    ``name`` is the last path component (member name for members); it is a hint
    for messages only, never for choosing a parser. ``explicit`` is true when a
    person named this file on the command line, so unknown content is reported
    as inconclusive instead of merely not analysed.
    """

    stream: BinaryIO
    size: int
    location: Location
    name: str
    depth: int = 0
    explicit: bool = False

    def head(self, n: int = HEAD_SIZE) -> bytes:
        return self.read_at(0, n)

    def read_at(self, offset: int, n: int) -> bytes:
        self.stream.seek(offset)
        return self.stream.read(n)

    def tail(self, n: int) -> bytes:
        start = max(0, self.size - n)
        return self.read_at(start, self.size - start)

    def child(self, stream: BinaryIO, size: int, member: str) -> Artifact:
        """An artifact nested inside this one (archive member, decompressed layer)."""
        return Artifact(
            stream=stream,
            size=size,
            location=self.location.child(member),
            name=member.rsplit("/", 1)[-1],
            depth=self.depth + 1,
        )


def bytes_artifact(data: bytes, location: Location, name: str = "", depth: int = 0) -> Artifact:
    """An artifact over bytes already in memory (small members, embedded payloads)."""
    return Artifact(stream=io.BytesIO(data), size=len(data), location=location, name=name, depth=depth)


def spool(limit_in_memory: int) -> BinaryIO:
    """A writable temporary stream that moves to disk past ``limit_in_memory`` bytes."""
    import tempfile  # imports random and more; only archives and decoded layers need it

    return tempfile.SpooledTemporaryFile(max_size=limit_in_memory, mode="w+b")  # type: ignore[return-value]


def file_size(stream: BinaryIO) -> int:
    pos = stream.tell()
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(pos)
    return size
