"""Resolution: what each GLOBAL, attribute, call and BUILD of the stream really reaches.

The resolver is the machine's ``Host``. It follows the indirections attackers use
(getattr/__import__/import_module/attrgetter/methodcaller/partial/pkgutil.resolve_name,
``sys.modules``, ``vars(module)``, ``glob.os``, copyreg extension codes, attributes set
by BUILD), computes pure data transforms (base64, zlib, str.join ...) and records
every call in the trace. It never imports or runs anything it names.
"""

from __future__ import annotations

import re

# The standard library's py2 -> py3 name tables (pure data), as the unpickler applies them.
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING
from collections.abc import Callable
from dataclasses import dataclass, replace

from modelsieve.limits import Limits
from modelsieve.pickle import callers, containers, pure
from modelsieve.pickle.handlers import (
    DOWNLOADERS,
    HANDLERS,
    MAX_INLINE_ITEMS,
    UNPICKLERS,
    Handler,
    run_loader,
    state_items,
    url_of,
    via_chain,
)
from modelsieve.pickle.render import name_of, render
from modelsieve.pickle.trace import BOUND, CALL, METHOD, NEW, PURE, RESOLVER, CallEvent, NestedPayload, Note, Trace
from modelsieve.pickle.values import (
    Attr,
    Code,
    Const,
    DictV,
    Downloaded,
    Getter,
    Global,
    LargeBytes,
    ListV,
    ModuleRef,
    Namespace,
    Obj,
    Partial,
    Persistent,
    Site,
    Tuple,
    Unknown,
    Value,
    code_origin,
    int_of,
    sequence_of,
    text_of,
)
from modelsieve.rules.policy import Policy, Safety

#: Attribute names that reach interpreter internals (PKL013).
DUNDERS = frozenset(
    {
        "__class__",
        "__base__",
        "__bases__",
        "__mro__",
        "__subclasses__",
        "__globals__",
        "__builtins__",
        "__dict__",
        "__code__",
        "__closure__",
        "__getattribute__",
        "__self__",
        "__func__",
        "__loader__",
        "__spec__",
        "__init__",
        "__reduce__",
        "__reduce_ex__",
        "__getattr__",
        "__setattr__",
        "__delattr__",
        "__get__",
        "__defaults__",
        "__kwdefaults__",
        "__wrapped__",
        "__objclass__",
        "__init_subclass__",
    }
)


_DICT_METHODS = frozenset({"get", "__getitem__", "pop", "setdefault", "keys", "values", "items", "copy", "update"})
_MAX_INVOKE_DEPTH = 12
_MAX_ACTIVE_CALLS = 48

ScanPayload = Callable[[Value, Site, str, str], NestedPayload]
#: Reads a skipped payload back from the stream when a transform needs its bytes (None: too big).
ReadLarge = Callable[[LargeBytes], "Const | None"]
AfterBuild = Callable[["Resolver", Value, object, Site], "Value | None"]


@dataclass(frozen=True)
class Options:
    """How the stream is loaded: joblib array emulation and torch persistent ids."""

    joblib_arrays: bool = False
    persistent_load: str | None = None


def _slice_of(key: Value) -> slice | None:
    """``builtins.slice(a, b[, c])`` with constant bounds as a Python slice."""
    if not (isinstance(key, Obj) and key.target == "builtins.slice" and 1 <= len(key.args) <= 3):
        return None
    bounds: list[int | None] = []
    for v in key.args:
        if isinstance(v, Const) and (v.value is None or (isinstance(v.value, int) and not isinstance(v.value, bool))):
            bounds.append(v.value if isinstance(v.value, int) else None)
        else:
            return None
    return slice(*bounds)


