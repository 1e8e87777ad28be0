"""Turn a trace into findings and call records, using the policy."""

from __future__ import annotations

from modelsieve.model import Behaviour, BehaviourKind, CallRecord, Effect, Finding, Location, Severity
from modelsieve.pickle.behaviour import describe, indicators_of
from modelsieve.pickle.render import clip, render_args, texts_in
from modelsieve.pickle.trace import BOUND, CALL, LOADER, METHOD, NEW, PURE, RESOLVER, CallEvent, Trace
from modelsieve.pickle.values import Global, ModuleRef, Site
from modelsieve.rules import pickle_rules as rules
from modelsieve.rules.base import Rule
from modelsieve.rules.policy import Policy, Safety

_NOTE_RULES: dict[str, Rule] = {r.id: r for r in rules.RULES}
#: Bound on listed calls (a pickle of a million numpy scalars makes a million safe calls).
MAX_RECORDS = 50_000
#: Safe calls of one callable whose arguments are rendered; the rest carry OMITTED_ARGUMENTS.
SHOWN_SAFE_ARGUMENTS = 8
OMITTED_ARGUMENTS = "(…)"
_STORAGE_LOADERS = frozenset({"torch.storage._load_from_bytes"})


def _class_like(name: str) -> bool:
    return name.rsplit(".", 1)[-1][:1].isupper()


#: Members of these are C functions of a loaded library (``ctypes.pythonapi.PyRun_SimpleString``), not classes,
#: whatever their capitalisation: calling one runs native code.
_FOREIGN_FUNCTIONS = ("ctypes.pythonapi.", "ctypes.cdll.", "ctypes.pydll.", "ctypes.windll.", "ctypes.oledll.")
#: Classes named in lower case: building one is a capability, a later method call is the act.
_LOWERCASE_CLASSES = frozenset({"sched.scheduler"})


def _constructs(name: str) -> bool:
    """Whether calling ``name`` builds an object (rather than running a function)."""
    if name.startswith(_FOREIGN_FUNCTIONS):
        return False
    return _class_like(name) or name in _LOWERCASE_CLASSES


def _module_of(name: str) -> str:
    """``__main__.Net`` -> ``__main__``; the module part of a class or function name."""
    parts = name.split(".")
    for i, part in enumerate(parts):
        if part[:1].isupper() or part.endswith("()"):
            return ".".join(parts[:i]) or parts[0]
    return ".".join(parts[:-1]) or parts[0]


