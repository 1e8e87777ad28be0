"""Rules for indicators found in any content. Ids are permanent; add new ones, never renumber."""

from __future__ import annotations

from modelsieve.model import Confidence, Effect, Severity
from modelsieve.rules.base import Rule

_AREA = "indicators"

URL = Rule(
    id="IND001",
    title="URL or domain in content",
    severity=Severity.INFO,
    confidence=Confidence.HIGH,
    effect=Effect.NONE,
    cwe=None,
    description="A URL or domain name appears in code-bearing content. Listed in every summary; on its own harmless.",
    remediation="Check that the address is expected for this model.",
    area=_AREA,
)

RISKY_URL = Rule(
    id="IND002",
    title="Address of a paste site, URL shortener, tunnel, webhook or raw IP",
    severity=Severity.LOW,
    confidence=Confidence.HIGH,
    effect=Effect.NONE,
    cwe=None,
    description=(
        "Paste sites, shorteners, tunnels (ngrok ...), chat webhooks and raw IP:port addresses are how payloads "
        "are staged and data exfiltrated. Combined with a network or execution capability the file is malicious."
    ),
    remediation="Find out what the address serves before loading; a model has no reason to contact it.",
    area=_AREA,
)

COMMAND_LINE = Rule(
    id="IND003",
    title="Shell command line in content",
    severity=Severity.LOW,
    confidence=Confidence.MEDIUM,
    effect=Effect.NONE,
    cwe=78,
    description="A string that looks like a shell command line (curl|sh, wget, powershell -enc, bash -c, nc -e ...).",
    remediation="Check why a model file carries a command line.",
    area=_AREA,
)

ENCODED_PAYLOAD = Rule(
    id="IND004",
    title="Encoded blob decodes to code or a pickle",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    effect=Effect.SUSPICIOUS,
    cwe=506,
    description="A base64 or hex string decodes to Python source, a pickle, a marshal'd code object or an executable.",
    remediation="Treat as hidden code; analyse the decoded content (modelsieve scans decoded pickles too).",
    area=_AREA,
)

EMBEDDED_EXECUTABLE = Rule(
    id="IND005",
    title="Embedded executable with a valid header",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=506,
    description=(
        "An ELF, PE or Mach-O executable (headers validated, not a chance byte pattern inside tensor data) or a "
        "script with a shebang is embedded where a model has no reason to carry one."
    ),
    remediation="Do not load; extract and analyse the executable separately.",
    area=_AREA,
)

RULES: tuple[Rule, ...] = (URL, RISKY_URL, COMMAND_LINE, ENCODED_PAYLOAD, EMBEDDED_EXECUTABLE)
