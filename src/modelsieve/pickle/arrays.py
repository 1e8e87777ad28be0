"""joblib's raw arrays: after a ``NumpyArrayWrapper`` is built, joblib reads the array bytes that follow.

``NumpyUnpickler.load_build`` pops the wrapper and calls ``read_array``: for plain
dtypes it reads an optional alignment padding (joblib >= 1.2 writes one length byte
and that many pad bytes when the wrapper has ``numpy_array_alignment_bytes``) and then
``count * itemsize`` raw bytes; for object dtypes the array is a nested pickle read
from the same file. The emulation consumes exactly the same bytes.
"""

from __future__ import annotations

import math

from modelsieve.pickle.resolve import Resolver
from modelsieve.pickle.values import Obj, Site, Tuple, Unknown, Value, int_of, sequence_of, text_of
from modelsieve.pickle.vm import LimitError, Machine, ParseError

WRAPPERS = frozenset({"joblib.numpy_pickle.NumpyArrayWrapper"})
_SIZES = {"b": 1, "B": 1, "?": 1, "h": 2, "H": 2, "e": 2}


def dtype_info(dtype: Value) -> tuple[int, bool] | None:
    """(itemsize, hasobject) of a symbolic ``numpy.dtype(...)`` value, or None when unknown."""
    if not isinstance(dtype, Obj) or not dtype.target or not dtype.target.endswith("dtype"):
        return None
    code = text_of(dtype.args[0]) if dtype.args else None
    if code is None:
        return None
    elsize = -1
    flags = 0
    for state in dtype.state:
        if isinstance(state, Tuple) and len(state.items) >= 8:
            elsize = int_of(state.items[5]) or -1
            flags = int_of(state.items[7]) or 0
    code = code.lstrip("<>=|")
    letter, digits = code[:1], code[1:]
    hasobject = letter == "O" or bool(flags & 1)
    if elsize > 0:
        return elsize, hasobject
    if letter in _SIZES and not digits:
        return _SIZES[letter], hasobject
    if not digits.isdigit():
        return None
    size = int(digits)
    return (size * 4 if letter == "U" else size), hasobject


def after_build(resolver: Resolver, obj: Value, machine: object, site: Site) -> Value | None:
    """Skip (or analyse, for object dtypes) the array data joblib reads after a wrapper's BUILD."""
    if not resolver.options.joblib_arrays or not isinstance(obj, Obj) or obj.target not in WRAPPERS:
        return None
    if not isinstance(machine, Machine):
        return None
    reader = machine.reader
    info = dtype_info(obj.attrs.get("dtype", Unknown("dtype")))
    count = shape_count(obj.attrs.get("shape", Unknown("shape")))
    if info is None or count is None:
        raise ParseError(site.offset, "cannot tell the size of the joblib array that follows (dtype/shape unknown)")
    itemsize, hasobject = info
    if hasobject:
        resolver.inline_depth += 1
        try:
            if resolver.inline_depth > resolver.limits.max_nesting_depth:
                raise LimitError(
                    site.offset,
                    f"nested object-array pickles deeper than {resolver.limits.max_nesting_depth}",
                    "nesting-depth",
                )
            inner = Machine(reader, resolver, resolver.limits, opcode_base=0)
            inner.check_time = machine.check_time
            inner.run()
        finally:
            resolver.inline_depth -= 1
        return Unknown("numpy object array")
    if "numpy_array_alignment_bytes" in obj.attrs:
        padding = reader.read(1)[0]
        reader.skip(padding)
    reader.skip(count * itemsize)
    return Unknown("numpy array")


def shape_count(shape: Value) -> int | None:
    """Number of elements of a shape tuple of constant ints."""
    seq = sequence_of(shape)
    if seq is None:
        return None
    dims = [int_of(v) for v in seq]
    if any(d is None or d < 0 for d in dims):
        return None
    return math.prod(d for d in dims if d is not None)
