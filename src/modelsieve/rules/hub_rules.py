"""Rules for remote sources (Hugging Face Hub): a file that could not be fetched is never clean."""

from __future__ import annotations

from modelsieve.model import Confidence, Effect, Severity
from modelsieve.rules.base import Rule

REPO_UNAVAILABLE = Rule(
    id="HUB001",
    title="Inconclusive: repository not found or not accessible",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.INCONCLUSIVE,
    cwe=None,
    description=(
        "The Hub answered that the repository or revision does not exist, or that it is private and the token "
        "(if any) does not grant access. Nothing in it was analysed."
    ),
    remediation="Check the repository id and revision; pass a token (HF_TOKEN or --token) for private repositories.",
    area="hub",
)

REPO_GATED = Rule(
    id="HUB002",
    title="Inconclusive: gated repository, access not granted",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.INCONCLUSIVE,
    cwe=None,
    description=(
        "The repository is gated: its files are served only to accounts that accepted its conditions. "
        "The files that could not be fetched were not analysed."
    ),
    remediation="Accept the repository's conditions on the Hub and scan again with a token of that account.",
    area="hub",
)

DOWNLOAD_FAILED = Rule(
    id="HUB003",
    title="Inconclusive: file could not be fetched from the Hub",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.INCONCLUSIVE,
    cwe=None,
    description=(
        "Downloading the file, or reading part of it with an HTTP range request, failed (missing file, "
        "server error, network failure, size mismatch). The part that could not be read was not analysed."
    ),
    remediation="Scan again later, or download the file and scan it locally.",
    area="hub",
)

OVER_SIZE_LIMIT = Rule(
    id="HUB004",
    title="Not analysed: file larger than the size limit",
    severity=Severity.INFO,
    confidence=Confidence.HIGH,
    effect=Effect.NOT_ANALYSED,
    cwe=None,
    description="The file is larger than the size limit given for this scan, so it was not fetched or analysed.",
    remediation="Raise the size limit (--max-size) to analyse it; remote analysis reads only the parts it needs.",
    area="hub",
)

LISTING_INCOMPLETE = Rule(
    id="HUB005",
    title="Inconclusive: repository listing incomplete",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.INCONCLUSIVE,
    cwe=None,
    description=(
        "The repository holds more files than the scan's listing limit, or the listing failed part-way, "
        "so some files were never considered."
    ),
    remediation="Raise the file limit or scan the revision's files individually.",
    area="hub",
)

RULES: tuple[Rule, ...] = (
    REPO_UNAVAILABLE,
    REPO_GATED,
    DOWNLOAD_FAILED,
    OVER_SIZE_LIMIT,
    LISTING_INCOMPLETE,
)
