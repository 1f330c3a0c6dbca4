"""SQL lives in ``warehouse/sql/*.sql``, one query a file, loaded by name.

Each file starts with ``-- name: <name>`` and a comment saying what it answers.
Values are always named parameters (``$tenant``); the only text substituted is a
structural slot (``{split}``, ``{order_by}``, ``{filter}``) whose content comes
from a whitelist in Python or from another of these files (a predicate two queries
share), never from a user.
"""

from __future__ import annotations

import os
import re
from functools import cache

SQL_DIR = os.path.join(os.path.dirname(__file__), "sql")
_SLOT = re.compile(r"\{(\w+)\}")


@cache
def load(name: str) -> str:
    path = os.path.join(SQL_DIR, f"{name}.sql")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if not text.startswith(f"-- name: {name}\n"):
        raise ValueError(f"{path}: must start with '-- name: {name}'")
    return text


def render(name: str, **slots: str) -> str:
    """The query with its structural slots filled; every slot must be given."""
    text = load(name)
    wanted = set(_SLOT.findall(text))
    if wanted != set(slots):
        raise ValueError(f"{name}.sql: slots {sorted(wanted)} need values, got {sorted(slots)}")
    return _SLOT.sub(lambda m: slots[m.group(1)], text)


def names() -> list[str]:
    return sorted(f[:-4] for f in os.listdir(SQL_DIR) if f.endswith(".sql"))
