"""Rule catalog and policy data."""

#: Version of the rule set (ids, severities, policy): reports carry it, so results of different rule sets are
#: told apart. Kept here rather than in ``catalog`` so that a report can name it without importing every rule.
RULESET_VERSION = "2026.11.1"
