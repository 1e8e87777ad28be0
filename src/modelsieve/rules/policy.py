"""Policy as data: which callables are safe, unknown or dangerous, loaded from versioned TOML files.

The files live in ``rules/policy/``: ``allow.toml`` (what real model files contain),
``deny.toml`` (dangerous modules and functions, by behaviour kind),
``aliases.toml`` (platform and Python 2 module names) and ``arguments.toml`` (which
argument of a dangerous call is the command, the file written, the URL ...). Nothing
here executes or imports the modules it names.
"""

from __future__ import annotations

import enum
import fnmatch
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from modelsieve.model import BehaviourKind


class Safety(enum.Enum):
    """What the policy says about one callable or import."""

    SAFE = "safe"
    UNKNOWN = "unknown"
    DANGEROUS = "dangerous"


@dataclass(frozen=True)
class Classification:
    """The policy's answer for one canonical name, with the key that decided it."""

    safety: Safety
    kind: BehaviourKind | None = None
    matched: str = ""


@dataclass(frozen=True)
class ArgRef:
    """Where one argument of a call is: a position and/or a keyword, or every positional one from a position on.

    ``receiver`` means the argument belongs to the call that built the object whose method is called
    (the host of ``HTTPConnection(host).request(...)``).
    """

    position: int | None = None
    keyword: str | None = None
    rest: bool = False
    receiver: bool = False


@dataclass(frozen=True)
class CallShape:
    """What a dangerous callable does with its arguments, for its plain-words behaviour (``arguments.toml``)."""

    kind: BehaviourKind | None
    text: str | None
    read_text: str | None
    local_text: str | None
    args: Mapping[str, ArgRef]
    defaults: Mapping[str, str]


@dataclass(frozen=True)
class Policy:
    """Allow/deny data plus module aliases. Build one with ``load_policy()``."""

    version: str
    aliases: Mapping[str, str]
    module_attributes: frozenset[str]
    not_aliases: frozenset[str]
    allow_exact: frozenset[str]
    #: Wildcard allow entries: "*" stays within one dotted part, "**" crosses parts (see ``glob``).
    allow_patterns: tuple[str, ...]
    class_prefixes: tuple[str, ...]
    deny_exact: Mapping[str, BehaviourKind]
    deny_patterns: tuple[tuple[str, BehaviourKind], ...]
    shapes: Mapping[str, CallShape] = field(default_factory=lambda: MappingProxyType({}))
    #: Module attributes named differently from their module: ``np`` -> ``numpy``.
    renamed_attributes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: Wildcard keys of ``shapes``, most specific (longest) first.
    shape_patterns: tuple[tuple[str, CallShape], ...] = ()
    #: ``Class.method`` calls benign files make on objects they built (``allow.toml`` ``methods``; wildcards as names).
    allow_methods: frozenset[str] = frozenset()
    allow_method_patterns: tuple[str, ...] = ()
    #: Memo of ``classify`` answers (the data above never changes after loading).
    _cache: dict[str, Classification] = field(default_factory=dict, compare=False, hash=False, repr=False)
    #: Memo of ``canonical_module`` answers: every GLOBAL asks several times, for a handful of distinct modules.
    _module_cache: dict[str, str] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def canonical_module(self, module: str) -> str:
        """``posix`` -> ``os``, ``__builtin__`` -> ``builtins``; longest aliased prefix wins."""
        return _memoised(self._module_cache, module, self._canonical_module)

    def _canonical_module(self, module: str) -> str:
        parts = module.split(".")
        for i in range(len(parts), 0, -1):
            head = ".".join(parts[:i])
            if head in self.aliases:
                return ".".join([self.aliases[head], *parts[i:]])
        return module

    def attribute_module(self, name: str) -> str:
        """The module an attribute in ``module_attributes`` holds: ``np`` is numpy, ``os`` is os."""
        return self.renamed_attributes.get(name, name)

    def is_stdlib(self, name: str) -> bool:
        """True for names in the standard library (``builtins`` included, ``__main__`` not)."""
        top = name.split(".", 1)[0]
        return top in sys.stdlib_module_names and top != "__main__"

    def _deny(self, name: str) -> tuple[int, BehaviourKind] | None:
        parts = name.split(".")
        best: tuple[int, BehaviourKind] | None = None
        for i in range(len(parts), 0, -1):
            key = ".".join(parts[:i])
            kind = self.deny_exact.get(key)
            if kind is not None:
                best = (i, kind)
                break
        for pattern, kind in self.deny_patterns:
            depth = pattern.count(".") + 1
            head = ".".join(parts[:depth])
            found = (
                depth <= len(parts) and head.startswith(literal_prefix(pattern)) and fnmatch.fnmatchcase(head, pattern)
            )
            if found and (best is None or depth > best[0]):
                best = (depth, kind)
        return best

    def _allowed(self, name: str) -> int | None:
        """How specific the allow entry covering ``name`` is (its depth in dotted parts), or None.

        An exact name beats every deny key above it; a pattern or class prefix loses to a deny key at least
        as deep (``pandas.core`` classes are data, ``pandas.core.computation`` evaluates expressions).
        """
        if name in self.allow_exact:
            return name.count(".") + 1
        best: int | None = None
        for pattern in self.allow_patterns:
            if matches(pattern, name):
                best = max(best or 0, pattern.count(".") + 1)
        last = name.rsplit(".", 1)[-1]
        # Class-like: CapWords, with or without a leading underscore or a version prefix (_ConvNd, v8DetectionLoss).
        if any(c.isupper() for c in last) and "__" not in name:
            for prefix in self.class_prefixes:
                if name.startswith(prefix + "."):
                    best = max(best or 0, prefix.count(".") + 1)
        return best

    def classify(self, name: str) -> Classification:
        """Safety of a canonical dotted name such as ``os.system`` or ``torch._utils._rebuild_tensor_v2``."""
        return _memoised(self._cache, name, self._classify)

    def method_allowed(self, name: str) -> bool:
        """Whether calling ``name`` (``Class.method``) on an object the stream built is allowed."""
        if name in self.allow_methods or any(matches(p, name) for p in self.allow_method_patterns):
            return True
        return self.classify(name).safety is Safety.SAFE

    def shape(self, name: str) -> CallShape | None:
        """How the arguments of the canonical callable ``name`` map to what it does, when the policy says."""
        found = self.shapes.get(name)
        if found is not None:
            return found
        return next((shape for pattern, shape in self.shape_patterns if matches(pattern, name)), None)

    def _classify(self, name: str) -> Classification:
        deny = self._deny(name)
        allowed = self._allowed(name)
        if allowed is not None and (deny is None or deny[0] < allowed):
            return Classification(Safety.SAFE, None, name)
        if deny is not None:
            return Classification(Safety.DANGEROUS, deny[1], ".".join(name.split(".")[: deny[0]]))
        return Classification(Safety.UNKNOWN)


