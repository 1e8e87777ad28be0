"""Rules of the pickle engine. Ids are permanent; add new ones, never renumber."""

from __future__ import annotations

from modelsieve.model import Confidence, Effect, Severity
from modelsieve.rules.base import Rule

_AREA = "pickle"

DANGEROUS_CALL = Rule(
    id="PKL001",
    title="Loading calls a dangerous function",
    severity=Severity.CRITICAL,
    confidence=Confidence.HIGH,
    effect=Effect.MALICIOUS,
    cwe=502,
    description=(
        "Emulating the load reconstructs a call to a function that runs commands, executes code, touches the "
        "network or the file system, or loads native code (os.system, subprocess, eval/exec, runpy, pip.main, "
        "webbrowser.open, ...), reached directly or through getattr/import_module/attrgetter/partial/copyreg "
        "indirection. Loading the file makes this call."
    ),
    remediation="Do not load the file. Report the repository; if you need the weights, convert them in a sandbox.",
    references=("https://docs.python.org/3/library/pickle.html#restricting-globals",),
    area=_AREA,
)

DANGEROUS_REFERENCE = Rule(
    id="PKL002",
    title="Dangerous callable referenced, call not proven",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    effect=Effect.SUSPICIOUS,
    cwe=502,
    description=(
        "The stream imports a dangerous function or module, but the emulation could not prove that loading "
        "calls it (it is stored, passed along, or its use depends on unknown code)."
    ),
    remediation="Treat as unsafe until reviewed; load only in a sandbox, or with weights_only / safetensors.",
    area=_AREA,
)

UNKNOWN_CALL = Rule(
    id="PKL003",
    title="Call to a function that is not on the allow-list",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    effect=Effect.SUSPICIOUS,
    cwe=502,
    description=(
        "Loading calls a function that is neither known safe nor known dangerous. Unknown importable callables "
        "are never assumed safe."
    ),
    remediation="Review what the named function does with the given arguments before loading.",
    area=_AREA,
)

NEEDS_CODE = Rule(
    id="PKL004",
    title="Loading needs code from a module outside the allow-list",
    severity=Severity.LOW,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=829,
    description=(
        "The file instantiates classes defined in a module that must be importable when loading "
        "(e.g. __main__.Net from torch.save(model)). That module's code runs on import; the file itself is "
        "not proven malicious."
    ),
    remediation="Load only with the trusted source code of that module, or re-save as a state_dict/safetensors.",
    area=_AREA,
)

UNRESOLVED_INDIRECTION = Rule(
    id="PKL005",
    title="Callable chosen indirectly and not resolvable",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    effect=Effect.SUSPICIOUS,
    cwe=502,
    description=(
        "getattr, importlib.import_module, operator.attrgetter/methodcaller, pkgutil.resolve_name or similar "
        "choose the called object from data the emulation cannot resolve, a common obfuscation technique. Also "
        "raised for a dotted global name (os path.os.system) in a stream below protocol 4: the loader does not "
        "follow the dots there and fails, so the named callable is reported but not as a call."
    ),
    remediation="Treat as unsafe until reviewed.",
    area=_AREA,
)

NESTED_LOADER = Rule(
    id="PKL006",
    title="Loading deserialises an embedded payload",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=502,
    description=(
        "The stream calls a loader (pickle.loads, torch.load, dill.loads, marshal.loads, ...) on bytes it carries, "
        "possibly after decoding them (base64, hex, zlib, lzma, gzip, bz2). The inner payload is scanned too and "
        "its findings are reported beside this one."
    ),
    remediation="Treat as unsafe: a nested payload is a classic way to hide code from scanners.",
    area=_AREA,
)

EXTENSION_REGISTRY = Rule(
    id="PKL007",
    title="Callable taken from the copyreg extension registry",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    effect=Effect.SUSPICIOUS,
    cwe=502,
    description=(
        "EXT1/EXT2/EXT4 fetch a callable by a numeric code from copyreg's extension registry, so no GLOBAL opcode "
        "names it. Codes registered in the same stream are resolved; unknown codes are flagged."
    ),
    remediation="Treat as unsafe until reviewed; standard model files never use extension codes.",
    area=_AREA,
)

