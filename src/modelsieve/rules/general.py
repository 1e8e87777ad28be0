"""Rules that apply to every format: parse failures, limits, unsupported content."""

from __future__ import annotations

from modelsieve.model import Confidence, Effect, Severity
from modelsieve.rules.base import Rule

PARSE_ERROR = Rule(
    id="GEN001",
    title="Inconclusive: content could not be parsed",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.INCONCLUSIVE,
    cwe=20,
    description=(
        "The file or member is malformed or truncated, so analysis stopped before the end. "
        "A loader may still act on the part before the break, so the file is never called clean."
    ),
    remediation="Do not load the file until it has been obtained again from a trusted source and re-scanned.",
)

LIMIT_EXCEEDED = Rule(
    id="GEN002",
    title="Inconclusive: an analysis limit was exceeded",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.INCONCLUSIVE,
    cwe=400,
    description=(
        "A bound on opcodes, stack depth, memo size, nesting, expansion, archive size or time was reached. "
        "Such files are often resource-exhaustion attempts; the rest of the content was not analysed."
    ),
    remediation="Inspect the file manually or raise the limit explicitly if the size is expected.",
)

NOT_ANALYSED = Rule(
    id="GEN003",
    title="Not analysed: format not recognised or not supported",
    severity=Severity.INFO,
    confidence=Confidence.HIGH,
    effect=Effect.NOT_ANALYSED,
    cwe=None,
    description="modelsieve does not recognise or does not analyse this content; it is reported, never called clean.",
    remediation="Make sure the file is what it claims to be; use a format modelsieve analyses where possible.",
)

UNRECOGNISED_MODEL = Rule(
    id="GEN004",
    title="Inconclusive: file expected to be a model but content is not recognised",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    effect=Effect.INCONCLUSIVE,
    cwe=20,
    description=(
        "The file was named explicitly, or its name claims a model format, but its bytes match no known format "
        "(empty, random or corrupted content)."
    ),
    remediation="Obtain the file again from a trusted source; do not load it as is.",
)

READ_ERROR = Rule(
    id="GEN005",
    title="Inconclusive: file could not be read",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.INCONCLUSIVE,
    cwe=None,
    description="The operating system refused to read the file (permissions, I/O error, vanished file).",
    remediation="Fix access to the file and scan again.",
)

INTERNAL_ERROR = Rule(
    id="GEN006",
    title="Inconclusive: analyser error",
    severity=Severity.MEDIUM,
    confidence=Confidence.LOW,
    effect=Effect.INCONCLUSIVE,
    cwe=None,
    description=(
        "An analyser failed unexpectedly on this content. The failure is contained and reported; "
        "the file is never called clean. Please report it with the file if possible."
    ),
    remediation="Treat the file as unverified; report the error to the modelsieve maintainers.",
)

RULES: tuple[Rule, ...] = (
    PARSE_ERROR,
    LIMIT_EXCEEDED,
    NOT_ANALYSED,
    UNRECOGNISED_MODEL,
    READ_ERROR,
    INTERNAL_ERROR,
)