_T = TypeVar("_T")
#: Entries a memo keeps: names come from the scanned streams, so a hostile one could make millions.
_MEMO_MAX = 100_000


def _memoised(memo: dict[str, _T], key: str, compute: Callable[[str], _T]) -> _T:
    found = memo.get(key)
    if found is None:
        found = compute(key)
        if len(memo) < _MEMO_MAX:
            memo[key] = found
    return found


def matches(pattern: str, name: str) -> bool:
    """Whether the dotted name matches the wildcard ``pattern`` (see ``glob``)."""
    # The literal head rules out nearly every name without compiling a regex: the standard library
    # compiles regexes in Python, and a scan touches only a few of the policy's patterns.
    return name.startswith(literal_prefix(pattern)) and glob(pattern).fullmatch(name) is not None


@cache
def literal_prefix(pattern: str) -> str:
    """The part of a wildcard before its first ``*``, ``?`` or ``[``."""
    cut = min((i for i in (pattern.find(c) for c in "*?[") if i >= 0), default=len(pattern))
    return pattern[:cut]


@cache
def glob(pattern: str) -> re.Pattern[str]:
    """A dotted-name wildcard as a regex: ``*`` and ``?`` stay within one part, ``**`` crosses dots, ``[A-Z]`` as usual.

    A single ``*`` must not cross a dot: ``joblib._store_backends.*`` would otherwise also allow
    ``joblib._store_backends.numpy_pickle.load`` (a module the allowed one imports).
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append(r"[^.]*")
        elif c == "?":
            out.append(r"[^.]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise ValueError(f"policy: bad pattern {pattern!r}")
            out.append(pattern[i : end + 1])
            i = end + 1
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


SOURCES = ("allow.toml", "deny.toml", "aliases.toml", "arguments.toml")
#: The TOML files parsed ahead of time (``python -m modelsieve.rules.policy``): parsing TOML costs more
#: than the rest of start-up. Used only while the hash of every source still matches.
COMPILED = "compiled.json"


def _folder() -> Path:
    # A plain path: importlib.resources costs milliseconds of imports, and the package is always a folder.
    return Path(__file__).with_name("policy")


def _read_sources() -> tuple[dict[str, bytes], dict[str, str]]:
    """The TOML files' bytes and their sha256 digests, by file name."""
    import hashlib

    raw = {name: _folder().joinpath(name).read_bytes() for name in SOURCES}
    return raw, {name: hashlib.sha256(data).hexdigest() for name, data in raw.items()}


