"""Glue: stream -> machine -> trace -> findings, calls and imports (``analyse_pickle``)."""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable

from modelsieve.formats.base import AnalysisTimeout, ScanContext
from modelsieve.indicators import find_indicators, indicator_findings
from modelsieve.model import Analysis, Finding, Location
from modelsieve.pickle import arrays
from modelsieve.pickle.findings import FindingBuilder
from modelsieve.pickle.reader import Reader
from modelsieve.pickle.resolve import Options, Resolver
from modelsieve.pickle.sniff import looks_like_pickle
from modelsieve.pickle.trace import NestedPayload, Trace
from modelsieve.pickle.values import Const, LargeBytes, Site, Value
from modelsieve.pickle.vm import LimitError, Machine, ParseError
from modelsieve.rules import general
from modelsieve.rules import pickle_rules as rules
from modelsieve.rules.policy import load_policy
from modelsieve.source import Artifact, bytes_artifact, spool

_TRAILING_WINDOW = 64 * 1024
#: Nested payloads scanned per stream; past this, loaders are still reported but their payloads not scanned.
MAX_NESTED_SCANS = 1000


class _Payloads:
    """Scans payloads handed to nested loaders through ``ctx.dispatch``."""

    def __init__(self, artifact: Artifact, ctx: ScanContext) -> None:
        self.artifact = artifact
        self.ctx = ctx
        # Plain-pickled tensors embed one torch file per storage; identical payloads are scanned once.
        self._seen: dict[bytes, Analysis] = {}
        self.count = 0

    def __call__(self, payload: Value, site: Site, loader: str, encoding: str) -> NestedPayload:
        self.ctx.check_time()
        self.count += 1
        if self.count > MAX_NESTED_SCANS:
            return NestedPayload(site, loader, encoding, None, f"more than {MAX_NESTED_SCANS} nested payloads")
        member = f"<nested pickle at opcode #{site.index}>"
        depth = self.artifact.depth + 1
        key = b""
        if isinstance(payload, Const):
            data = (
                payload.value if isinstance(payload.value, bytes) else str(payload.value).encode("latin-1", "replace")
            )
            key = hashlib.sha256(data).digest()
            if key in self._seen:
                return NestedPayload(site, loader, encoding, self._seen[key], "same payload as an earlier one")
            child = bytes_artifact(data, self.artifact.location.child(member), name=member, depth=depth)
        elif isinstance(payload, LargeBytes):
            if payload.length > self.ctx.limits.max_member_in_memory * 16:
                return NestedPayload(site, loader, encoding, None, "payload too large to extract")
            stream = spool(self.ctx.limits.max_member_in_memory)
            self.artifact.stream.seek(payload.offset)
            remaining = payload.length
            while remaining > 0:
                chunk = self.artifact.stream.read(min(remaining, 1024 * 1024))
                if not chunk:
                    break
                stream.write(chunk)
                remaining -= len(chunk)
            stream.seek(0)
            child = self.artifact.child(stream, payload.length - remaining, member)
        else:
            return NestedPayload(site, loader, encoding, None, "payload computed at load time")
        if child.depth > self.ctx.limits.max_nesting_depth:
            return NestedPayload(site, loader, encoding, None, "nesting too deep")
        try:
            analysis = self.ctx.dispatch(child)
        finally:
            if isinstance(payload, LargeBytes):
                child.stream.close()
        if key:
            self._seen[key] = analysis
        return NestedPayload(site, loader, encoding, analysis)


def analyse_pickle(
    artifact: Artifact,
    ctx: ScanContext,
    *,
    start: int = 0,
    end: int | None = None,
    multiple: bool = True,
    joblib_arrays: bool = False,
    persistent_load: str | None = None,
) -> Analysis:
    """Emulate loading the pickle(s) in ``artifact.stream[start:end]``; never executes anything.

    ``multiple`` keeps reading pickles after STOP (stacked pickles, legacy torch) and reports
    trailing bytes; ``joblib_arrays`` skips (or analyses, for object dtypes) the raw arrays
    joblib stores after each NumpyArrayWrapper; ``persistent_load="torch"`` reads persistent
    ids as torch storage references.
    """
    # The emulation allocates millions of small objects and no cycles worth collecting while it
    # runs; generational GC passes over them dominated the run time of large pickles.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _analyse(artifact, ctx, start, end, multiple, joblib_arrays, persistent_load)
    finally:
        if enabled:
            gc.enable()


#: Largest skipped payload read back into memory for a transform (base64, zlib ...).
MATERIALIZE_MAX = 16 * 1024 * 1024


def _reader_of_large(artifact: Artifact, bound: int) -> Callable[[LargeBytes], Const | None]:
    def read(value: LargeBytes) -> Const | None:
        if value.length > bound:
            return None
        data = artifact.read_at(value.offset, value.length)
        if len(data) != value.length:
            return None
        if value.text:
            return Const(data.decode("utf-8", "surrogatepass"))
        return Const(data)

    return read