def _class_like(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last[:1].isupper()


class Resolver:
    """The machine's host: resolves names and calls, records them in ``trace``."""

    def __init__(
        self,
        policy: Policy,
        trace: Trace,
        limits: Limits,
        scan_payload: ScanPayload,
        options: Options = Options(),
        after_build_hook: AfterBuild | None = None,
        read_large: ReadLarge | None = None,
    ) -> None:
        self.policy = policy
        self.read_large = read_large
        self.trace = trace
        self.limits = limits
        self.scan_payload = scan_payload
        self.options = options
        self.after_build_hook = after_build_hook
        self.extensions: dict[int, tuple[str, str]] = {}
        self.patches: dict[str, Value] = {}
        #: ``sys.modules[name] = value`` written by the stream: later imports of ``name`` get ``value``.
        self.module_hijacks: dict[str, Value] = {}
        #: Special methods replaced per class, called implicitly on its instances.
        self.special_patches: dict[str, dict[str, Value]] = {}
        self.labels: dict[int, str] = {}
        self._keep: list[Value] = []
        self.inline_depth = 0
        #: Items the emulation may still copy into values it keeps (sorted(x), list(x), d.copy() ...): without a
        #: bound, copying one large list once per opcode would hold billions of references.
        self.copy_budget = limits.max_value_nodes * 4
        #: Calls in progress: handlers call back into ``invoke``, so a cyclic partial would otherwise recurse forever.
        self._active = 0
        self._handlers: dict[str, Handler] = HANDLERS

    def materialize(self, value: Value | None) -> Value | None:
        """The bytes of a skipped payload, read back only when a transform (decode,
        decompress ...) needs them, so plain tensor data never stays in memory."""
        if isinstance(value, LargeBytes) and self.read_large is not None:
            data = self.read_large(value)
            if data is not None:
                self._keep.append(data)
                return data
        return value

    # ------------------------------------------------------------------ names
    def canonical(self, module: str, name: str) -> tuple[str, str]:
        if (module, name) in NAME_MAPPING:
            module, name = NAME_MAPPING[(module, name)]
        elif module in IMPORT_MAPPING:
            module = IMPORT_MAPPING[module]
        return self.policy.canonical_module(module), name

    def module_ref(self, module: str, site: Site) -> ModuleRef:
        mod = self.policy.canonical_module(IMPORT_MAPPING.get(module, module))
        self.trace.imported_modules.setdefault(mod, site)
        return ModuleRef(mod)

    def find_class(self, module: str, name: str, site: Site, proto: int | None = None) -> Value:
        """``Unpickler.find_class``; ``proto`` is the stream's protocol when the stream itself names the global
        (GLOBAL, STACK_GLOBAL, INST, EXT): below 4 the loader does not walk dotted names."""
        written = module
        module, name = self.canonical(module, name)
        hijack = self.module_hijacks.get(module)
        value: Value = hijack if hijack is not None else self.module_ref(module, site)
        if not name:
            return Unknown("empty global name")
        if proto is not None and proto < 4 and "." in name:
            return self._refused_dotted(module, name, site, proto)
        for part in name.split("."):
            value = self.get_attr(value, part, site)
        if (
            isinstance(value, Global)
            and written != value.module
            and value.module == self.policy.canonical_module(module)
        ):
            value = Global(value.module, value.qualname, alias=written)
        self._ref(value, site)
        return value

    def _refused_dotted(self, module: str, name: str, site: Site, proto: int) -> Value:
        """A dotted name the loader cannot resolve: ``getattr(module, 'a.b')`` raises, loading stops here."""
        intended: Value = self.module_ref(module, site)
        for part in name.split("."):
            intended = self.get_attr(intended, part, site)
        self._ref(intended, site)
        self.trace.note(
            Note(
                "PKL005",
                site,
                f"global {module}.{name} is a dotted name in a protocol-{proto} stream: loaders follow dots only "
                f"from protocol 4 on, so loading fails here (AttributeError) instead of reaching "
                f"{name_of(intended) or render(intended, 60)}",
                "dotted-name-below-protocol-4",
                f"{module} {name}",
            )
        )
        return Unknown(f"{_REFUSED} {module}.{name} at protocol {proto}")

    def _ref(self, value: Value, site: Site) -> None:
        if isinstance(value, Global):
            self.trace.ref(value.name, site)
        elif isinstance(value, ModuleRef):
            self.trace.ref(value.module, site)

    def _dunder(self, base: str, name: str, site: Site) -> None:
        self.trace.note(
            Note("PKL013", site, f"reaches interpreter internals: {base}.{name}", f"{base}.{name}", f"{base}.{name}")
        )

    def get_attr(self, obj: Value, name: str, site: Site) -> Value:
        """``getattr(obj, name)`` on symbolic values."""
        if name == "__call__" and isinstance(obj, (Global, Attr, Partial, Getter, Code)):
            return obj
        if name in ("__func__", "__wrapped__") and isinstance(obj, Partial) and obj.kind != "functools.partial":
            return obj.func
        if name in DUNDERS:
            self._dunder(name_of(obj) or render(obj, 60), name, site)
        if isinstance(obj, ModuleRef):
            full = f"{obj.module}.{name}"
            if full in self.patches:
                return self.patches[full]
            if name == "__builtins__":
                # In every module but __main__, __builtins__ is the builtins module's dict.
                return Namespace("builtins")
            if name == "__dict__":
                return Namespace(obj.module)
            if obj.module == "sys" and name == "modules":
                self.trace.ref("sys.modules", site)
                return Namespace("")
            if self._module_attribute(obj.module, name):
                return self.module_ref(self.policy.attribute_module(name), site)
            return Global(obj.module, name)
        if isinstance(obj, Global):
            full = f"{obj.name}.{name}"
            if full in self.patches:
                return self.patches[full]
            if name == "__globals__":
                return Namespace(obj.module)
            if name == "__builtins__":
                return Namespace("builtins")
            if name == "__self__" and obj.module == "builtins" and "." not in obj.qualname:
                return ModuleRef("builtins")
            if not _class_like(obj.qualname) and self._module_attribute(obj.name, name):
                # ``os.path`` is a Global until proven a module; ``os.path.os`` is the os module.
                return self.module_ref(self.policy.attribute_module(name), site)
            if name == "__module__":
                return Const(obj.module)
            if name == "__name__":
                return Const(obj.qualname.rsplit(".", 1)[-1])
            if name == "__qualname__":
                return Const(obj.qualname)
            return Global(obj.module, f"{obj.qualname}.{name}")
        if isinstance(obj, Obj):
            if name in obj.attrs:
                found = obj.attrs[name]
                if isinstance(found, Partial) and found.kind == "builtins.property" and obj.target is None:
                    return callers.read_property(self, obj, name, found, site)
                return found
            if obj.target in DOWNLOADERS and name in ("text", "content"):
                return Downloaded(url_of(obj))
            return Attr(obj, name)
        if isinstance(obj, Namespace) and obj.module and name not in _DICT_METHODS:
            return self.get_attr(ModuleRef(obj.module), name, site)
        if isinstance(obj, Partial) and name in ("func", "args", "keywords"):
            return obj.func if name == "func" else Tuple(obj.args)
        return Attr(obj, name)

    def _module_attribute(self, module: str, name: str) -> bool:
        """Whether ``module.name`` is the module ``name`` imported there (``glob.os``), not a submodule or function."""
        full = f"{module}.{name}"
        return (
            name in self.policy.module_attributes
            and full not in self.policy.not_aliases
            and module.rsplit(".", 1)[-1] != name
        )

    # ------------------------------------------------------------------ calls
    def record(
        self,
        target: str | None,
        args: tuple[Value, ...],
        kwargs: tuple[tuple[str, Value], ...],
        site: Site,
        role: str,
        via: str = "",
        result: Value | None = None,
        display: str | None = None,
    ) -> None:
        if len(self.trace.calls) >= self.limits.max_value_nodes:
            return
        self.trace.calls.append(CallEvent(target, args, kwargs, site, role, via, result, display))
        if target is not None and role != NEW:
            self.trace.used.add(target)

    def call(
        self, func: Value, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, how: str
    ) -> Value:
        return self.invoke(func, args, kwargs, site, how, "", 0)

    def charge(self, items: int) -> bool:
        """Take ``items`` from the copy budget; False (copy nothing) once it is spent."""
        if items > self.copy_budget:
            return False
        self.copy_budget -= items
        return True

    def invoke(
        self,
        func: Value,
        args: tuple[Value, ...],
        kwargs: tuple[tuple[str, Value], ...],
        site: Site,
        how: str,
        via: str,
        depth: int,
    ) -> Value:
        if self._active > _MAX_ACTIVE_CALLS:
            self.record(None, args, kwargs, site, CALL, via or "calls nested too deeply")
            return Unknown("result of unresolved call")
        self._active += 1
        try:
            return self._invoke(func, args, kwargs, site, how, via, depth)
        finally:
            self._active -= 1

    def _invoke(
        self,
        func: Value,
        args: tuple[Value, ...],
        kwargs: tuple[tuple[str, Value], ...],
        site: Site,
        how: str,
        via: str,
        depth: int,
    ) -> Value:
        if depth > _MAX_INVOKE_DEPTH:
            self.record(None, args, kwargs, site, CALL, via or "indirection too deep")
            return Unknown("result of unresolved call")
        if isinstance(func, Partial):
            return self.invoke(
                func.func,
                func.args + args,
                func.kwargs + kwargs,
                site,
                how,
                via_chain(via, f"{func.kind}({render(func.func, 80)})"),
                depth + 1,
            )
        if isinstance(func, Getter):
            return self._apply_getter(func, args, site, via, depth)
        if isinstance(func, Code):
            if not func.function:
                self.record(None, args, kwargs, site, CALL, via_chain(via, "calls a code object"))
                return Unknown("result of calling a code object")
            target = func.origin if func.origin in ("types.FunctionType", "types.LambdaType") else "builtins.exec"
            self.trace.used.add(target)
            link: Value | None = func
            for _ in range(8):
                if not isinstance(link, Code):
                    break
                self.trace.used.add(link.origin)
                link = link.payload
            how_built = f"calls a function built by {func.origin} from {code_origin(func)}"
            self.record(target, (func, *args), kwargs, site, CALL, via_chain(via, how_built))
            return Unknown("result of a function built from code")
        if isinstance(func, Attr):
            return self._call_method(func.obj, func.name, args, kwargs, site, how, via, depth)
        if isinstance(func, (Global, ModuleRef)):
            name = name_of(func) or ""
            handler = self._handlers.get(name)
            receiver = args[0] if args and isinstance(args[0], Obj) else None
            if handler is None and receiver is not None and receiver.target and name.startswith(receiver.target + "."):
                method = name[len(receiver.target) + 1 :]
                if (receiver.target, method) in callers.REGISTRY_METHODS:
                    return self._call_method(receiver, method, args[1:], kwargs, site, how, via, depth)
            if handler is not None:
                before = len(self.trace.calls)
                result = handler(self, args, kwargs, site, via)
                if isinstance(func, Global) and func.alias and len(self.trace.calls) > before:
                    ev = self.trace.calls[before]
                    if ev.target == name:
                        # Built directly: dataclasses.replace costs more than the rest of a numpy array's call.
                        self.trace.calls[before] = CallEvent(
                            ev.target, ev.args, ev.kwargs, ev.site, ev.role, ev.via, ev.result, func.display
                        )
                return result
            return self._default_call(func, name, args, kwargs, site, how, via)
        if callers.is_dynamic_class(func) and isinstance(func, Obj):
            return callers.instantiate(self, func, args, kwargs, site, via, depth)
        if isinstance(func, Obj) and "__call__" in func.attrs:
            return self.invoke(func.attrs["__call__"], args, kwargs, site, how, via, depth + 1)
        if isinstance(func, Obj) and func.target is not None:
            return self._bound_call(func, func.target, "__call__", args, kwargs, site, via, depth)
        if isinstance(func, Unknown) and func.reason.startswith(_REFUSED):
            # Loading already failed at the refused global; the loader never gets here (reported there).
            return Unknown("result of a call after loading failed")
        self.record(None, args, kwargs, site, CALL, via_chain(via, f"calls {render(func, 80)}"))
        return Unknown("result of unresolved call")

    def _default_call(
        self,
        func: Value,
        name: str,
        args: tuple[Value, ...],
        kwargs: tuple[tuple[str, Value], ...],
        site: Site,
        how: str,
        via: str,
    ) -> Value:
        role = CALL
        target = name
        if how == "newobj" or (how in ("obj", "inst") and not args and _class_like(name)):
            role = NEW
        if name.endswith(".__new__"):
            role = NEW
            target = (name_of(args[0]) if args else None) or name.removesuffix(".__new__")
            args = args[1:]
        result = Obj(func, args, kwargs, target, site, new=role == NEW)
        display = func.display if isinstance(func, Global) and target == name else None
        self.record(target, args, kwargs, site, role, via, result, display)
        if target in self.special_patches:
            self._patched_dunders(target, args, site)
        return result

    def _patched_dunders(self, cls: str, args: tuple[Value, ...], site: Site) -> None:
        """Instances of a class whose special methods the stream replaced call them implicitly (hash, eq, del ...)."""
        for dunder, value in list(self.special_patches[cls].items())[: callers.MAX_DUNDERS]:
            label = f"{cls}.{dunder} replaced in the stream, called implicitly"
            self.invoke(value, callers.dunder_args(dunder, args), (), site, "reduce", label, 1)

    def patch(self, base: str, name: str, value: Value) -> None:
        """Record ``base.name = value`` set by the stream (BUILD on a global, setattr)."""
        self.patches[f"{base}.{name}"] = value
        if name.startswith("__") and name.endswith("__"):
            self.special_patches.setdefault(base, {})[name] = value

    def _call_method(
        self,
        obj: Value,
        method: str,
        args: tuple[Value, ...],
        kwargs: tuple[tuple[str, Value], ...],
        site: Site,
        how: str,
        via: str,
        depth: int,
    ) -> Value:
        label = f"{name_of(obj) or render(obj, 60)}.{method}"
        if isinstance(obj, Namespace) and method in ("get", "__getitem__", "pop", "setdefault") and args:
            return self._namespace_get(obj, args[0], site, via_chain(via, label))
        if isinstance(obj, Namespace) and method in ("__setitem__", "update") and args:
            self.mutate(obj, method, args, site)
            return Const(None)
        if containers.is_container(obj):
            if method == "sort":
                return self.invoke(Global("builtins", "list.sort"), (obj, *args), kwargs, site, how, via, depth + 1)
            found = containers.container_method(self, obj, method, args, site, via_chain(via, label))
            if found is not None:
                return found
        if isinstance(obj, (Const, LargeBytes)):
            return self._pure_method(obj, method, args, site, via)
        if isinstance(obj, Obj):
            if method in obj.attrs:
                return self.invoke(obj.attrs[method], args, kwargs, site, how, via_chain(via, label), depth + 1)
            if obj.target in UNPICKLERS and method == "load":
                return run_loader(self, f"{obj.target}.load", obj.args, obj.kwargs, site, via_chain(via, label))
            if obj.target in UNPICKLERS and method == "find_class" and len(args) >= 2:
                names = [text_of(a) for a in args[:2]]
                if names[0] is not None and names[1] is not None:
                    value = self.find_class(names[0], names[1], site)
                    self.record(f"{obj.target}.find_class", args, kwargs, site, RESOLVER, via, value)
                    return value
            registered = callers.registry_method(self, obj, method, args, kwargs, site, via_chain(via, label))
            if registered is not None:
                return registered
            if obj.target in DOWNLOADERS and method in ("read", "json", "readlines", "readline", "read1"):
                self.record(f"{obj.target}.{method}", args, kwargs, site, METHOD, via_chain(via, label))
                return Downloaded(url_of(obj))
            if obj.target is not None:
                return self._bound_call(obj, obj.target, method, args, kwargs, site, via, depth)
        self.record(None, args, kwargs, site, CALL, via_chain(via, f"calls {label}"))
        return Unknown("result of unresolved method call")

    def _bound_call(
        self,
        obj: Obj,
        cls: str,
        method: str,
        args: tuple[Value, ...],
        kwargs: tuple[tuple[str, Value], ...],
        site: Site,
        via: str,
        depth: int,
    ) -> Value:
        """``obj.method(*args)`` on an object of class ``cls`` built by the stream (``obj(*args)`` is ``__call__``).

        Recorded as a call of ``cls.method``: dangerous ones are calls, every other one is a bound-method call
        the findings report unless allowed. Wrappers that forward the call to a function they hold run it."""
        target = f"{cls}.{method}"
        dangerous = self.policy.classify(target).safety is Safety.DANGEROUS
        how = f"calls a built {cls} object" if method == "__call__" else f"method of {render(obj, 80)}"
        label = via_chain(via, how)
        result = Obj(Attr(obj, method), args, kwargs, target, site)
        before = len(self.trace.calls)
        self.record(target, args, kwargs, site, CALL if dangerous else BOUND, label, result)
        forwarded = callers.forward_call(self, obj, method, args, kwargs, site, label, depth)
        if forwarded is None:
            return Unknown("result of calling an object") if method == "__call__" else result
        if dangerous and before < len(self.trace.calls) and self.trace.calls[before].target == target:
            # A denied wrapper (building it is reported) only chooses what runs: the forwarded call is the act.
            self.trace.calls[before] = replace(self.trace.calls[before], role=RESOLVER)
        return forwarded

    def _namespace_get(self, ns: Namespace, key: Value, site: Site, via: str) -> Value:
        name = text_of(key)
        target = "sys.modules.get" if not ns.module else f"vars({ns.module}).get"
        if name is None:
            self.record(None, (key,), (), site, CALL, via_chain(via, f"{target} with a computed key"))
            return Unknown("namespace lookup with computed key")
        result: Value
        if not ns.module:
            result = self.module_hijacks.get(name) or self.module_ref(name, site)
        else:
            result = self.get_attr(ModuleRef(ns.module), name, site)
        self._ref(result, site)
        self.record(target, (key,), (), site, RESOLVER, via, result)
        return result

    def _apply_getter(self, getter: Getter, args: tuple[Value, ...], site: Site, via: str, depth: int) -> Value:
        label = f"operator.{getter.kind}({', '.join(render(n, 40) for n in getter.names)})"
        subject = args[0] if args else Unknown("missing argument")
        if getter.kind == "methodcaller":
            name = text_of(getter.names[0]) if getter.names else None
            if name is None:
                self.record(None, args, (), site, CALL, via_chain(via, label))
                return Unknown("methodcaller with computed name")
            method = self.get_attr(subject, name, site)
            self._ref(method, site)
            return self.invoke(method, getter.args, getter.kwargs, site, "reduce", via_chain(via, label), depth + 1)
        results: list[Value] = []
        for n in getter.names:
            key = text_of(n)
            if getter.kind == "attrgetter":
                if key is None:
                    self.record(None, args, (), site, CALL, via_chain(via, label))
                    return Unknown("attrgetter with computed name")
                value = subject
                for part in key.split("."):
                    value = self.get_attr(value, part, site)
                self._ref(value, site)
            else:
                value = self._getitem(subject, n, site, via)
            results.append(value)
        result = results[0] if len(results) == 1 else Tuple(tuple(results))
        self.record(f"operator.{getter.kind}", args, (), site, RESOLVER, via_chain(via, label), result)
        return result

    def _getitem(self, obj: Value, key: Value, site: Site, via: str) -> Value:
        if isinstance(obj, Namespace):
            return self._namespace_get(obj, key, site, via)
        if isinstance(obj, Obj) and obj.target == "collections.defaultdict" and obj.args:
            # A missing key calls the default factory (defaultdict.__missing__).
            return self.invoke(obj.args[0], (), (), site, "reduce", via_chain(via, "defaultdict.__missing__"), 1)
        if isinstance(obj, Obj) and obj.target == "builtins.slice":
            return Unknown("slice used as a container")
        part = _slice_of(key)
        if part is not None and isinstance(obj, Const) and isinstance(obj.value, (str, bytes)):
            return Const(obj.value[part])
        if isinstance(obj, DictV):
            index = containers.dict_find(obj, key)
            return obj.items[index][1] if index is not None else Unknown("dict lookup")
        if part is not None and isinstance(obj, (Tuple, ListV)) and self.charge(len(obj.items)):
            picked = list(obj.items[part])
            return ListV(picked) if isinstance(obj, ListV) else Tuple(tuple(picked))
        seq = sequence_of(obj)
        idx = int_of(key)
        if seq is not None and idx is not None and -len(seq) <= idx < len(seq):
            return seq[idx]
        if isinstance(obj, Const) and isinstance(obj.value, (str, bytes)) and idx is not None:
            try:
                return Const(obj.value[idx])
            except IndexError:
                return Unknown("index out of range")
        return Unknown("item of a computed value")

    def _pure_method(
        self, obj: Const | LargeBytes, method: str, args: tuple[Value, ...], site: Site, via: str
    ) -> Value:
        read = self.materialize(obj)
        if isinstance(read, Const):
            obj = read
        kind = "str" if isinstance(obj, Const) and isinstance(obj.value, str) else "bytes"
        target = f"builtins.{kind}.{method}"
        if isinstance(obj, LargeBytes):
            self.record(target, args, (), site, PURE, via)
            return Unknown("transform of a large payload")
        return self._pure(target, obj.value, method, args, site, via)

    def _pure(self, target: str, receiver: object, method: str, args: tuple[Value, ...], site: Site, via: str) -> Value:
        plain: list[object] = []
        for a in args:
            seq = sequence_of(a)
            if seq is not None:
                items = [x.value for x in seq if isinstance(x, Const)]
                if len(items) != len(seq):
                    break
                plain.append(items)
            elif isinstance(a, Const):
                plain.append(a.value)
            else:
                break
        else:
            try:
                value = pure.string_method(receiver, method, plain)
            except Exception:
                value = None
            if isinstance(value, (str, bytes, int)):
                result = Const(value)
                self.record(target, args, (), site, PURE, via, result)
                return result
        self.record(target, args, (), site, PURE, via)
        return Unknown(f"result of {target}")

    def labelled(self, value: Value, label: str) -> Value:
        self.labels[id(value)] = label
        self._keep.append(value)
        return value

    # ------------------------------------------------------------ BUILD & co
    def build(self, obj: Value, state: Value, site: Site) -> None:
        if isinstance(obj, Partial):
            seq = sequence_of(state)
            if seq and len(seq) >= 2:
                obj.func = seq[0]
                obj.args = tuple(sequence_of(seq[1]) or ())
                if len(seq) > 2 and isinstance(seq[2], DictV):
                    obj.kwargs = tuple((text_of(k) or "?", v) for k, v in seq[2].items)
            return
        if isinstance(obj, Obj):
            setstate = obj.attrs.get("__setstate__")
            if setstate is not None:
                self.invoke(setstate, (state,), (), site, "build", "BUILD calls an injected __setstate__", 0)
                return
            for key, value in state_items(state):
                obj.attrs[key] = value
            if not isinstance(state, DictV) and not (isinstance(state, Tuple) and len(state.items) == 2):
                obj.state.append(state)
            return
        if isinstance(obj, (Global, ModuleRef)):
            base = name_of(obj) or "?"
            items = state_items(state)
            for key, value in items:
                self.patch(base, key, value)
            if items:
                keys = ", ".join(k for k, _ in items[:5])
                self.trace.note(
                    Note(
                        "PKL014",
                        site,
                        f"BUILD sets attribute(s) {keys} on {base}",
                        f"{base}.{items[0][0]}",
                        render(state, 200),
                    )
                )
            elif not isinstance(state, Const) or state.value is not None:
                self.record(f"{base}.__setstate__", (state,), (), site, CALL, "BUILD on an imported object")

    def after_build(self, obj: Value, machine: object, site: Site) -> Value | None:
        if self.after_build_hook is None:
            return None
        return self.after_build_hook(self, obj, machine, site)

    def extension(self, code: int, site: Site, proto: int | None = None) -> Value:
        if code in self.extensions:
            module, name = self.extensions[code]
            self.trace.note(
                Note(
                    "PKL007",
                    site,
                    f"EXT code {code} resolves to {module}.{name}, registered earlier in the stream",
                    f"ext-use:{module}.{name}",
                )
            )
            return self.find_class(module, name, site, proto)
        self.trace.note(Note("PKL007", site, f"EXT code {code} is not registered; callable unknown", f"ext:{code}"))
        return Unknown(f"extension code {code}")

    def persistent(self, pid: Value, site: Site) -> Value:
        return Persistent(pid)

    def register_extension(self, code: Value, entry: Value, site: Site) -> None:
        """``copyreg._inverted_registry[code] = (module, name)`` written by the stream itself."""
        number = int_of(code)
        parts = sequence_of(entry)
        names = [text_of(p) for p in parts] if parts else []
        if number is not None and len(names) == 2 and names[0] is not None and names[1] is not None:
            self.extensions[number] = (names[0], names[1])
            self.trace.note(
                Note(
                    "PKL007",
                    site,
                    f"writes {names[0]}.{names[1]} into copyreg's extension registry as code {number}",
                    f"ext:{names[0]}.{names[1]}",
                )
            )

    def mutate(self, obj: Value, method: str, args: tuple[Value, ...], site: Site) -> None:
        if isinstance(obj, Global) and obj.name == "copyreg._inverted_registry" and method == "__setitem__":
            self.register_extension(args[0], args[1], site)
            return
        if isinstance(obj, Namespace):
            pairs: list[tuple[Value, Value]] = []
            if method == "__setitem__" and len(args) >= 2:
                pairs = [(args[0], args[1])]
            elif method == "update" and args and isinstance(args[0], DictV):
                pairs = args[0].items[: MAX_INLINE_ITEMS * 100]
            for key, value in pairs:
                containers.namespace_store(self, obj, key, value, site, _HOW.get(method, method))
            return
        if isinstance(obj, Global):
            self._global_state(obj, method, args, site)
            return
        if isinstance(obj, Obj):
            override = obj.attrs.get(method)
            if override is None and method == "extend":
                override = obj.attrs.get("append")
                if override is not None:
                    for item in args[:MAX_INLINE_ITEMS]:
                        self.invoke(override, (item,), (), site, "reduce", "APPENDS calls an injected append", 0)
                    return
            if override is not None:
                call_args = (ListV(list(args)),) if method == "extend" else args
                self.invoke(override, call_args, (), site, "reduce", f"{method} calls an injected attribute", 0)
                return
            if obj.target is not None:
                safety = self.policy.classify(obj.target).safety
                if safety is not Safety.SAFE:
                    self.record(f"{obj.target}.{method}", args[:MAX_INLINE_ITEMS], (), site, METHOD)
            obj.state.extend(args[:MAX_INLINE_ITEMS])

    def _global_state(self, obj: Global, method: str, args: tuple[Value, ...], site: Site) -> None:
        """SETITEM/APPEND(S)/ADDITEMS straight into an imported object: module-level state (``os.environ``,
        ``sys.path``, a registry dict) that every later user in the process sees."""
        how = _HOW.get(method, method)
        if method == "__setitem__" and len(args) >= 2:
            key = text_of(args[0])
            what = f"{obj.name}[{key!r}] = {render(args[1], 80)}" if key is not None else f"an entry of {obj.name}"
            subject = f"{obj.name}[{key}]" if key is not None else obj.name
        else:
            what = f"{obj.name} gets {', '.join(render(a, 60) for a in args[:3])}"
            subject = obj.name
        self.trace.note(
            Note(
                "PKL014",
                site,
                f"{how} changes module-level state: {what}; every later user of {obj.module} in the process sees it",
                subject,
                render(Tuple(args), 200),
            )
        )
        self.record(f"{obj.name}.{method}", args[:MAX_INLINE_ITEMS], (), site, METHOD)

    def string(self, value: Const | LargeBytes, site: Site) -> None:
        if isinstance(value, LargeBytes):
            text = value.prefix.decode("latin-1") if value.text else _printable(value.prefix)
        elif isinstance(value.value, str):
            text = value.value
        elif isinstance(value.value, bytes):
            text = _printable(value.value)
        else:
            return
        if text:
            self.trace.add_string(text, site)

    def anomaly(self, rule_id: str, site: Site, message: str, subject: str, evidence: str = "") -> None:
        self.trace.note(Note(rule_id, site, message, subject, evidence))


_PRINTABLE_RUN = re.compile(rb"[\t\n\r\x20-\x7e]{6,}")


def _printable(data: bytes) -> str:
    """The printable runs of a byte payload, like ``strings(1)``: tensor and array bytes hold no URL or
    command, and searching their noise for indicators costs more than the rest of the file's analysis."""
    return "\n".join(m.decode("ascii") for m in _PRINTABLE_RUN.findall(data))


_REFUSED = "the loader refuses the dotted global"
#: Which opcode makes each implicit mutation (messages only).
_HOW = {"__setitem__": "SETITEM", "append": "APPEND", "extend": "APPENDS", "add": "ADDITEMS", "update": "update"}

__all__ = ["Options", "Resolver"]
