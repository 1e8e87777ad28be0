"""The Rule type: permanent metadata for one kind of finding (bandit-style)."""

from __future__ import annotations

from dataclasses import dataclass

from modelsieve.model import (
    Behaviour,
    Confidence,
    Effect,
    Finding,
    Indicator,
    Location,
    Severity,
)


@dataclass(frozen=True)
class Rule:
    """One check. ``id`` is permanent and never reused, even when a rule is retired.

    ``effect`` says what a finding of this rule does to its file's verdict:
    a reconstructed dangerous call is MALICIOUS, a capability or anomaly is
    SUSPICIOUS, a parse failure is INCONCLUSIVE, an indicator is NONE.
    """

    id: str
    title: str
    severity: Severity
    confidence: Confidence
    effect: Effect
    cwe: int | None
    description: str
    remediation: str
    references: tuple[str, ...] = ()
    added: str = "0.1.0"
    area: str = "general"
    tags: tuple[str, ...] = ()

    def finding(
        self,
        location: Location,
        message: str,
        *,
        subject: str = "",
        evidence: str = "",
        behaviour: Behaviour | None = None,
        indicators: tuple[Indicator, ...] = (),
        severity: Severity | None = None,
        confidence: Confidence | None = None,
        effect: Effect | None = None,
    ) -> Finding:
        """A finding of this rule; severity/confidence/effect default to the rule's."""
        return Finding(
            rule_id=self.id,
            severity=severity or self.severity,
            confidence=confidence or self.confidence,
            effect=effect or self.effect,
            message=message,
            location=location,
            subject=subject,
            evidence=evidence,
            behaviour=behaviour,
            indicators=indicators,
        )