class FindingBuilder:
    """Builds findings for one analysed stream."""

    def __init__(self, policy: Policy, location: Location, strict: bool = False) -> None:
        self.policy = policy
        self.location = location
        self.strict = strict
        self.argument_texts: set[str] = set()
        self._seen: set[tuple[str, str]] = set()

    def loc(self, site: Site) -> Location:
        return self.location.at(offset=site.offset, opcode_index=site.index, detail=site.detail)

    def _add(self, out: list[Finding], key: tuple[str, str], finding: Finding) -> None:
        if key in self._seen:
            return
        self._seen.add(key)
        out.append(finding)

    def _texts(self, ev: CallEvent) -> None:
        for a in (*ev.args, *(v for _, v in ev.kwargs)):
            self.argument_texts.update(texts_in(a))

    def build(self, trace: Trace) -> list[Finding]:
        out: list[Finding] = []
        for ev in trace.calls:
            self._event(ev, trace, out)
        self._references(trace, out)
        for note in trace.notes:
            rule = _NOTE_RULES.get(note.rule_id)
            if rule is None:
                continue
            self._add(
                out,
                (note.rule_id, note.subject),
                rule.finding(self.loc(note.site), note.message, subject=note.subject, evidence=note.evidence),
            )
        return out

    def _event(self, ev: CallEvent, trace: Trace, out: list[Finding]) -> None:
        imports = ev.role == RESOLVER and isinstance(ev.result, ModuleRef)
        if ev.role in (RESOLVER, PURE, METHOD) and not imports:
            return
        safe = ev.target is not None and self.policy.classify(ev.target).safety is Safety.SAFE
        if safe and ev.role in (CALL, NEW):
            return
        args_text = render_args(ev.args, ev.kwargs)
        evidence = f"{ev.target or '<unresolved>'}{args_text}" + (f"  [via {ev.via}]" if ev.via else "")
        if ev.role == LOADER:
            self._loader(ev, trace, out, evidence)
            return
        if ev.role in (RESOLVER, PURE):
            if imports and isinstance(ev.result, ModuleRef):
                self._needs_code(ev.result.module, ev, out, f"imports module {ev.result.module}")
            return
        if ev.target is None:
            if ev.role == CALL:
                self._add(
                    out,
                    ("PKL005", ev.via),
                    rules.UNRESOLVED_INDIRECTION.finding(
                        self.loc(ev.site),
                        f"calls an object chosen at load time that cannot be resolved ({clip(ev.via, 120)})",
                        subject="unresolved-call",
                        evidence=evidence,
                        indicators=indicators_of(ev.args, ev.kwargs),
                    ),
                )
            return
        if ev.role == BOUND:
            self._bound(ev, out, evidence, args_text)
            return
        cls = self.policy.classify(ev.target)
        shown = ev.shown or ev.target
        if (
            ev.role == CALL
            and cls.safety is Safety.DANGEROUS
            and _constructs(ev.target)
            and cls.matched != ev.target
            and not ev.via
        ):
            # Building a debugger/profiler/console object is a capability; its run/runcode method is the call.
            # Constructors that act on their own (subprocess.Popen, ctypes.CDLL ...) are exact deny keys.
            self._add(
                out,
                ("PKL002", shown),
                rules.DANGEROUS_REFERENCE.finding(
                    self.loc(ev.site),
                    f"creates a {shown} object{clip(args_text, 120)}; constructing it runs nothing, a later call may",
                    subject=shown,
                    evidence=evidence,
                ),
            )
        elif ev.role == CALL:
            if cls.safety is Safety.DANGEROUS:
                behaviour = describe(ev.target, cls.kind, ev.args, ev.kwargs, ev.result)
                self._texts(ev)
                via = f" via {clip(ev.via, 160)}" if ev.via else ""
                self._add(
                    out,
                    ("PKL001", f"{shown}|{behaviour.description}"),
                    rules.DANGEROUS_CALL.finding(
                        self.loc(ev.site),
                        f"loading calls {shown}{clip(args_text, 160)}{via}: {behaviour.description}",
                        subject=shown,
                        evidence=evidence,
                        behaviour=behaviour,
                        indicators=indicators_of(ev.args, ev.kwargs),
                    ),
                )
            elif cls.safety is Safety.UNKNOWN:
                if _class_like(ev.target) and not ev.target.endswith(")"):
                    self._needs_code(_module_of(ev.target), ev, out, f"instantiates {ev.target}")
                else:
                    self._texts(ev)
                    self._add(
                        out,
                        ("PKL003", ev.target),
                        rules.UNKNOWN_CALL.finding(
                            self.loc(ev.site),
                            f"loading calls {ev.target}{clip(args_text, 160)}, which is not on the allow-list",
                            subject=ev.target,
                            evidence=evidence,
                            behaviour=Behaviour(BehaviourKind.OTHER, f"calls {ev.target}{clip(args_text, 120)}"),
                            indicators=indicators_of(ev.args, ev.kwargs),
                        ),
                    )
        elif ev.role == NEW:
            if cls.safety is Safety.DANGEROUS:
                self._add(
                    out,
                    ("PKL002", ev.target),
                    rules.DANGEROUS_REFERENCE.finding(
                        self.loc(ev.site),
                        f"creates an instance of {ev.target} without calling it; later use may run it",
                        subject=ev.target,
                        evidence=evidence,
                    ),
                )
            elif cls.safety is Safety.UNKNOWN:
                self._needs_code(_module_of(ev.target), ev, out, f"instantiates {ev.target}")

    def _bound(self, ev: CallEvent, out: list[Finding], evidence: str, args_text: str) -> None:
        """A method called on an object the stream built: benign files store bound methods but do not call them,
        so every call is reported unless ``Class.method`` is an allowed method (dangerous ones are CALL events)."""
        target = ev.target or "?"
        if self.policy.method_allowed(target):
            return
        self._texts(ev)
        self._add(
            out,
            ("PKL003", target),
            rules.UNKNOWN_CALL.finding(
                self.loc(ev.site),
                f"loading calls method {target}{clip(args_text, 160)} of an object it built, "
                "which is not on the allow-list",
                subject=target,
                evidence=evidence,
                behaviour=Behaviour(BehaviourKind.OTHER, f"calls method {target}{clip(args_text, 120)}"),
                indicators=indicators_of(ev.args, ev.kwargs),
            ),
        )

    def _needs_code(self, module: str, ev: CallEvent, out: list[Finding], what: str) -> None:
        if self.policy.is_stdlib(module):
            # The standard library is always importable: an unknown class there is an unknown call, not missing code.
            if ev.role != RESOLVER and ev.target:
                shown = ev.shown or ev.target
                self._add(
                    out,
                    ("PKL003", shown),
                    rules.UNKNOWN_CALL.finding(
                        self.loc(ev.site),
                        f"loading {what}, which is not on the allow-list",
                        subject=shown,
                        evidence=f"{shown}{render_args(ev.args, ev.kwargs)}",
                    ),
                )
            return
        self._add(
            out,
            ("PKL004", module),
            rules.NEEDS_CODE.finding(
                self.loc(ev.site),
                f"loading needs code from module {module} ({what})",
                subject=module,
                evidence=f"{ev.target}{render_args(ev.args, ev.kwargs)}",
                behaviour=Behaviour(BehaviourKind.NEEDS_CODE, f"needs code from module {module}"),
            ),
        )

    def _loader(self, ev: CallEvent, trace: Trace, out: list[Finding], evidence: str) -> None:
        target = ev.target or "?"
        nested = [n for n in trace.nested if n.site == ev.site and n.loader == target]
        target = ev.shown or target
        if target == "marshal.loads":
            message = "loading deserialises marshalled Python bytecode embedded in the stream"
        elif nested and nested[0].analysis is not None:
            enc = nested[0].encoding
            encoded = f" ({enc}-encoded)" if enc and enc != "raw" else ""
            message = f"loading calls {target} on an embedded payload{encoded}; its findings are reported too"
        else:
            reason = nested[0].reason if nested else "payload not recovered"
            message = f"loading calls {target} on a payload the emulation could not recover ({reason})"
        benign = (
            ev.target in _STORAGE_LOADERS
            and bool(nested)
            and nested[0].analysis is not None
            and not any(f.effect is not Effect.NONE for f in nested[0].analysis.findings)
        )
        self._add(
            out,
            ("PKL006", f"{target}@{ev.site.offset}"),
            rules.NESTED_LOADER.finding(
                self.loc(ev.site),
                message,
                subject=target,
                evidence=evidence,
                behaviour=Behaviour(BehaviourKind.LOADS_NESTED, f"deserialises an embedded payload with {target}"),
                # torch pickles storages as torch.storage._load_from_bytes(<torch file>): a clean inner file is
                # how plain pickle.dumps(tensor) looks, so it is reported but does not taint the verdict.
                severity=Severity.INFO if benign else None,
                effect=Effect.NONE if benign else None,
            ),
        )

    def _references(self, trace: Trace, out: list[Finding]) -> None:
        used = trace.used
        reported = {k[1].split("|", 1)[0] for k in self._seen if k[0] in ("PKL001", "PKL002", "PKL006")}
        for name, site in trace.refs.items():
            if name in used or name in reported:
                continue
            if self.policy.classify(name).safety is not Safety.DANGEROUS:
                continue
            # A module or class whose member was called or reported is covered by that finding.
            if any(u.startswith(name + ".") or u.startswith(name + "()") for u in used | reported):
                continue
            self._add(
                out,
                ("PKL002", name),
                rules.DANGEROUS_REFERENCE.finding(
                    self.loc(site),
                    f"the stream references {name}, but the emulation does not see it called",
                    subject=name,
                    evidence=name,
                ),
            )

    def call_records(self, trace: Trace) -> list[CallRecord]:
        """One record per reconstructed call; safe calls beyond ``MAX_RECORDS`` are left out of the list.

        Arguments of a safe callable are shown for its first ``SHOWN_SAFE_ARGUMENTS`` calls only (later
        ones say ``OMITTED_ARGUMENTS``): a checkpoint makes one ``_rebuild_tensor_v2`` call per tensor, and
        rendering them all cost a quarter of its analysis without telling anyone anything new.
        """
        records: list[CallRecord] = []
        shown: dict[str, int] = {}
        for ev in trace.calls:
            safety = self._safety(ev)
            safe = safety == Safety.SAFE.value
            if len(records) >= MAX_RECORDS and safe:
                continue
            name = ev.shown or "<unresolved>"
            arguments = OMITTED_ARGUMENTS
            if not safe or shown.get(name, 0) < SHOWN_SAFE_ARGUMENTS:
                arguments = render_args(ev.args, ev.kwargs)
                if safe:
                    shown[name] = shown.get(name, 0) + 1
            records.append(CallRecord(callable=name, arguments=arguments, safety=safety, location=self.loc(ev.site)))
        return records

    def _safety(self, ev: CallEvent) -> str:
        if ev.role == LOADER:
            return Safety.DANGEROUS.value
        if ev.target is None:
            return Safety.UNKNOWN.value
        if ev.role in (RESOLVER, PURE):
            if isinstance(ev.result, Global):
                return self.policy.classify(ev.result.name).safety.value
            if isinstance(ev.result, ModuleRef):
                return self.policy.classify(ev.result.module).safety.value
            return Safety.SAFE.value
        return self.policy.classify(ev.target).safety.value
