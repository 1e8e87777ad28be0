"""Policy as data: which callables are safe, unknown or dangerous, loaded from versioned TOML files.

The files live in ``rules/policy/``: ``allow.toml`` (what real model files contain),
``deny.toml`` (dangerous modules and functions, by behaviour kind) and
``aliases.toml`` (platform and Python 2 module names). Nothing here executes or
imports the modules it names.
"""

from __future__ import annotations

import enum
import fnmatch
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType

import tomllib

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
class Policy:
    """Allow/deny data plus module aliases. Build one with ``load_policy()``."""

    version: str
    aliases: Mapping[str, str]
    module_attributes: frozenset[str]
    not_aliases: frozenset[str]
    allow_exact: frozenset[str]
    allow_patterns: tuple[str, ...]
    class_prefixes: tuple[str, ...]
    deny_exact: Mapping[str, BehaviourKind]
    deny_patterns: tuple[tuple[str, BehaviourKind], ...]
    #: Memo of ``classify`` answers (the data above never changes after loading).
    _cache: dict[str, Classification] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def canonical_module(self, module: str) -> str:
        """``posix`` -> ``os``, ``__builtin__`` -> ``builtins``; longest aliased prefix wins."""
        parts = module.split(".")
        for i in range(len(parts), 0, -1):
            head = ".".join(parts[:i])
            if head in self.aliases:
                return ".".join([self.aliases[head], *parts[i:]])
        return module

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
            matches = depth <= len(parts) and fnmatch.fnmatchcase(".".join(parts[:depth]), pattern)
            if matches and (best is None or depth > best[0]):
                best = (depth, kind)
        return best

    def _allowed(self, name: str) -> bool:
        if name in self.allow_exact:
            return True
        if any(fnmatch.fnmatchcase(name, p) for p in self.allow_patterns):
            return True
        last = name.rsplit(".", 1)[-1]
        # Class-like: CapWords, with or without a leading underscore or a version prefix (_ConvNd, v8DetectionLoss).
        if any(c.isupper() for c in last) and "__" not in name:
            return any(name.startswith(prefix + ".") for prefix in self.class_prefixes)
        return False

    def classify(self, name: str) -> Classification:
        """Safety of a canonical dotted name such as ``os.system`` or ``torch._utils._rebuild_tensor_v2``."""
        found = self._cache.get(name)
        if found is None:
            found = self._classify(name)
            if len(self._cache) < 100_000:
                self._cache[name] = found
        return found

    def _classify(self, name: str) -> Classification:
        deny = self._deny(name)
        if self._allowed(name) and (deny is None or deny[0] < name.count(".") + 1):
            return Classification(Safety.SAFE, None, name)
        if deny is not None:
            return Classification(Safety.DANGEROUS, deny[1], ".".join(name.split(".")[: deny[0]]))
        return Classification(Safety.UNKNOWN)


def _read(name: str) -> dict[str, object]:
    text = resources.files("modelsieve.rules").joinpath("policy", name).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _strings(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("policy: expected a list of strings")
    return list(value)


def _table(value: object) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ValueError("policy: expected a table")
    return value


@cache
def load_policy() -> Policy:
    """The packaged policy (cached; immutable)."""
    allow = _read("allow.toml")
    deny = _read("deny.toml")
    aliases = _read("aliases.toml")
    names = _strings(allow.get("names", []))
    deny_exact: dict[str, BehaviourKind] = {}
    deny_patterns: list[tuple[str, BehaviourKind]] = []
    for key, kind in _table(deny.get("dangerous", {})).items():
        value = BehaviourKind(str(kind))
        if "*" in key:
            deny_patterns.append((key, value))
        else:
            deny_exact[key] = value
    module_attrs = _table(aliases.get("module_attributes", {}))
    return Policy(
        version=f"allow {allow.get('version')}, deny {deny.get('version')}, aliases {aliases.get('version')}",
        aliases=MappingProxyType({k: str(v) for k, v in _table(aliases.get("modules", {})).items()}),
        module_attributes=frozenset(_strings(module_attrs.get("names", []))),
        not_aliases=frozenset(_strings(module_attrs.get("not_aliases", []))),
        allow_exact=frozenset(n for n in names if "*" not in n),
        allow_patterns=tuple(n for n in names if "*" in n),
        class_prefixes=tuple(_strings(allow.get("class_prefixes", []))),
        deny_exact=MappingProxyType(deny_exact),
        deny_patterns=tuple(deny_patterns),
    )
