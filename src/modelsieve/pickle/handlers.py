"""What well-known callables do when the loader calls them, computed symbolically.

Each handler stands for one family of callables: name resolvers (getattr, __import__,
import_module, attrgetter, pkgutil.resolve_name ...), object builders (partial,
copyreg._reconstructor, FunctionType), pure data transforms (base64, zlib, str.join),
and nested loaders (pickle.loads, torch.load ...). Handlers record what they did in the
resolver's trace. Higher-order callables (map, reduce, key functions, wrappers) live in
``callers``, container access in ``containers``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from modelsieve.pickle import pure
from modelsieve.pickle.render import name_of, render
from modelsieve.pickle.trace import CALL, LOADER, NEW, PURE, RESOLVER, NestedPayload, Note
from modelsieve.pickle.values import (
    Code,
    Const,
    DictV,
    Getter,
    Global,
    Iter,
    LargeBytes,
    ListV,
    ModuleRef,
    Namespace,
    Obj,
    Partial,
    SetV,
    Site,
    Tuple,
    Unknown,
    Value,
    int_of,
    sequence_of,
    text_of,
)

if TYPE_CHECKING:
    from modelsieve.pickle.resolve import Resolver

#: How many items of a mapped/starmapped sequence are followed as separate calls.
MAX_INLINE_ITEMS = 3

NESTED_LOADERS = frozenset(
    {
        "pickle.loads",
        "pickle.load",
        "pickle._loads",
        "pickle._load",
        "dill.loads",
        "dill.load",
        "dill._dill.loads",
        "dill._dill.load",
        "cloudpickle.loads",
        "cloudpickle.load",
        "joblib.load",
        "joblib.numpy_pickle.load",
        "torch.load",
        "torch.serialization.load",
        "torch.storage._load_from_bytes",
        "numpy.load",
        "numpy.lib.npyio.load",
        "numpy.lib._npyio_impl.load",
        "pandas.read_pickle",
        "pandas.io.pickle.read_pickle",
        "numpy.lib.format.read_array",
        "numpy.lib._format_impl.read_array",
        "lib2to3.pgen2.grammar.Grammar.loads",
        "lib2to3.pgen2.grammar.Grammar.load",
    }
)

DOWNLOADERS = frozenset(
    {
        "urllib.request.urlopen",
        "urllib.urlopen",
        "requests.get",
        "requests.post",
        "requests.request",
        "requests.api.get",
        "httpx.get",
        "urllib.request.Request",
    }
)


def via_chain(outer: str, inner: str) -> str:
    return f"{outer} -> {inner}" if outer else inner


def url_of(obj: Obj) -> str:
    for a in obj.args:
        text = text_of(a)
        if text is not None:
            return text
        if isinstance(a, Obj):
            return url_of(a)
    return "<computed address>"


def state_items(state: Value) -> list[tuple[str, Value]]:
    """Attribute names and values a BUILD state sets (``__dict__`` part and slot-state part)."""
    out: list[tuple[str, Value]] = []
    parts: list[Value] = [state]
    if isinstance(state, Tuple) and len(state.items) == 2:
        parts = list(state.items)
    for part in parts:
        if isinstance(part, DictV):
            for k, v in part.items[:10_000]:
                key = text_of(k)
                if key is not None:
                    out.append((key, v))
    return out


# --------------------------------------------------------------------- handlers
Handler = Callable[["Resolver", tuple[Value, ...], tuple[tuple[str, Value], ...], Site, str], Value]
HANDLERS: dict[str, Handler] = {}


def _handles(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for n in names:
            HANDLERS[n] = fn
        return fn

    return register


def _kw(kwargs: tuple[tuple[str, Value], ...], name: str) -> Value | None:
    for k, v in kwargs:
        if k == name:
            return v
    return None


@_handles("builtins.getattr", "inspect.getattr_static", "dill._dill._get_attr")
def _getattr(
    r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
) -> Value:
    label = "builtins.getattr"
    if len(args) < 2:
        r.record(label, args, kwargs, site, RESOLVER, via)
        return Unknown("getattr with missing arguments")
    name = text_of(args[1])
    if name is None:
        r.record(None, args, kwargs, site, CALL, via_chain(via, "getattr with an attribute name computed at load time"))
        r.trace.note(Note("PKL005", site, "getattr with an attribute name computed at load time", "getattr-computed"))
        return Unknown("getattr with computed name")
    value: Value = args[0]
    for part in name.split(".") if isinstance(args[0], ModuleRef) else [name]:
        value = r.get_attr(value, part, site)
    r._ref(value, site)
    r.record(label, args, kwargs, site, RESOLVER, via, value)
    return value


def _import(
    r: Resolver,
    args: tuple[Value, ...],
    kwargs: tuple[tuple[str, Value], ...],
    site: Site,
    via: str,
    target: str = "importlib.import_module",
) -> Value:
    name = text_of(args[0]) if args else None
    if name is None:
        r.record(None, args, kwargs, site, CALL, via_chain(via, "imports a module named at load time"))
        r.trace.note(Note("PKL005", site, "imports a module whose name is computed at load time", "import-computed"))
        return Unknown("computed import")
    result = r.module_ref(name, site)
    r._ref(result, site)
    r.record(target, args, kwargs, site, RESOLVER, via, result)
    return result


@_handles("builtins.__import__")
def _dunder_import(
    r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
) -> Value:
    name = text_of(args[0]) if args else None
    fromlist = args[3] if len(args) > 3 else _kw(kwargs, "fromlist")
    if name is not None and not (fromlist is not None and sequence_of(fromlist)):
        args = (Const(name.split(".", 1)[0]), *args[1:])
    return _import(r, args[:1], (), site, via, "builtins.__import__")


def _make_import(name: str) -> Handler:
    def handler(
        r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
    ) -> Value:
        return _import(r, args, kwargs, site, via, name)

    return handler


for _name in (
    "importlib.__import__",
    "importlib.import_module",
    "importlib._bootstrap._gcd_import",
    "dill._dill._import_module",
    "cloudpickle.cloudpickle.subimport",
    "cloudpickle.cloudpickle_fast.subimport",
):
    HANDLERS[_name] = _make_import(_name)


#: Functions that turn a dotted (or ``module:qualname``) string into the object it names.
NAME_RESOLVERS = (
    "pkgutil.resolve_name",
    "pydoc.locate",
    "logging.config._resolve",
    "torch._utils._import_dotted_name",
    "hydra.utils.get_method",
    "hydra.utils.get_class",
    "hydra.utils.get_object",
    "hydra._internal.utils._locate",
    "django.utils.module_loading.import_string",
    "werkzeug.utils.import_string",
    "kombu.utils.imports.symbol_by_name",
    "celery.utils.imports.symbol_by_name",
)


def _make_resolve_name(label: str) -> Handler:
    def handler(
        r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
    ) -> Value:
        text = text_of(args[0]) if args else None
        if text is None:
            r.record(None, args, kwargs, site, CALL, via_chain(via, f"{label} with a computed name"))
            r.trace.note(Note("PKL005", site, "resolves a name computed at load time", "resolve-name-computed"))
            return Unknown("computed name")
        if ":" in text:
            module, _, qual = text.partition(":")
        else:
            module, _, qual = text.partition(".")
        value = r.find_class(module, qual, site) if qual else r.module_ref(module, site)
        r._ref(value, site)
        r.record(label, args, kwargs, site, RESOLVER, via, value)
        return value

    return handler


for _name in NAME_RESOLVERS:
    HANDLERS[_name] = _make_resolve_name(_name)


def _make_getter(kind: str) -> Handler:
    def handler(
        r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
    ) -> Value:
        result = Getter(kind, args[:1], args[1:], kwargs) if kind == "methodcaller" else Getter(kind, args)
        r.record(f"operator.{kind}", args, kwargs, site, RESOLVER, via, result)
        return result

    return handler


for _kind in ("attrgetter", "itemgetter", "methodcaller"):
    HANDLERS[f"operator.{_kind}"] = _make_getter(_kind)


@_handles(
    "operator.getitem",
    "builtins.dict.get",
    "builtins.dict.__getitem__",
    "operator.__getitem__",
    "collections.defaultdict.__getitem__",
    "collections.OrderedDict.__getitem__",
)
def _op_getitem(
    r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
) -> Value:
    if len(args) < 2:
        return Unknown("getitem with missing arguments")
    result = r._getitem(args[0], args[1], site, via)
    r.record("operator.getitem", args, kwargs, site, RESOLVER, via, result)
    return result


@_handles("functools.partial")
def _partial(
    r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
) -> Value:
    if not args:
        return Unknown("partial without function")
    result = Partial(args[0], args[1:], kwargs)
    r.record("functools.partial", args, kwargs, site, RESOLVER, via, result)
    return result


@_handles("copyreg._reconstructor", "copyreg.__newobj__", "copyreg.__newobj_ex__", "builtins.object.__new__")
def _reconstructor(
    r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
) -> Value:
    cls = args[0] if args else Unknown("missing class")
    if isinstance(cls, Obj) and cls.target == "builtins.type" and len(cls.args) == 3:
        # An instance of a class the stream made with type(): its special methods run on it (del, hash ...).
        return r.invoke(cls, args[2:3], kwargs, site, "newobj", via_chain(via, "copyreg"), 1)
    target = name_of(cls)
    if target is None:
        r.record(None, args, kwargs, site, CALL, via_chain(via, "copyreg._reconstructor of a computed class"))
        return Unknown("instance of computed class")
    base = name_of(args[1]) if len(args) > 1 else "builtins.object"
    result = Obj(cls, args[1:], kwargs, target, site, new=True)
    r.record(target, args[1:], kwargs, site, NEW, via_chain(via, "copyreg"), result)
    if len(args) > 1 and base != "builtins.object":
        # _reconstructor(cls, base, state) runs base.__init__(obj, state) when base is not object.
        state = args[2:3]
        if base is None:
            r.record(None, state, (), site, CALL, via_chain(via, "copyreg._reconstructor with a computed base"))
        else:
            r.record(base, state, (), site, CALL, via_chain(via, f"copyreg._reconstructor runs {base}.__init__"))
    return result


@_handles("copyreg._inverted_registry.__setitem__", "copyreg._inverted_registry.setdefault")
def _inverted_registry_setitem(
    r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
) -> Value:
    if len(args) >= 2:
        r.register_extension(args[0], args[1], site)
    r.record("copyreg._inverted_registry.__setitem__", args, kwargs, site, RESOLVER, via)
    return Const(None)


@_handles("copyreg._inverted_registry.update")
def _inverted_registry_update(
    r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
) -> Value:
    if args and isinstance(args[0], DictV):
        for code, entry in args[0].items:
            r.register_extension(code, entry, site)
    r.record("copyreg._inverted_registry.update", args, kwargs, site, RESOLVER, via)
    return Const(None)


@_handles("copyreg.add_extension")
def _add_extension(
    r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
) -> Value:
    module = text_of(args[0]) if args else None
    name = text_of(args[1]) if len(args) > 1 else None
    code = int_of(args[2]) if len(args) > 2 else None
    if module is not None and name is not None and code is not None:
        r.extensions[code] = (module, name)
        r.trace.note(
            Note("PKL007", site, f"registers {module}.{name} as copyreg extension code {code}", f"ext:{module}.{name}")
        )
    r.record("copyreg.add_extension", args, kwargs, site, RESOLVER, via)
    return Const(None)


@_handles("builtins.vars")
def _vars(r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str) -> Value:
    result: Value = Unknown("vars()")
    if args and isinstance(args[0], ModuleRef):
        result = Namespace(args[0].module)
    r.record("builtins.vars", args, kwargs, site, RESOLVER, via, result)
    return result


@_handles(
    "types.FunctionType", "types.LambdaType", "dill._dill._create_function", "cloudpickle.cloudpickle._make_function"
)
def _function_type(
    r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
) -> Value:
    code = args[0] if args else None
    source = code.source if isinstance(code, Code) else None
    origin = code.origin if isinstance(code, Code) else "computed code"
    result = Code(source, "types.FunctionType", function=True, payload=code)
    r.record("types.FunctionType", args, kwargs, site, RESOLVER, via_chain(via, f"function from {origin}"), result)
    r.trace.used.discard("types.FunctionType")
    return result


@_handles("types.CodeType", "dill._dill._create_code")
def _code_type(
    r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
) -> Value:
    result = Code(None, "types.CodeType", payload=Tuple(args))
    r.record("types.CodeType", args, kwargs, site, RESOLVER, via, result)
    r.trace.used.discard("types.CodeType")
    return result


@_handles("builtins.compile")
def _compile(
    r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
) -> Value:
    source = text_of(args[0]) if args else None
    result = Code(source, "builtins.compile", payload=args[0] if args else None)
    r.record("builtins.compile", args, kwargs, site, RESOLVER, via, result)
    r.trace.used.discard("builtins.compile")
    return result


@_handles("marshal.loads")
def _marshal(
    r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
) -> Value:
    result = Code(None, "marshal.loads", payload=args[0] if args else None)
    r.record("marshal.loads", args, kwargs, site, LOADER, via, result)
    return result


def _make_decoder(name: str) -> Handler:
    def handler(
        r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
    ) -> Value:
        data = r.materialize(args[0]) if args else None
        if isinstance(data, Const) and isinstance(data.value, (bytes, str)):
            try:
                out, label = pure.decode_bytes(name, data.value)
            except Exception:
                r.record(name, args, kwargs, site, PURE, via)
                return Unknown(f"result of {name}")
            inner = r.labels.get(id(data))
            result = r.labelled(Const(out), f"{inner}+{label}" if inner else label)
            r.record(name, args, kwargs, site, PURE, via, result)
            return result
        r.record(name, args, kwargs, site, PURE, via)
        return Unknown(f"result of {name}")

    return handler


for _name in pure.BYTE_DECODERS:
    HANDLERS[_name] = _make_decoder(_name)


#: How protocol-2 numpy arrays carry raw bytes; kept symbolic so tensor data is never read.
_LATIN1 = frozenset({"latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1"})


def _make_codec(decode: bool) -> Handler:
    name = "codecs.decode" if decode else "codecs.encode"

    def handler(
        r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
    ) -> Value:
        data = args[0] if args else None
        enc_v = args[1] if len(args) > 1 else _kw(kwargs, "encoding")
        encoding = (text_of(enc_v) if enc_v is not None else "utf-8") or "?"
        if isinstance(data, LargeBytes) and encoding.lower().replace("_", "-") not in _LATIN1:
            data = r.materialize(data)
        if isinstance(data, LargeBytes):
            # numpy protocol-2 arrays: _codecs.encode(<latin-1 text>, 'latin1') -> bytes, kept symbolic
            result: Value = LargeBytes(data.offset, data.length, data.prefix, text=not data.text)
            r.record(name, args, kwargs, site, PURE, via, result)
            return result
        if isinstance(data, Const) and isinstance(data.value, (str, bytes)):
            try:
                out, label = pure.codec_transform(data.value, encoding, decode=decode)
            except Exception:
                r.record(name, args, kwargs, site, PURE, via)
                return Unknown(f"result of {name}")
            if isinstance(out, (str, bytes)):
                inner = r.labels.get(id(data))
                result = Const(out)
                if label != "text":
                    r.labelled(result, f"{inner}+{label}" if inner else label)
                r.record(name, args, kwargs, site, PURE, via, result)
                return result
        r.record(name, args, kwargs, site, PURE, via)
        return Unknown(f"result of {name}")

    return handler


HANDLERS["codecs.decode"] = _make_codec(True)
HANDLERS["codecs.encode"] = _make_codec(False)


def _make_str_method(kind: str, method: str) -> Handler:
    target = f"builtins.{kind}.{method}"

    def handler(
        r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
    ) -> Value:
        if not args or not isinstance(args[0], Const):
            r.record(target, args, kwargs, site, PURE, via)
            return Unknown(f"result of {target}")
        return r._pure(target, args[0].value, method, args[1:], site, via)

    return handler


# Unbound (``builtins.str.swapcase``) and bound calls emulate the same methods: pure.STR_METHODS.
for _kind2 in ("str", "bytes"):
    for _m in sorted(pure.STR_METHODS):
        HANDLERS[f"builtins.{_kind2}.{_m}"] = _make_str_method(_kind2, _m)


def _make_sequence(name: str) -> Handler:
    """Sequence builders over constants (``reversed('metsys')``) stay known; anything else is an object."""

    def handler(
        r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
    ) -> Value:
        items: list[Value] | None = None
        arg = args[0] if len(args) == 1 and not kwargs else None
        if isinstance(arg, Const) and isinstance(arg.value, str) and len(arg.value) <= 4096:
            items = [Const(c) for c in arg.value]
        elif isinstance(arg, (Tuple, ListV, SetV, Iter)) and arg.items is not None and r.charge(len(arg.items)):
            items = list(arg.items)
            if isinstance(arg, Iter):
                arg.items = []  # consumed
        if items is None:
            obj = Obj(Global(*name.rsplit(".", 1)), args, kwargs, name, site)
            r.record(name, args, kwargs, site, CALL, via, obj)
            return obj
        result: Value
        if name == "builtins.list":
            # A real list: its methods (pop, append ...) act on it like on one built by the opcodes.
            result = ListV(list(items))
        else:
            result = Tuple(tuple(reversed(items)) if name == "builtins.reversed" else tuple(items))
        r.record(name, args, kwargs, site, PURE, via, result)
        return result

    return handler


for _name in ("builtins.reversed", "builtins.list", "builtins.tuple"):
    HANDLERS[_name] = _make_sequence(_name)


@_handles("operator.add", "operator.concat", "operator.__add__", "operator.__concat__")
def _add(r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str) -> Value:
    if len(args) == 2 and isinstance(args[0], Const):
        return r._pure("operator.add", args[0].value, "__add__", args[1:], site, via)
    r.record("operator.add", args, kwargs, site, PURE, via)
    return Unknown("result of operator.add")


@_handles("builtins.str", "builtins.bytes", "builtins.bytearray")
def _convert(
    r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
) -> Value:
    result: Value = Obj(Global("builtins", "bytes"), args, kwargs, "builtins.bytes", site)
    if len(args) == 1 and isinstance(args[0], Const) and isinstance(args[0].value, (str, bytes)):
        result = args[0]
    elif len(args) == 2 and isinstance(args[0], Const) and isinstance(args[0].value, (str, bytes)):
        enc = text_of(args[1]) or "utf-8"
        try:
            out, _ = pure.codec_transform(args[0].value, enc, decode=isinstance(args[0].value, bytes))
            if isinstance(out, (str, bytes)):
                result = Const(out)
        except Exception:
            pass
    else:
        seq = sequence_of(args[0]) if len(args) == 1 else None
        if seq is not None and all(int_of(v) is not None and 0 <= (int_of(v) or 0) < 256 for v in seq):
            result = Const(bytes(int_of(v) or 0 for v in seq))
    r.record("builtins.bytes", args, kwargs, site, PURE, via, result)
    return result


@_handles("builtins.setattr", "builtins.object.__setattr__")
def _setattr(
    r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
) -> Value:
    """setattr(module_or_class, name, value): a monkey-patch later lookups see (like BUILD on a global)."""
    name = text_of(args[1]) if len(args) > 2 else None
    if name is not None:
        target, value = args[0], args[2]
        base = name_of(target)
        if isinstance(target, (Global, ModuleRef)) and base is not None:
            r.patch(base, name, value)
            r.trace.note(Note("PKL014", site, f"setattr sets {name} on {base}", f"{base}.{name}", render(value, 120)))
        elif isinstance(target, Obj):
            target.attrs[name] = value
    r.record("builtins.setattr", args, kwargs, site, CALL, via)
    return Const(None)


def _payload_of(r: Resolver, value: Value, depth: int = 0) -> tuple[Value | None, str]:
    if isinstance(value, Const) and isinstance(value.value, (bytes, str)):
        return value, r.labels.get(id(value), "raw")
    if isinstance(value, LargeBytes):
        return value, "raw"
    wrappers = ("io.BytesIO", "builtins.bytes", "builtins.bytearray", "builtins.memoryview")
    if isinstance(value, Obj) and depth < 4 and value.args and value.target in wrappers:
        return _payload_of(r, value.args[0], depth + 1)
    return None, ""


#: Unpickler classes whose ``load()`` method deserialises the stream they were built on.
UNPICKLERS = frozenset(
    {
        "pickle.Unpickler",
        "pickle._Unpickler",
        "dill.Unpickler",
        "dill._dill.Unpickler",
        "joblib.numpy_pickle.NumpyUnpickler",
    }
)


def run_loader(
    r: Resolver, name: str, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
) -> Value:
    """A nested loader call: find its byte payload among the arguments and have it scanned."""
    payload: Value | None = None
    label = ""
    for data in (*args[:3], *(v for k, v in kwargs if k in ("data", "file", "f", "fp", "b"))):
        payload, label = _payload_of(r, data)
        if payload is not None:
            break
    if payload is not None:
        r.trace.nested.append(r.scan_payload(payload, site, name, label))
    else:
        r.trace.nested.append(NestedPayload(site, name, "", None, "payload computed at load time"))
    r.record(name, args, kwargs, site, LOADER, via)
    return Unknown(f"object loaded by {name}")


def _make_loader(name: str) -> Handler:
    def handler(
        r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
    ) -> Value:
        return run_loader(r, name, args, kwargs, site, via)

    return handler


for _name in NESTED_LOADERS:
    HANDLERS[_name] = _make_loader(_name)


# dill / cloudpickle rebuild functions, classes and cells from parts. Rebuilding runs nothing by itself;
# what matters is whether the rebuilt function is called, which the Code values track.
_SERIALIZER_HELPERS = (
    "cloudpickle.cloudpickle._function_setstate",
    "cloudpickle.cloudpickle._class_setstate",
    "cloudpickle.cloudpickle._make_empty_cell",
    "cloudpickle.cloudpickle._make_cell",
    "cloudpickle.cloudpickle._make_skeleton_class",
    "cloudpickle.cloudpickle._make_skeleton_enum",
    "cloudpickle.cloudpickle._make_dict_keys",
    "cloudpickle.cloudpickle._make_dict_values",
    "cloudpickle.cloudpickle._make_dict_items",
    "dill._dill._create_cell",
    "dill._dill._create_namedtuple",
    "dill._dill._create_type",
    "dill._dill._setattr",
)


def _make_helper(name: str) -> Handler:
    def handler(
        r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
    ) -> Value:
        result = Obj(Global(*name.rsplit(".", 1)), args, kwargs, name, site)
        r.record(name, args, kwargs, site, PURE, via, result)
        return result

    return handler


for _name in _SERIALIZER_HELPERS:
    HANDLERS[_name] = _make_helper(_name)


@_handles("cloudpickle.cloudpickle._builtin_type", "dill._dill._load_type")
def _builtin_type(
    r: Resolver, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, via: str
) -> Value:
    """``_builtin_type('CodeType')`` is ``types.CodeType``: a name resolver like getattr(types, ...)."""
    name = text_of(args[0]) if args else None
    if name is None:
        r.record(None, args, kwargs, site, CALL, via_chain(via, "builtin type chosen at load time"))
        return Unknown("computed type")
    value = r.get_attr(r.module_ref("types", site), name, site)
    r._ref(value, site)
    r.record("cloudpickle.cloudpickle._builtin_type", args, kwargs, site, RESOLVER, via, value)
    return value
