"""Editing one tenant's rules inside the shared rules file, as the dashboard's admins do.

The lake's rules file holds every tenant's budgets and alerts. An admin of a tenant sees and
replaces only that tenant's ``[[budget]]`` and ``[[alert]]`` tables: the other tenants' tables,
and the comments and layout of the file, are kept as they were (tomlkit, a style-preserving TOML
library). The edit is validated as a whole (``parse_rules``) and must name no other tenant, so an
admin of one tenant cannot add, change or remove another's rules.
"""

from __future__ import annotations

from typing import Any

import tomlkit

from invlog.lake import Lake
from invlog.rules.config import LAKE_RULES, RulesError, parse_rules

KINDS = ("budget", "alert")


def tenant_text(text: str, tenant: str) -> str:
    """The TOML of ``tenant``'s own tables in a rules file's text."""
    doc = tomlkit.parse(text)
    mine = tomlkit.document()
    for kind in KINDS:
        tables = [t for t in doc.get(kind, []) if t.get("tenant") == tenant]
        if tables:
            aot = tomlkit.aot()
            for t in tables:
                aot.append(t)
            mine[kind] = aot
    return tomlkit.dumps(mine)


def replace_tenant(text: str, tenant: str, edited: str) -> str:
    """The whole file with ``tenant``'s tables replaced by ``edited``; ``RulesError`` names what is wrong."""
    new = parse_rules(edited, source=f"the rules of {tenant}", in_lake=True)
    others = sorted(({b.tenant for b in new.budgets} | {a.tenant for a in new.alerts}) - {tenant})
    if others:
        raise RulesError(f"the rules of {tenant}: tenant: these rules may only name tenant {tenant!r}, not "
                         f"{', '.join(repr(o) for o in others)}")
    doc = tomlkit.parse(text)
    add = tomlkit.parse(edited)
    for kind in KINDS:
        kept: list[Any] = [t for t in doc.get(kind, []) if t.get("tenant") != tenant]
        aot = tomlkit.aot()
        for t in [*kept, *add.get(kind, [])]:
            aot.append(t)
        if len(aot):
            doc[kind] = aot
        elif kind in doc:
            del doc[kind]
    out = tomlkit.dumps(doc)
    parse_rules(out, source="the rules file", in_lake=True)  # the whole file stays valid (names unique)
    return out


def save_tenant(lake: Lake, tenant: str, edited: str) -> None:
    """Replace ``tenant``'s rules in the lake's rules file (written whole and atomically)."""
    text = lake.read(LAKE_RULES).decode("utf-8") if lake.exists(LAKE_RULES) else ""
    lake.put(LAKE_RULES, replace_tenant(text, tenant, edited).encode())