@cache
def _sources() -> dict[str, dict[str, object]]:
    """Every policy file, parsed: from the compiled copy when it is current, else from the TOML itself."""
    import json

    raw, digests = _read_sources()
    try:
        compiled = json.loads(_folder().joinpath(COMPILED).read_bytes())
        if compiled.get("sources") == digests:
            return dict(compiled["data"])
    except (OSError, ValueError, AttributeError):
        pass  # missing or damaged compiled copy: the TOML files are the truth
    return {name: _parse_toml(data) for name, data in raw.items()}


def _parse_toml(data: bytes) -> dict[str, object]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    parsed: dict[str, object] = tomllib.loads(data.decode("utf-8"))
    return parsed


def compile_sources() -> str:
    """The text of ``compiled.json`` for the current TOML files."""
    import json

    raw, digests = _read_sources()
    document = {
        "comment": "generated by `python -m modelsieve.rules.policy` from the TOML files beside it; do not edit",
        "sources": digests,
        "data": {name: _parse_toml(data) for name, data in raw.items()},
    }
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def _read(name: str) -> dict[str, object]:
    return _sources()[name]


def _strings(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("policy: expected a list of strings")
    return list(value)


def _table(value: object) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ValueError("policy: expected a table")
    return value


def _arg_ref(text: str) -> ArgRef:
    """``"1 dst"`` -> position 1 or keyword dst; ``"2*"`` -> positions 2 on; ``"self 0 host"`` -> the receiver's."""
    position: int | None = None
    keyword: str | None = None
    rest = receiver = False
    for token in text.split():
        if token == "self":
            receiver = True
        elif token.rstrip("*").isdigit():
            position, rest = int(token.rstrip("*")), token.endswith("*")
        elif token.isidentifier():
            keyword = token
        else:
            raise ValueError(f"policy: bad argument reference {text!r}")
    return ArgRef(position, keyword, rest, receiver)


def _optional_text(table: dict[str, object], key: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"policy: {key} must be a string")
    return value


def _shapes(data: dict[str, object]) -> dict[str, CallShape]:
    shapes: dict[str, CallShape] = {}
    for name, entry in _table(data.get("calls", {})).items():
        table = _table(entry)
        kind = _optional_text(table, "kind")
        shapes[name] = CallShape(
            kind=BehaviourKind(kind) if kind else None,
            text=_optional_text(table, "text"),
            read_text=_optional_text(table, "read_text"),
            local_text=_optional_text(table, "local_text"),
            args=MappingProxyType({k: _arg_ref(str(v)) for k, v in _table(table.get("args", {})).items()}),
            defaults=MappingProxyType({k: str(v) for k, v in _table(table.get("defaults", {})).items()}),
        )
    return shapes


@cache
def load_policy() -> Policy:
    """The packaged policy (cached; immutable)."""
    allow = _read("allow.toml")
    deny = _read("deny.toml")
    aliases = _read("aliases.toml")
    names = _strings(allow.get("names", []))
    methods = _strings(allow.get("methods", []))
    deny_exact: dict[str, BehaviourKind] = {}
    deny_patterns: list[tuple[str, BehaviourKind]] = []
    for key, kind in _table(deny.get("dangerous", {})).items():
        value = BehaviourKind(str(kind))
        if "*" in key:
            deny_patterns.append((key, value))
        else:
            deny_exact[key] = value
    arguments = _read("arguments.toml")
    shapes = _shapes(arguments)
    module_attrs = _table(aliases.get("module_attributes", {}))
    return Policy(
        version=(
            f"allow {allow.get('version')}, deny {deny.get('version')}, aliases {aliases.get('version')}, "
            f"arguments {arguments.get('version')}"
        ),
        aliases=MappingProxyType({k: str(v) for k, v in _table(aliases.get("modules", {})).items()}),
        module_attributes=frozenset(_strings(module_attrs.get("names", []))),
        not_aliases=frozenset(_strings(module_attrs.get("not_aliases", []))),
        allow_exact=frozenset(n for n in names if "*" not in n),
        allow_patterns=tuple(n for n in names if "*" in n),
        class_prefixes=tuple(_strings(allow.get("class_prefixes", []))),
        allow_methods=frozenset(m for m in methods if "*" not in m),
        allow_method_patterns=tuple(m for m in methods if "*" in m),
        deny_exact=MappingProxyType(deny_exact),
        deny_patterns=tuple(deny_patterns),
        shapes=MappingProxyType({k: v for k, v in shapes.items() if "*" not in k}),
        renamed_attributes=MappingProxyType({k: str(v) for k, v in _table(module_attrs.get("renamed", {})).items()}),
        shape_patterns=tuple(sorted(((k, v) for k, v in shapes.items() if "*" in k), key=lambda kv: -len(kv[0]))),
    )


if __name__ == "__main__":  # python -m modelsieve.rules.policy: refresh compiled.json after editing the TOML
    _folder().joinpath(COMPILED).write_text(compile_sources(), encoding="utf-8")
