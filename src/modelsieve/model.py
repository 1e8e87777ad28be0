"""Typed values that cross every layer: findings, locations, verdicts, results.

Everything here is a frozen dataclass or an enum so that results can be hashed,
compared, serialised deterministically and shared across processes.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass, field

FINGERPRINT_VERSION = "1"
_DIGITS = re.compile(r"\d+")


def _stable_member(member: str) -> str:
    """A member name without positions: synthetic layers such as ``<nested pickle at opcode #12>``
    carry an offset or index, which must not change a fingerprint when bytes move."""
    if member.startswith("<") and member.endswith(">"):
        return _DIGITS.sub("N", member)
    return member


class _Ordered(enum.Enum):
    """Enum whose members compare by declaration order."""

    @property
    def rank(self) -> int:
        return list(type(self)).index(self)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, type(self)):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, type(self)):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, type(self)):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, type(self)):
            return NotImplemented
        return self.rank >= other.rank


class Severity(_Ordered):
    """How bad the finding is if it is true (ordered, INFO lowest)."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Confidence(_Ordered):
    """How sure the rule is that the finding is true (ordered, LOW lowest)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Verdict(_Ordered):
    """Answer to "what happens if I load this?", ordered from best to worst.

    NOT_ANALYSED sits above CLEAN so that an aggregate over files never claims
    "clean" for something that was not looked at.
    """

    CLEAN = "clean"
    NOT_ANALYSED = "not_analysed"
    INCONCLUSIVE = "inconclusive"
    SUSPICIOUS = "suspicious"
    MALICIOUS = "malicious"


class Effect(enum.Enum):
    """What a finding of a rule does to the verdict of the file it is in."""

    NONE = "none"
    NOT_ANALYSED = "not_analysed"
    INCONCLUSIVE = "inconclusive"
    SUSPICIOUS = "suspicious"
    MALICIOUS = "malicious"

    @property
    def verdict(self) -> Verdict:
        return {
            Effect.NONE: Verdict.CLEAN,
            Effect.NOT_ANALYSED: Verdict.NOT_ANALYSED,
            Effect.INCONCLUSIVE: Verdict.INCONCLUSIVE,
            Effect.SUSPICIOUS: Verdict.SUSPICIOUS,
            Effect.MALICIOUS: Verdict.MALICIOUS,
        }[self]


class Status(enum.Enum):
    """Review status, in the vocabulary security teams already use."""

    NO_FINDINGS = "no-findings"
    SUSPECTED = "suspected"
    CONFIRMED_UNSAFE = "confirmed-unsafe"
    KNOWN_FALSE_POSITIVE = "false-positive"

    @property
    def label(self) -> str:
        return {
            Status.NO_FINDINGS: "No Findings",
            Status.SUSPECTED: "Suspected",
            Status.CONFIRMED_UNSAFE: "Confirmed Unsafe",
            Status.KNOWN_FALSE_POSITIVE: "Known False Positive",
        }[self]


class BehaviourKind(enum.Enum):
    """Families of effects that loading an artifact can have."""

    RUNS_COMMAND = "runs-command"
    EXECUTES_CODE = "executes-code"
    NETWORK = "network"
    OPENS_BROWSER = "opens-browser"
    WRITES_FILE = "writes-file"
    READS_FILE = "reads-file"
    DELETES_FILE = "deletes-file"
    LOADS_NATIVE = "loads-native-code"
    DEBUGGER = "debugger"
    INSTALLS_PACKAGE = "installs-package"
    LOADS_NESTED = "loads-nested-payload"
    NEEDS_CODE = "needs-code"
    ENVIRONMENT = "environment"
    OTHER = "other"


class IndicatorKind(enum.Enum):
    """Kinds of strings worth surfacing whatever their severity."""

    URL = "url"
    DOMAIN = "domain"
    IP = "ip"
    COMMAND = "command"
    EXECUTABLE = "executable"
    ENCODED = "encoded-blob"
    PATH = "path"


@dataclass(frozen=True)
class Location:
    """Where a finding is: the file, the chain of members inside it, and a position.

    ``members`` lists archive members and decoded layers from the outside in,
    e.g. ``("model.tar.gz!", "archive/data.pkl")``; it is empty for a plain file.
    """

    path: str
    members: tuple[str, ...] = ()
    offset: int | None = None
    opcode_index: int | None = None
    detail: str | None = None

    def child(self, member: str) -> Location:
        """Location of a member nested inside this one (position dropped)."""
        return Location(path=self.path, members=(*self.members, member))

    def at(
        self,
        offset: int | None = None,
        opcode_index: int | None = None,
        detail: str | None = None,
    ) -> Location:
        """The same place, at a position inside it."""
        return Location(
            path=self.path,
            members=self.members,
            offset=offset,
            opcode_index=opcode_index,
            detail=detail,
        )

    @property
    def member_path(self) -> str:
        return " > ".join(self.members)

    def describe(self) -> str:
        parts = [self.path]
        if self.members:
            parts.append(self.member_path)
        text = " > ".join(parts)
        pos = []
        if self.opcode_index is not None:
            pos.append(f"opcode #{self.opcode_index}")
        if self.offset is not None:
            pos.append(f"offset {self.offset}")
        if self.detail:
            pos.append(self.detail)
        if pos:
            text += " @ " + ", ".join(pos)
        return text


@dataclass(frozen=True)
class Behaviour:
    """A plain-words effect of loading, e.g. "runs shell command `ls`"."""

    kind: BehaviourKind
    description: str


@dataclass(frozen=True)
class Indicator:
    """A network address, command line, executable or encoded blob found in content."""

    kind: IndicatorKind
    value: str
    note: str | None = None


@dataclass(frozen=True)
class Finding:
    """One observation of one rule at one place, with the evidence behind it.

    ``subject`` is the stable thing the finding is about (a callable such as
    ``os.system``, a URL, a layer name, a member name); it is part of the
    fingerprint, whereas offsets and messages are not.
    """

    rule_id: str
    severity: Severity
    confidence: Confidence
    effect: Effect
    message: str
    location: Location
    subject: str = ""
    evidence: str = ""
    behaviour: Behaviour | None = None
    indicators: tuple[Indicator, ...] = ()
    suppressed: str | None = None

    @property
    def fingerprint(self) -> str:
        """Stable id for triage: ignores the file path on disk, offsets and wording."""
        members = (_stable_member(m) for m in self.location.members)
        key = "|".join((FINGERPRINT_VERSION, self.rule_id, *members, "#", self.subject))
        return f"v{FINGERPRINT_VERSION}:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class CallRecord:
    """A call that loading would make, reconstructed without making it."""

    callable: str
    arguments: str
    safety: str
    location: Location


@dataclass(frozen=True)
class Analysis:
    """What analysing one artifact (or one layer of it) produced.

    Analyses of nested layers are merged into their parent with ``merge``.
    """

    formats: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    imports: tuple[str, ...] = ()
    calls: tuple[CallRecord, ...] = ()

    def merge(self, *others: Analysis) -> Analysis:
        formats = list(self.formats)
        findings = list(self.findings)
        imports = list(self.imports)
        calls = list(self.calls)
        for other in others:
            formats.extend(f for f in other.formats if f not in formats)
            findings.extend(other.findings)
            imports.extend(i for i in other.imports if i not in imports)
            calls.extend(other.calls)
        return Analysis(tuple(formats), tuple(findings), tuple(imports), tuple(calls))


@dataclass(frozen=True)
class ExternalVerdict:
    """Another tool's opinion of the same file, shown beside modelsieve's (never used to draw the verdict).

    ``tool`` names the source (``hf-hub``, ``picklescan`` ...); ``verdict`` is one of
    ``dangerous``, ``safe``, ``error``, ``unscanned``; ``detail`` says why in a few words.
    """

    tool: str
    verdict: str
    detail: str = ""


@dataclass(frozen=True)
class FileResult:
    """The scan of one file (or one remote file): its verdict and why."""

    path: str
    size: int
    sha256: str | None
    formats: tuple[str, ...]
    verdict: Verdict
    reasons: tuple[str, ...]
    findings: tuple[Finding, ...]
    imports: tuple[str, ...] = ()
    calls: tuple[CallRecord, ...] = ()
    status: Status = Status.NO_FINDINGS
    loaded_by_default: bool = True
    review_note: str | None = None
    duration_s: float = 0.0
    external: tuple[ExternalVerdict, ...] = ()
    unloaded_reason: str | None = None

    @property
    def behaviours(self) -> tuple[Behaviour, ...]:
        seen: dict[Behaviour, None] = {}
        for f in self.findings:
            if f.behaviour is not None and f.suppressed is None:
                seen.setdefault(f.behaviour, None)
        return tuple(seen)

    @property
    def indicators(self) -> tuple[Indicator, ...]:
        seen: dict[Indicator, None] = {}
        for f in self.findings:
            for ind in f.indicators:
                seen.setdefault(ind, None)
        return tuple(seen)


@dataclass(frozen=True)
class SkippedItem:
    """Something that was deliberately not scanned, and why (a first-class result)."""

    path: str
    reason: str


@dataclass(frozen=True)
class RepoVerdict:
    """Aggregate over every file of a scan target (folder or repository)."""

    verdict: Verdict
    status: Status
    deciding: tuple[str, ...]
    reasons: tuple[str, ...]
    unloaded_verdict: Verdict = Verdict.CLEAN
    unloaded: tuple[str, ...] = ()
    include_unloaded: bool = False


@dataclass(frozen=True)
class Report:
    """Everything one scan produced; formatters turn it into text."""

    tool_version: str
    ruleset_version: str
    targets: tuple[str, ...]
    results: tuple[FileResult, ...]
    skipped: tuple[SkippedItem, ...]
    summary: RepoVerdict
    started_at: str
    duration_s: float
    options: tuple[tuple[str, str], ...] = field(default=())
