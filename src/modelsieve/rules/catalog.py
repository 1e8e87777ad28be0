"""The single source of truth for every rule: docs and SARIF are generated from it."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from modelsieve.rules import (
    RULESET_VERSION,
    containers_rules,
    formats_rules,
    general,
    hub_rules,
    indicators_rules,
    pickle_rules,
)
from modelsieve.rules.base import Rule

__all__ = ["RULESET_VERSION", "all_rules", "get", "help_uri"]


def _build() -> Mapping[str, Rule]:
    table: dict[str, Rule] = {}
    for module in (general, pickle_rules, containers_rules, formats_rules, indicators_rules, hub_rules):
        for rule in module.RULES:
            if rule.id in table:
                raise RuntimeError(f"duplicate rule id {rule.id}")
            table[rule.id] = rule
    return MappingProxyType(dict(sorted(table.items())))


CATALOG: Mapping[str, Rule] = _build()


def get(rule_id: str) -> Rule:
    """The rule with this id (KeyError for an unknown id)."""
    return CATALOG[rule_id]


def all_rules() -> tuple[Rule, ...]:
    return tuple(CATALOG.values())


# Where each rule's documentation lives; RULES.md has one anchor per rule id (lower case).
RULES_DOC_URL = "https://github.com/modelsieve/modelsieve/blob/main/RULES.md"


def help_uri(rule: Rule) -> str:
    """Link to the rule's section in RULES.md."""
    return f"{RULES_DOC_URL}#{rule.id.lower()}"
