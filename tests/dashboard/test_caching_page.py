"""The Prompt caching page (AppTest) on the lake of known cache reads and writes (tests/support/cache_lake.py)."""

from __future__ import annotations

import datetime as dt

from tests.support.apptest import app
from tests.support.cache_lake import record_cache_lake


def test_the_page_shows_savings_the_what_if_and_the_prompts_whose_writes_do_not_pay(tmp_path, monkeypatch):
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
    lake = str(tmp_path / "lake")
    record_cache_lake(lake, dt.datetime.combine(day, dt.time(9), dt.UTC))
    at = app(lake, monkeypatch, page="pages/caching.py", tenant="acme")
    metrics = {m.label: m.value for m in at.metric}
    # net: v1 $0.039 + v2 -$0.0024 = $0.0366; recorded $0.0852 + v2 (49,050 + 3,450 micro-dollars) = $0.1377;
    # without caching $0.1743 (the figures of tests/warehouse/test_caching.py)
    assert metrics["Saved by cache reads"] == "$0.08" and metrics["Write premium"] == "$0.04"
    assert metrics["Net"] == "$0.04" and metrics["Without caching"] == "$0.17"
    (warning,) = [w.value for w in at.warning]
    assert "support v2 (-$0.0024)" in warning and "support v1" not in warning
    assert [t.label for t in at.tabs] == ["By prompt", "By agent", "By model"]
    prompts = at.dataframe[0].value
    assert list(prompts["prompt_version"]) == ["1", "2"] and list(prompts["wasted_write_tokens"]) == [10_000, 0]
    assert any("Derived, not reported" in c.value for c in at.caption)
