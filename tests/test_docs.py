"""The docs' code blocks that are not Python (which pytest-markdown-docs runs): checked or twinned.

TOML blocks are loaded by the code that reads them in use (price overrides by the
recorder's price book, secrets by the dashboard's access validation, rules by the budget
checker, the reconciliation config by ``warehouse.reconcile``). Shell and
nginx blocks are illustrative; each has a tested twin, named here, and a new one
fails this test until it is given one.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib

import pytest

from invlog.dashboard import access_config
from invlog.pricing import PriceBook
from tests.support import ROOT

DOCS = ["README.md", *(os.path.join("docs", f) for f in sorted(os.listdir(os.path.join(ROOT, "docs"))))]
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```$", re.M | re.S)
# Illustrative blocks and the tests that run the same thing.
TWINS = {
    ("README.md", "make run"): "make run = invlog demo + invlog dashboard: tests/test_packaging.py",
    ("README.md", "make test"): ".ci/run runs it",
    ("README.md", "pip install"): "tests/test_packaging.py (wheel and pip install . into fresh venvs)",
    ("docs/otel.md", "python -m recorder.otlp --lake"):
        "the receiver's command line: tests/recorder/test_otlp.py::test_the_receiver_command_line",
    ("docs/security.md", "proxy_pass"):
        "a reverse-proxy example; the guard it repeats: tests/dashboard/test_e2e_login.py",
}


def _blocks(lang: str):
    for doc in DOCS:
        with open(os.path.join(ROOT, doc), encoding="utf-8") as f:
            for m in FENCE.finditer(f.read()):
                if m.group(1) == lang:
                    yield doc, m.group(2)


@pytest.mark.parametrize("doc,text", list(_blocks("toml")))
def test_toml_blocks_load_with_the_code_that_reads_them(doc, text, tmp_path):
    data = tomllib.loads(text)
    if "price" in data:
        path = tmp_path / "prices.toml"
        path.write_text(text)
        book = PriceBook(str(path))
        for entry in data["price"]:  # each documented override is what the recorder then prices with
            day = entry.get("from", dt.date(2026, 6, 1))
            wall_us = (day - dt.date(1970, 1, 1)).days * 86_400_000_000
            plan = book.plan(entry.get("tenant") or "t", entry["provider"], entry["model"], (), wall_us)[0]
            assert not isinstance(plan, str) and plan.source == f"override:{path.name}", plan
    elif "budget" in data or "alert" in data:  # a rules file: as the checker reads the lake's own
        from invlog.rules import parse_rules

        rules = parse_rules(text, in_lake=True)
        assert rules.budgets or rules.alerts
    elif "notify" in data:  # the notification secrets file: names to apprise URLs
        assert data["notify"] and all("://" in v for v in data["notify"].values())
    elif "keys" in data:  # the OTLP receiver's API keys to tenants
        from recorder.otlp.keys import Keys

        path = tmp_path / "keys.toml"
        path.write_text(text)
        assert Keys.load(str(path)).tenant("Bearer key-for-globex-at-least-16-chars") == "globex"
    elif "openai" in data or "anthropic" in data:  # the reconciliation keys-to-tenants file
        from warehouse.reconcile import parse_config

        assert parse_config(text).providers
    else:
        cfg = access_config.parse(data)
        assert cfg.login == ("auth" in data) and (cfg.users or cfg.local_user)


def test_every_illustrative_block_has_a_twin():
    for lang in ("bash", "sh", "nginx", "console"):
        for doc, text in _blocks(lang):
            assert any(d == doc and key in text for d, key in TWINS), f"{doc}: a {lang} block without a twin: {text}"


def test_every_test_named_in_the_guarantees_exists():
    """docs/guarantees.md proves each promise by naming tests (paths under tests/; a name ending in
    ``_`` is the start of one): each must exist, so a moved or renamed test cannot leave a promise unproved."""
    with open(os.path.join(ROOT, "docs", "guarantees.md"), encoding="utf-8") as fh:
        text = fh.read()
    refs = set(re.findall(r"(?<![\w/])((?:tests/)?(?:\w+/)?test_\w+\.py)(?:::(test_\w+))?", text))
    assert len(refs) > 30
    for path, name in sorted(refs):
        full = os.path.join(ROOT, path if path.startswith("tests/") else f"tests/{path}")
        assert os.path.isfile(full), f"docs/guarantees.md names {path}, which does not exist"
        if name:
            with open(full, encoding="utf-8") as fh:
                tests = re.findall(r"^(?:async )?def (test_\w+)", fh.read(), flags=re.M)
            found = name in tests or (name.endswith("_") and any(t.startswith(name) for t in tests))
            assert found, f"docs/guarantees.md names {path}::{name}, which is not a test there"
