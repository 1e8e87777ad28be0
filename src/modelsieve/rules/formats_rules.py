"""Rules of the formats area. Ids are permanent; add new ones, never renumber."""

from __future__ import annotations

from modelsieve.rules.base import Rule

RULES: tuple[Rule, ...] = ()