def _analyse(
    artifact: Artifact,
    ctx: ScanContext,
    start: int,
    end: int | None,
    multiple: bool,
    joblib_arrays: bool,
    persistent_load: str | None,
) -> Analysis:
    end = artifact.size if end is None else min(end, artifact.size)
    policy = load_policy()
    trace = Trace()
    resolver = Resolver(
        policy,
        trace,
        ctx.limits,
        _Payloads(artifact, ctx),
        Options(joblib_arrays=joblib_arrays, persistent_load=persistent_load),
        after_build_hook=arrays.after_build,
        read_large=_reader_of_large(artifact, min(MATERIALIZE_MAX, ctx.limits.max_member_in_memory)),
    )
    reader = Reader(artifact.stream, start, end)
    location = artifact.location
    extra: list[Finding] = []
    pickles = 0
    index_base = 0
    while True:
        pickle_start = reader.tell()
        calls_before = len(trace.calls)
        machine = Machine(reader, resolver, ctx.limits, opcode_base=index_base)
        machine.check_time = ctx.check_time
        try:
            machine.run()
        except ParseError as exc:
            extra.extend(_broken(location, exc, trace, calls_before, pickles, pickle_start, end, machine.index))
            break
        except LimitError as exc:
            extra.append(
                general.LIMIT_EXCEEDED.finding(
                    location.at(offset=exc.offset, opcode_index=machine.index),
                    f"pickle analysis stopped: {exc.what}; findings so far are reported",
                    subject=exc.kind,
                    evidence=exc.what,
                )
            )
            break
        except AnalysisTimeout as exc:
            extra.append(
                general.LIMIT_EXCEEDED.finding(
                    location.at(offset=machine.op_offset, opcode_index=machine.index),
                    f"pickle analysis stopped: {exc}; findings so far are reported",
                    subject="time",
                )
            )
            break
        except (RecursionError, MemoryError):
            extra.append(
                general.LIMIT_EXCEEDED.finding(
                    location.at(offset=machine.op_offset, opcode_index=machine.index),
                    "pickle analysis stopped: structure nested too deeply",
                    subject="recursion",
                )
            )
            break
        except Exception as exc:
            extra.append(
                general.INTERNAL_ERROR.finding(
                    location.at(offset=machine.op_offset, opcode_index=machine.index),
                    f"pickle analyser failed: {type(exc).__name__}: {exc}; findings so far are reported",
                    subject="pickle",
                    evidence=f"{type(exc).__name__}: {exc}",
                )
            )
            break
        pickles += 1
        index_base = machine.index + 1
        if not multiple or reader.tell() >= end:
            break
        head = reader.peek(4096)
        if not looks_like_pickle(head):
            extra.extend(_trailing(artifact, location, reader.tell(), end))
            break
    if pickles > 1:
        extra.append(
            rules.STACKED_PICKLE.finding(
                location.at(offset=start),
                f"{pickles} pickles follow one another in this stream; all were analysed",
                subject="stacked",
                evidence=f"{pickles} pickles",
            )
        )
    builder = FindingBuilder(policy, location, ctx.strict)
    findings = builder.build(trace)
    findings.extend(extra)
    findings.extend(_string_indicators(trace, location, builder.argument_texts))
    calls = tuple(builder.call_records(trace))
    analysis = Analysis(formats=("pickle",), findings=tuple(findings), imports=tuple(trace.refs), calls=calls)
    # A payload seen twice shares one analysis: merge it once.
    nested = list({id(n.analysis): n.analysis for n in trace.nested if n.analysis is not None}.values())
    return analysis.merge(*nested) if nested else analysis


def _broken(
    location: Location,
    exc: ParseError,
    trace: Trace,
    calls_before: int,
    pickles: int,
    pickle_start: int,
    end: int,
    index: int,
) -> list[Finding]:
    made = [c for c in trace.calls[calls_before:] if c.role in ("call", "loader") or c.target is None]
    risky = [c for c in made if c.target is None or load_policy().classify(c.target).safety.value != "safe"]
    if pickles and not made:
        # A later "pickle" that does not parse is trailing data the loader never reads.
        return [
            rules.TRAILING_DATA.finding(
                location.at(offset=pickle_start),
                f"{end - pickle_start} bytes after the last pickle do not form a valid pickle",
                subject="trailing",
                evidence=exc.message,
            )
        ]
    out = [
        general.PARSE_ERROR.finding(
            location.at(offset=exc.offset, opcode_index=index),
            f"could not parse past offset {exc.offset}: {exc.message}",
            subject="pickle",
            evidence=exc.message,
        )
    ]
    if risky:
        names = ", ".join(sorted({c.target or "<unresolved>" for c in risky})[:5])
        out.append(
            rules.BROKEN_AFTER_CALLS.finding(
                location.at(offset=exc.offset, opcode_index=index),
                f"the pickle breaks at offset {exc.offset} after the loader has already called {names}",
                subject="broken-after-calls",
                evidence=exc.message,
            )
        )
    return out


def _trailing(artifact: Artifact, location: Location, offset: int, end: int) -> list[Finding]:
    artifact.stream.seek(offset)
    window = artifact.stream.read(min(_TRAILING_WINDOW, end - offset))
    text = window.decode("latin-1")
    inds = find_indicators(text)
    return [
        rules.TRAILING_DATA.finding(
            location.at(offset=offset),
            f"{end - offset} bytes follow the last pickle",
            subject="trailing",
            evidence=f"first bytes: {window[:16].hex()}",
            indicators=inds,
        )
    ]


_BLOCK = 256 * 1024


def _string_indicators(trace: Trace, location: Location, seen: set[str]) -> list[Finding]:
    """Indicators in the stream's other string constants, one finding per string that holds any.

    Strings are searched in blocks first: most models hold many short strings and no indicator,
    and one regex pass over a block is far cheaper than one per string.
    """
    out: list[Finding] = []
    done: set[str] = set()
    block: list[tuple[str, Site]] = []
    size = 0

    def flush() -> None:
        if block and find_indicators("\n\n".join(t for t, _ in block)):
            for text, site in block:
                out.extend(indicator_findings(text, location.at(offset=site.offset, opcode_index=site.index)))
        block.clear()

    for text, site in trace.strings:
        if text in seen or text in done:
            continue
        done.add(text)
        block.append((text[:65536], site))
        size += min(len(text), 65536)
        if size >= _BLOCK:
            flush()
            size = 0
    flush()
    return out
