"""Metric definitions for the dashboards, read from the dbt docs blocks.

`dbt/models/docs/*.md` define every metric once (`{% docs name %} ... {% enddocs %}`); the
marts' column descriptions and the dashboards' hover help both come from there, so a
definition is never copied into page code.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parent.parent / "dbt" / "models" / "docs"
_BLOCK = re.compile(r"{%-?\s*docs\s+(\w+)\s*-?%}(.*?){%-?\s*enddocs\s*-?%}", re.DOTALL)


@cache
def all_definitions() -> dict[str, str]:
    """Every docs block by name, its text with line breaks inside paragraphs joined."""
    blocks: dict[str, str] = {}
    for path in sorted(DOCS_DIR.glob("*.md")):
        for name, body in _BLOCK.findall(path.read_text(encoding="utf-8")):
            paragraphs = [" ".join(p.split()) for p in body.strip().split("\n\n")]
            blocks[name] = "\n\n".join(p for p in paragraphs if p)
    return blocks


def definition(name: str) -> str:
    """The docs block `name`; a KeyError names the missing block (a typo fails loudly)."""
    blocks = all_definitions()
    if name not in blocks:
        raise KeyError(f"no dbt docs block {name!r} in {DOCS_DIR}")
    return blocks[name]
