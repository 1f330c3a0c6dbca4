"""Prompt-cache economics (warehouse.caching, ``Warehouse.cache_economics``) on a lake recorded through the
Anthropic SDK against a loopback server, with 5-minute and 1-hour cache writes at known times
(tests/support/cache_lake.py). Claude Sonnet 4.5 per million tokens: input $3, cache read $0.30,
5-minute write $3.75, 1-hour write $6, output $15; every expected figure is worked out by hand.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.support.cache_lake import record_cache_lake
from warehouse import Warehouse
from warehouse.caching import READ_BACK_RULE

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
D = Decimal


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    lake = str(tmp_path_factory.mktemp("cache") / "lake")
    record_cache_lake(lake, T0)
    return lake


def by(df, *keys):
    return {tuple(r[k] for k in keys): r for r in df.iter_rows(named=True)}


def test_savings_premiums_net_and_wasted_writes_per_prompt_version(lake):
    df = Warehouse(lake).cache_economics("acme", T0.date(), T0.date(), group_by="prompt")
    v1, v2 = by(df, "prompt_name", "prompt_version")[("support", "1")], by(df, "prompt_name",
                                                                            "prompt_version")[("support", "2")]
    # v1: two reads of 10,000 save 10,000 x (3 - 0.30) = $0.027 each; two 5-minute writes of 10,000 cost
    # 10,000 x (3.75 - 3) = $0.0075 each above input; the second write is never read within 5 minutes.
    assert (v1["rounds"], v1["cache_read_tokens"], v1["cache_write_tokens"], v1["wasted_write_tokens"]) == (
        4, 20_000, 20_000, 10_000)
    assert (v1["savings_usd"], v1["write_premium_usd"], v1["net_usd"]) == (D("0.054"), D("0.015"), D("0.039"))
    # v2: one 1-hour write of 8,000 costs 8,000 x (6 - 3) = $0.024 above input; one read saves 8,000 x 2.70 =
    # $0.0216: the writes of this version do not pay (net -$0.0024), though nothing was wasted.
    assert (v2["savings_usd"], v2["write_premium_usd"], v2["net_usd"], v2["wasted_write_tokens"]) == (
        D("0.0216"), D("0.024"), D("-0.0024"), 0)
    # the what-if: each round's recorded cost plus the net. Recorded: v1 = 2 x (300 + 37,500 + 750) +
    # 2 x (300 + 3,000 + 750) micro-dollars = $0.0852; without caching 4 x (30,300 + 750) = $0.1242.
    assert (v1["cost_usd"], v1["uncached_cost_usd"]) == (D("0.0852"), D("0.1242"))
    assert v1["uncached_cost_usd"] == v1["cost_usd"] + v1["net_usd"]
    assert all(isinstance(v1[c], Decimal) for c in ("savings_usd", "write_premium_usd", "net_usd", "cost_usd",
                                                    "uncached_cost_usd"))
    assert v1["cache_read_share"] == pytest.approx(20_000 / (4 * 100 + 40_000))


def test_groups_by_agent_model_and_day_add_up_to_the_same_totals(lake):
    wh = Warehouse(lake)
    frames = {g: wh.cache_economics("acme", T0.date(), T0.date(), group_by=g) for g in ("agent", "prompt", "model",
                                                                                         "day")}
    for col in ("savings_usd", "write_premium_usd", "net_usd", "wasted_write_tokens", "uncached_cost_usd"):
        totals = {g: f[col].sum() for g, f in frames.items()}
        assert len(set(totals.values())) == 1, (col, totals)
    (agent,) = frames["agent"].iter_rows(named=True)
    assert agent["agent"] == "support-bot" and agent["net_usd"] == D("0.0366")
    assert (agent["cost_usd"], agent["uncached_cost_usd"], agent["rounds"]) == (D("0.1377"), D("0.1743"), 6)
    assert frames["model"]["model"].to_list() == ["claude-sonnet-4-5"]
    with pytest.raises(ValueError, match="group_by: expected one of agent, prompt, model, day"):
        wh.cache_economics("acme", T0.date(), T0.date(), group_by="user")


def test_a_write_just_before_the_period_end_is_judged_by_reads_after_it(lake):
    # A period that ends 10 minutes after the v2 write: its read back (40 minutes later) is past the period
    # but within the write's hour, so the write is not wasted; the v1 write at +20 min has no read in 5 min.
    end = T0 + dt.timedelta(minutes=40)
    df = Warehouse(lake).cache_economics("acme", T0, end, group_by="prompt")
    rows = by(df, "prompt_version")
    assert rows[("2",)]["wasted_write_tokens"] == 0 and rows[("2",)]["rounds"] == 1
    assert rows[("1",)]["wasted_write_tokens"] == 10_000 and "within the write's TTL" in READ_BACK_RULE


def test_the_spend_report_has_a_caching_section(lake):
    from warehouse import report

    assert Warehouse(lake).spend_report("acme", T0.date(), T0.date()).caching is None  # asked for, not paid always
    rep = Warehouse(lake).spend_report("acme", T0.date(), T0.date(), caching=True)
    (row,) = rep.caching.iter_rows(named=True)
    assert (row["agent"], row["net_usd"], row["uncached_cost_usd"]) == ("support-bot", D("0.0366"), D("0.1743"))
    page = report.to_html(rep, Warehouse(lake).cost_trend("acme", T0.date(), T0.date(), split_by="agent")).decode()
    section = page.split("<h2>Prompt caching</h2>")[1]
    assert "would have cost <b>$0.17</b> instead of $0.14" in section
    assert "<td>support-bot</td><td>28,000</td><td>28,000</td><td>$0.08</td><td>$0.04</td><td>+$0.04</td>" in section
    assert "Derived, not reported" in section
