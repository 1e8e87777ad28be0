"""Regenerate RULES.md from the rule catalog (idempotent: run it after adding rules).

Usage: python scripts/gen_rules_doc.py [--check]
With --check, exit 1 if RULES.md is out of date instead of writing it.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from modelsieve.report.rulesdoc import to_markdown  # noqa: E402

RULES_MD = ROOT / "RULES.md"


def main(argv: list[str]) -> int:
    text = to_markdown()
    current = RULES_MD.read_text(encoding="utf-8") if RULES_MD.exists() else None
    if "--check" in argv:
        if current != text:
            print(f"{RULES_MD.name} is out of date; run: python scripts/gen_rules_doc.py", file=sys.stderr)
            return 1
        return 0
    if current != text:
        RULES_MD.write_text(text, encoding="utf-8")
        print(f"wrote {RULES_MD}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
