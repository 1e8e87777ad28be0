"""Write zip files byte by byte, with the quirks real loaders tolerate (test helper)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass


@dataclass
class Member:
    """One member as it should appear in the local header and in the central directory."""

    name: str
    data: bytes
    central_name: str | None = None
    local_flags: int = 0
    central_flags: int = 0
    crc: int | None = None
    deflate: bool = False
    declared_size: int | None = None
    external_attr: int = 0
    made_by: int = 20


def build_zip(members: list[Member], *, zip64: bool = False, eocd_count: int | None = None) -> bytes:
    """A zip with exactly the given headers; ``zip64`` writes zip64 extras and end records."""
    out = bytearray()
    central = bytearray()
    for m in members:
        payload = m.data
        method = 0
        if m.deflate:
            comp = zlib.compressobj(9, zlib.DEFLATED, -15)
            payload = comp.compress(m.data) + comp.flush()
            method = 8
        size = len(m.data) if m.declared_size is None else m.declared_size
        crc = zlib.crc32(m.data) if m.crc is None else m.crc
        lname = m.name.encode()
        cname = (m.central_name if m.central_name is not None else m.name).encode()
        offset = len(out)
        if zip64:
            lextra = struct.pack("<HHQQ", 1, 16, size, len(payload))
            out += struct.pack(
                "<4sHHHHHIIIHH",
                b"PK\x03\x04",
                45,
                m.local_flags,
                method,
                0,
                0x21,
                crc,
                0xFFFFFFFF,
                0xFFFFFFFF,
                len(lname),
                len(lextra),
            )
            out += lname + lextra + payload
            cextra = struct.pack("<HHQQQ", 1, 24, size, len(payload), offset)
            central += struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                45,
                45,
                m.central_flags,
                method,
                0,
                0x21,
                crc,
                0xFFFFFFFF,
                0xFFFFFFFF,
                len(cname),
                len(cextra),
                0,
                0,
                0,
                m.external_attr,
                0xFFFFFFFF,
            )
            central += cname + cextra
            continue
        out += struct.pack(
            "<4sHHHHHIIIHH",
            b"PK\x03\x04",
            20,
            m.local_flags,
            method,
            0,
            0x21,
            crc,
            len(payload),
            size,
            len(lname),
            0,
        )
        out += lname + payload
        central += struct.pack(
            "<4sHHHHHHIIIHHHHHII",
            b"PK\x01\x02",
            m.made_by,
            20,
            m.central_flags,
            method,
            0,
            0x21,
            crc,
            len(payload),
            size,
            len(cname),
            0,
            0,
            0,
            0,
            m.external_attr,
            offset,
        )
        central += cname
    cd_offset = len(out)
    out += central
    count = len(members) if eocd_count is None else eocd_count
    if zip64:
        z64 = len(out)
        out += struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(central), cd_offset)
        out += struct.pack("<4sIQI", b"PK\x06\x07", 0, z64, 1)
        out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(central), cd_offset, 0)
    return bytes(out)


def torch_members(path: str) -> list[tuple[str, bytes]]:
    """The (name, bytes) members of a real torch.save archive, in order."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]
