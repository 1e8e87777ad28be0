"""Comparison results and the agreement matrix between each pair of tools (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from modelsieve.compare.peers import DANGEROUS, ERROR, SAFE, Outcome


@dataclass(frozen=True)
class ItemResult:
    """One input and every tool's answer about it, in tool order."""

    item: str
    outcomes: tuple[tuple[str, Outcome], ...]

    def label(self, tool: str) -> str:
        for name, outcome in self.outcomes:
            if name == tool:
                return outcome.label
        return ERROR


@dataclass(frozen=True)
class ToolTotal:
    """One tool over all inputs: how many of each answer, and its total wall time."""

    tool: str
    dangerous: int
    safe: int
    error: int
    duration_s: float


@dataclass(frozen=True)
class PairAgreement:
    """Two tools side by side. Items where either answered ``error`` are counted apart and listed."""

    tool_a: str
    tool_b: str
    both_dangerous: int
    both_safe: int
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]
    errors: tuple[str, ...]

    @property
    def compared(self) -> int:
        return self.both_dangerous + self.both_safe + len(self.only_a) + len(self.only_b)

    @property
    def agreement(self) -> float | None:
        """Share of compared items where both agree (None when nothing was comparable)."""
        if not self.compared:
            return None
        return (self.both_dangerous + self.both_safe) / self.compared


@dataclass(frozen=True)
class Comparison:
    """Everything one ``compare`` run produced."""

    tools: tuple[str, ...]
    items: tuple[ItemResult, ...]
    skipped_tools: tuple[tuple[str, str], ...] = ()

    @property
    def totals(self) -> tuple[ToolTotal, ...]:
        return tuple(tool_total(self, t) for t in self.tools)

    @property
    def pairs(self) -> tuple[PairAgreement, ...]:
        return tuple(pair_agreement(self, a, b) for a, b in combinations(self.tools, 2))


def tool_total(comparison: Comparison, tool: str) -> ToolTotal:
    counts = {DANGEROUS: 0, SAFE: 0, ERROR: 0}
    duration = 0.0
    for item in comparison.items:
        for name, outcome in item.outcomes:
            if name == tool:
                counts[outcome.label if outcome.label in counts else ERROR] += 1
                duration += outcome.duration_s
    return ToolTotal(tool, counts[DANGEROUS], counts[SAFE], counts[ERROR], round(duration, 3))


def pair_agreement(comparison: Comparison, tool_a: str, tool_b: str) -> PairAgreement:
    both_dangerous = both_safe = 0
    only_a: list[str] = []
    only_b: list[str] = []
    errors: list[str] = []
    for item in comparison.items:
        a, b = item.label(tool_a), item.label(tool_b)
        if ERROR in (a, b) or a not in (DANGEROUS, SAFE) or b not in (DANGEROUS, SAFE):
            errors.append(item.item)
        elif a == b == DANGEROUS:
            both_dangerous += 1
        elif a == b == SAFE:
            both_safe += 1
        elif a == DANGEROUS:
            only_a.append(item.item)
        else:
            only_b.append(item.item)
    return PairAgreement(tool_a, tool_b, both_dangerous, both_safe, tuple(only_a), tuple(only_b), tuple(errors))
