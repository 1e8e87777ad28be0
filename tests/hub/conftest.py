"""Hub test fixtures live in ``hubrepos`` (a unique module name: several test folders have a conftest)."""

from hubrepos import *  # noqa: F403
