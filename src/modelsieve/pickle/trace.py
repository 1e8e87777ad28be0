"""What the resolver observed while the machine ran: calls, references, anomalies, strings.

The trace is plain data; ``analyze`` turns it into findings with the policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modelsieve.model import Analysis
from modelsieve.pickle.values import Site, Value

#: Roles of a reconstructed call.
CALL = "call"  # the callable runs with these arguments
NEW = "new"  # an object is created without running __init__ (NEWOBJ, copyreg._reconstructor)
RESOLVER = "resolver"  # getattr/import_module/attrgetter...: chooses another object
PURE = "pure"  # data transform (decoding, string ops) computed by the emulation
LOADER = "loader"  # deserialises an embedded payload
METHOD = "method"  # implicit method call on a built object (APPEND/SETITEM on a non-container)
BOUND = "bound"  # explicit call of a method fetched from a built object (getattr(obj, 'm')(...), obj(...))


@dataclass(frozen=True)
class CallEvent:
    """One call the loader would make, reconstructed.

    ``target`` is the canonical name of what is called (``None`` when the emulation
    cannot tell), ``via`` describes the indirection that chose it, ``result`` is the
    value the emulation gave the call.
    """

    target: str | None
    args: tuple[Value, ...]
    kwargs: tuple[tuple[str, Value], ...]
    site: Site
    role: str
    via: str = ""
    result: Value | None = None
    display: str | None = None

    @property
    def shown(self) -> str | None:
        """The callable as the stream names it (aliases kept), for subjects and messages."""
        return self.display or self.target


@dataclass(frozen=True)
class Note:
    """An anomaly worth a finding of its own (rule id, place, message, stable subject)."""

    rule_id: str
    site: Site
    message: str
    subject: str
    evidence: str = ""


@dataclass(frozen=True)
class NestedPayload:
    """A payload handed to a nested loader, and what scanning it found."""

    site: Site
    loader: str
    encoding: str
    analysis: Analysis | None
    reason: str = ""


@dataclass
class Trace:
    """Mutable collector for one analysis (shared by stacked and inline nested pickles)."""

    calls: list[CallEvent] = field(default_factory=list)
    refs: dict[str, Site] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    notes: list[Note] = field(default_factory=list)
    strings: list[tuple[str, Site]] = field(default_factory=list)
    string_budget: int = 4 * 1024 * 1024
    nested: list[NestedPayload] = field(default_factory=list)
    imported_modules: dict[str, Site] = field(default_factory=dict)

    def ref(self, name: str, site: Site) -> None:
        self.refs.setdefault(name, site)

    def note(self, note: Note) -> None:
        if len(self.notes) < 10_000:
            self.notes.append(note)

    def add_string(self, text: str, site: Site) -> None:
        if self.string_budget <= 0:
            return
        self.string_budget -= len(text)
        self.strings.append((text, site))
