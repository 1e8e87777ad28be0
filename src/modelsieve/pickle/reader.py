"""Buffered, bounded reading of a pickle stream, the way CPython's C unpickler consumes it.

Opcodes are read linearly (FRAME only announces a length; ``_pickle.c`` reads the
frame into its buffer and then keeps reading opcodes one after another). Large
payloads are skipped with a seek, never held in memory.
"""

from __future__ import annotations

from typing import BinaryIO

CHUNK = 64 * 1024


class Truncated(Exception):
    """The stream ended (or reached its bound) in the middle of an opcode."""


class Reader:
    """Reads ``stream`` from ``start`` up to ``end`` through a small buffer."""

    __slots__ = ("_base", "_buf", "_end", "_i", "_stream")

    def __init__(self, stream: BinaryIO, start: int, end: int) -> None:
        self._stream = stream
        self._end = end
        self._base = start
        self._buf = b""
        self._i = 0

    @property
    def end(self) -> int:
        return self._end

    def tell(self) -> int:
        return self._base + self._i

    def remaining(self) -> int:
        return self._end - self.tell()

    def read(self, n: int) -> bytes:
        i = self._i
        j = i + n
        if j <= len(self._buf):
            self._i = j
            return self._buf[i:j]
        return self._slow_read(n)

    def uint(self, n: int) -> int:
        """``n`` bytes as a little-endian unsigned int."""
        i = self._i
        j = i + n
        if j <= len(self._buf):
            self._i = j
            return int.from_bytes(self._buf[i:j], "little")
        return int.from_bytes(self._slow_read(n), "little")

    def byte(self) -> int:
        """One byte as an int; Truncated at the end."""
        i = self._i
        if i < len(self._buf):
            self._i = i + 1
            return self._buf[i]
        return self._slow_read(1)[0]

    def read1(self) -> int:
        """One byte as an int, or -1 at the end."""
        i = self._i
        if i < len(self._buf):
            self._i = i + 1
            return self._buf[i]
        try:
            return self._slow_read(1)[0]
        except Truncated:
            return -1

    def peek(self, n: int) -> bytes:
        pos = self.tell()
        n = max(0, min(n, self._end - pos))
        if self._i + n <= len(self._buf):
            return self._buf[self._i : self._i + n]
        self._stream.seek(pos)
        return self._stream.read(n)

    def _slow_read(self, n: int) -> bytes:
        have = self._buf[self._i :]
        pos = self._base + len(self._buf)
        want = n - len(have)
        if want > self._end - pos:
            raise Truncated
        self._stream.seek(pos)
        more = self._stream.read(min(max(want, CHUNK), self._end - pos))
        if len(more) < want:
            raise Truncated
        data = have + more if have else more
        self._base = pos - len(have)
        self._buf = data
        self._i = n
        return data[:n]

    def skip(self, n: int) -> None:
        """Advance ``n`` bytes without keeping them."""
        target = self.tell() + n
        if target > self._end:
            raise Truncated
        if self._i + n <= len(self._buf):
            self._i += n
            return
        self._base = target
        self._buf = b""
        self._i = 0

    def seek(self, pos: int) -> None:
        self._base = pos
        self._buf = b""
        self._i = 0

    def readline(self, keep: int) -> tuple[bytes, int]:
        """The next line without its ``\\n``: at most ``keep`` bytes of it, and its full length."""
        k = self._buf.find(b"\n", self._i)
        if k >= 0:
            line = self._buf[self._i : k]
            self._i = k + 1
            return (line if len(line) <= keep else line[:keep]), len(line)
        kept = bytearray()
        total = 0
        while True:
            piece = self._buf[self._i :]
            k = piece.find(b"\n")
            if k >= 0:
                piece = piece[:k]
            if len(kept) < keep:
                kept += piece[: keep - len(kept)]
            total += len(piece)
            if k >= 0:
                self._i += k + 1
                return bytes(kept), total
            self._i = len(self._buf)
            pos = self.tell()
            if pos >= self._end:
                raise Truncated
            self._stream.seek(pos)
            more = self._stream.read(min(CHUNK, self._end - pos))
            if not more:
                raise Truncated
            self._base = pos
            self._buf = more
            self._i = 0
