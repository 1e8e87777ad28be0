"""Data transforms a pickle can make at load time, computed by the emulation on constants.

Only side-effect-free functions over bytes and text (decoders, decompressors,
string methods). Output is bounded: decompression bombs stop at ``MAX_OUTPUT``.
"""

from __future__ import annotations

import base64
import binascii
import bz2
import codecs
import lzma
import re
import zlib
from collections.abc import Callable

MAX_OUTPUT = 64 * 1024 * 1024


class TooLarge(Exception):
    """The decoded output would exceed the bound."""


def _decompress_zlib(data: bytes, wbits: int = zlib.MAX_WBITS) -> bytes:
    d = zlib.decompressobj(wbits)
    out = d.decompress(data, MAX_OUTPUT)
    if d.unconsumed_tail:
        raise TooLarge("decompressed payload larger than the bound")
    return out


def _decompress_gzip(data: bytes) -> bytes:
    return _decompress_zlib(data, 16 + zlib.MAX_WBITS)


def _decompress_lzma(data: bytes) -> bytes:
    d = lzma.LZMADecompressor()
    out = d.decompress(data, MAX_OUTPUT)
    if not d.eof and d.needs_input is False:
        raise TooLarge("decompressed payload larger than the bound")
    return out


def _decompress_bz2(data: bytes) -> bytes:
    d = bz2.BZ2Decompressor()
    out = d.decompress(data, MAX_OUTPUT)
    if not d.eof and d.needs_input is False:
        raise TooLarge("decompressed payload larger than the bound")
    return out


def _to_bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("ascii", "surrogateescape")
    raise TypeError("not bytes")


#: name -> (function of the first argument, label used in messages)
BYTE_DECODERS: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "base64.b64decode": (base64.b64decode, "base64"),
    "base64.standard_b64decode": (base64.standard_b64decode, "base64"),
    "base64.urlsafe_b64decode": (base64.urlsafe_b64decode, "base64"),
    "base64.decodebytes": (base64.decodebytes, "base64"),
    "base64.b32decode": (base64.b32decode, "base32"),
    "base64.b16decode": (lambda b: base64.b16decode(b, casefold=True), "base16"),
    "base64.b85decode": (base64.b85decode, "base85"),
    "base64.a85decode": (base64.a85decode, "ascii85"),
    "binascii.unhexlify": (binascii.unhexlify, "hex"),
    "binascii.a2b_hex": (binascii.a2b_hex, "hex"),
    "binascii.a2b_base64": (binascii.a2b_base64, "base64"),
    "builtins.bytes.fromhex": (lambda b: bytes.fromhex(b.decode("ascii")), "hex"),
    "builtins.bytearray.fromhex": (lambda b: bytes.fromhex(b.decode("ascii")), "hex"),
    "zlib.decompress": (_decompress_zlib, "zlib"),
    "gzip.decompress": (_decompress_gzip, "gzip"),
    "lzma.decompress": (_decompress_lzma, "lzma"),
    "bz2.decompress": (_decompress_bz2, "bz2"),
}

_CODEC_DECODE: dict[str, Callable[[bytes], bytes]] = {
    "hex": binascii.unhexlify,
    "hex_codec": binascii.unhexlify,
    "base64": binascii.a2b_base64,
    "base64_codec": binascii.a2b_base64,
    "zlib": _decompress_zlib,
    "zlib_codec": _decompress_zlib,
    "bz2": _decompress_bz2,
    "bz2_codec": _decompress_bz2,
}


def codec_transform(data: object, encoding: str, *, decode: bool) -> tuple[object, str]:
    """``codecs.decode``/``codecs.encode`` for the codecs that matter; returns (result, label)."""
    enc = encoding.lower().replace("-", "_")
    if enc in ("rot13", "rot_13") and isinstance(data, str):
        return codecs.decode(data, "rot13"), "rot13"
    if decode and enc in _CODEC_DECODE:
        return _CODEC_DECODE[enc](_to_bytes(data)), enc.removesuffix("_codec")
    if isinstance(data, str) and not decode:
        return data.encode(enc if enc not in ("latin1", "l1") else "latin-1", "surrogateescape"), "text"
    if isinstance(data, bytes) and decode:
        return data.decode(enc if enc not in ("latin1", "l1") else "latin-1", "replace"), "text"
    raise ValueError(f"codec {encoding} not emulated")


def decode_bytes(name: str, data: object) -> tuple[bytes, str]:
    fn, label = BYTE_DECODERS[name]
    out = fn(_to_bytes(data))
    if len(out) > MAX_OUTPUT:
        raise TooLarge("decoded payload larger than the bound")
    return bytes(out), label


# Only plain fields ("{}", "{0}", "%s"): widths such as "{:>999999999}" would be memory bombs.
_PLAIN_FORMAT = re.compile(r"(?:[^{}]|\{\{|\}\}|\{\w{0,8}\})*", re.S)
_PLAIN_PERCENT = re.compile(r"(?:[^%]|%%|%s|%r)*", re.S)

STR_METHODS = frozenset(
    {
        "format",
        "__mod__",
        "join",
        "replace",
        "lower",
        "upper",
        "strip",
        "lstrip",
        "rstrip",
        "__add__",
        "encode",
        "decode",
        "swapcase",
        "title",
        "capitalize",
        "casefold",
        "removeprefix",
        "removesuffix",
        "__getitem__",
        "__mul__",
    }
)


def string_method(obj: object, method: str, args: list[object]) -> object:
    """Compute ``obj.method(*args)`` for str/bytes constants (bounded); raises on anything else."""
    if method not in STR_METHODS or not isinstance(obj, (str, bytes)):
        raise ValueError("not emulated")
    if method == "__mul__" and (not isinstance(args[0], int) or len(obj) * args[0] > MAX_OUTPUT):
        raise TooLarge("string repetition too large")
    # Padding widths and %-formats are left out on purpose: "{:>999999999}" would be a memory bomb.
    if (
        method == "replace"
        and len(args) >= 2
        and isinstance(args[1], (str, bytes))
        and len(obj) * len(args[1]) > MAX_OUTPUT
    ):
        raise TooLarge("replacement too large")
    if method == "format" and not (isinstance(obj, str) and _PLAIN_FORMAT.fullmatch(obj)):
        raise ValueError("format with conversions or widths is not emulated")
    if method == "__mod__" and not (isinstance(obj, str) and _PLAIN_PERCENT.fullmatch(obj)):
        raise ValueError("%-format with widths is not emulated")
    if method == "__mod__" and args and isinstance(args[0], list):
        args = [tuple(args[0])]
    if method in ("encode", "decode") and args and isinstance(args[0], str):
        return codec_transform(obj, args[0], decode=method == "decode")[0]
    result = getattr(obj, method)(*args)
    if isinstance(result, (str, bytes)) and len(result) > MAX_OUTPUT:
        raise TooLarge("string result too large")
    return result