BROKEN_AFTER_CALLS = Rule(
    id="PKL008",
    title="Pickle breaks after calls a loader would already have made",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    effect=Effect.INCONCLUSIVE,
    cwe=20,
    description=(
        "The stream is invalid past some offset, but only after opcodes that call functions: a real loader runs "
        "those calls before it fails (the 'nullifAI' technique). The calls are reported; the rest was not analysed."
    ),
    remediation="Do not load the file; a broken pickle that still calls functions is a deliberate evasion.",
    references=("https://www.reversinglabs.com/blog/rl-identifies-malware-ml-model-hosted-on-hugging-face",),
    area=_AREA,
)

FRAME_DIVERGENCE = Rule(
    id="PKL009",
    title="FRAME length disagrees with its contents",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=436,
    description=(
        "A protocol-4 FRAME announces a length that does not end on an opcode boundary, so tools that walk frames "
        "see different opcodes than the real unpickler executes. The stream is analysed as CPython reads it."
    ),
    remediation="Treat as unsafe: legitimate pickles never produce inconsistent frames.",
    area=_AREA,
)

MEMO_ANOMALY = Rule(
    id="PKL010",
    title="Memo used in a way no pickler produces",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    effect=Effect.SUSPICIOUS,
    cwe=436,
    description=(
        "GET of an unset memo slot, a memo slot overwritten with a different object, or a non-string memo value "
        "fed to STACK_GLOBAL: hand-crafted streams use these to hide which global is really called."
    ),
    remediation="Treat as unsafe until reviewed.",
    area=_AREA,
)

STACKED_PICKLE = Rule(
    id="PKL011",
    title="Several pickles in one stream",
    severity=Severity.INFO,
    confidence=Confidence.HIGH,
    effect=Effect.NONE,
    cwe=None,
    description=(
        "Another pickle follows STOP. Legacy PyTorch files do this legitimately; every pickle is analysed, "
        "because loaders may read them all."
    ),
    remediation="None needed on its own.",
    area=_AREA,
)

TRAILING_DATA = Rule(
    id="PKL012",
    title="Bytes after the last pickle",
    severity=Severity.LOW,
    confidence=Confidence.HIGH,
    effect=Effect.NONE,
    cwe=None,
    description="Data that is not a pickle follows the last STOP. Loaders ignore it; it may carry a hidden payload.",
    remediation="Check what the trailing bytes are (the indicators list shows any URLs or executables in them).",
    area=_AREA,
)

DUNDER_ACCESS = Rule(
    id="PKL013",
    title="Reaches interpreter internals through dunder attributes",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=94,
    description=(
        "A dotted global name or attribute chain walks __class__, __base__, __subclasses__, __globals__, "
        "__builtins__, __dict__ or similar: the standard sandbox-escape route, never found in model files."
    ),
    remediation="Treat as unsafe.",
    area=_AREA,
)

MONKEY_PATCH = Rule(
    id="PKL014",
    title="Loading changes an attribute of an imported module or class",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=915,
    description=(
        "BUILD applied to an imported module, class or function sets attributes on it (monkey-patching): later "
        "GLOBAL/STACK_GLOBAL lookups, and every other user of that module in the process, then get the injected "
        "value. Also raised when SETITEM/APPEND(S)/ADDITEMS or setitem write straight into module-level state "
        "(builtins.__dict__, sys.modules, os.environ, sys.path): the change outlives loading. Picklers never "
        "produce this."
    ),
    remediation="Treat as unsafe: the stream rewires importable objects before using them.",
    added="0.1.0",
    area=_AREA,
)

RULES: tuple[Rule, ...] = (
    DANGEROUS_CALL,
    DANGEROUS_REFERENCE,
    UNKNOWN_CALL,
    NEEDS_CODE,
    UNRESOLVED_INDIRECTION,
    NESTED_LOADER,
    EXTENSION_REGISTRY,
    BROKEN_AFTER_CALLS,
    FRAME_DIVERGENCE,
    MEMO_ANOMALY,
    STACKED_PICKLE,
    TRAILING_DATA,
    DUNDER_ACCESS,
    MONKEY_PATCH,
)
