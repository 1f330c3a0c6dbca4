"""Restatements: a period's cost recomputed from the stored usage, the lake untouched."""

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest

from recorder.clock import SimClock
from tests.support.lakeread import rows
from warehouse import Warehouse, reprice
from warehouse.__main__ import main

DAY1, DAY2 = dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC), dt.datetime(2026, 11, 25, 15, tzinfo=dt.UTC)
USAGE = {"input_tokens": 120_000, "output_tokens": 8_000, "cache_read_tokens": 40_000}
OVERRIDE = ('[[price]]\nprovider = "openai"\nmodel = "gpt-4o"\nfrom = 2026-11-25\n'
            'input_mtok = "2"\noutput_mtok = "8"\ncache_read_mtok = "1"\n\n'
            '[[price]]\nprovider = "acme"\nmodel = "acme-llm-7b"\ninput_mtok = "0.1"\noutput_mtok = "0.2"\n')


@pytest.fixture
def restate_lake(make_recorder):
    rec = make_recorder()
    plan = [(DAY1, "gpt-4o", "openai"), (DAY2, "gpt-4o", "openai"), (DAY1, "claude-sonnet-4-5", "anthropic"),
            (DAY2, "claude-sonnet-4-5", "anthropic"), (DAY2, "acme-llm-7b", "acme"), (DAY2, "gemini-3.6-flash",
                                                                                      "google")]
    for when, model, provider in plan:
        with rec.invocation(tenant="acme", agent=f"bot-{provider}", provider=provider, model=model,
                            clock=SimClock(when)) as inv:
            for _ in range(2):
                with inv.round() as r:
                    r.set_response("x", usage=USAGE)
    with rec.invocation(tenant="acme", agent="own-price", provider="openai", model="gpt-4o",
                        clock=SimClock(DAY2)) as inv, inv.round() as r:
        r.set_response("x", usage=USAGE, cost_usd="0.5")  # the caller's own price is never restated
    with rec.invocation(tenant="acme", agent="no-usage", provider="openai", model="gpt-4o",
                        clock=SimClock(DAY2)) as inv, inv.round() as r:
        r.set_response("x")
    assert rec.flush()
    return rec


def test_restating_with_the_same_prices_changes_nothing(restate_lake):
    wh = Warehouse(restate_lake.lake.url)
    rounds = wh.restatement("acme", DAY1.date(), DAY2.date())
    assert rounds.height == 14  # 6 runs of 2 rounds, a caller-priced one, a usage-less one
    priced = rounds.filter(~pl.col("recorded_unpriced"))
    assert (priced["restated_cost_usd"] == priced["recorded_cost_usd"]).all()
    diff = reprice.difference(rounds)
    assert diff["difference_usd"].to_list() == [Decimal(0)] * diff.height


def test_an_override_changes_exactly_the_affected_rows_and_the_differences_sum(restate_lake, tmp_path):
    prices = tmp_path / "negotiated.toml"
    prices.write_text(OVERRIDE)
    before = rows(restate_lake.lake, "rounds")
    wh = Warehouse(restate_lake.lake.url)
    rounds = wh.restatement("acme", DAY1.date(), DAY2.date(), prices=prices)
    changed = rounds.filter(pl.col("restated_cost_usd").ne_missing(pl.col("recorded_cost_usd")))
    # gpt-4o from Nov 25 only (not the caller-priced round, not the usage-less one), and the unknown model
    assert sorted(set(zip(changed["model"], changed["day"].cast(pl.Utf8), strict=True))) == [
        ("acme-llm-7b", "2026-11-25"), ("gpt-4o", "2026-11-25")]
    assert changed.height == 4
    gpt = changed.filter(pl.col("model") == "gpt-4o")["restated_cost_usd"]
    assert gpt.to_list() == [Decimal(80_000 * 2 + 40_000 * 1 + 8_000 * 8) / 10**6] * 2
    acme = rounds.filter(pl.col("model") == "acme-llm-7b")
    assert acme["recorded_unpriced"].all() and not acme["restated_unpriced"].any()
    assert rounds.filter(pl.col("price_source") == "caller")["restated_cost_usd"].to_list() == [Decimal("0.5")]
    nousage = rounds.filter(pl.col("recorded_cost_usd").is_null() & (pl.col("model") == "gpt-4o"))
    assert nousage["restated_unpriced"].all() and nousage["restated_reason"].to_list() == ["missing_usage"]
    diff = reprice.difference(rounds)
    body, total = diff.head(diff.height - 1), diff.row(-1, named=True)
    assert sum(body["difference_usd"].drop_nulls().to_list(), Decimal(0)) == total["difference_usd"]
    assert total["difference_usd"] == total["restated_cost_usd"] - total["recorded_cost_usd"]
    assert total["recorded_unpriced_rounds"] == 3 and total["restated_unpriced_rounds"] == 1
    assert rows(restate_lake.lake, "rounds") == before  # nothing recorded is rewritten


def test_price_date_uses_the_price_history(restate_lake):
    # gemini-3.6-flash doubles its prices on 2027-01-01 in genai-prices' data.
    wh = Warehouse(restate_lake.lake.url)
    rounds = wh.restatement("acme", DAY2.date(), DAY2.date(), price_date=dt.date(2027, 1, 15))
    g = rounds.filter(pl.col("model") == "gemini-3.6-flash")
    assert g["restated_cost_usd"].to_list() == [2 * c for c in g["recorded_cost_usd"].to_list()]
    same = rounds.filter(pl.col("model") == "claude-sonnet-4-5")
    assert (same["restated_cost_usd"] == same["recorded_cost_usd"]).all()


def test_reprice_and_restated_report_commands(restate_lake, tmp_path):
    prices = tmp_path / "negotiated.toml"
    prices.write_text(OVERRIDE)
    lake = restate_lake.lake.url
    out = tmp_path / "restatement.csv"
    assert main(["--lake", lake, "reprice", "--tenant", "acme", "--from", "2026-11-24", "--to", "2026-11-25",
                 "--prices", str(prices), "--out", str(out)]) == 0
    df = pl.read_csv(out, infer_schema=False)
    total = df.filter(pl.col("day") == "total").row(0, named=True)
    body = df.filter(pl.col("day") != "total")
    assert sum((Decimal(x) for x in body["difference_usd"].drop_nulls()), Decimal(0)) == Decimal(
        total["difference_usd"]) != 0
    for ext in ("parquet", "html"):
        assert main(["--lake", lake, "reprice", "--tenant", "acme", "--from", "2026-11-24", "--to", "2026-11-25",
                     "--prices", str(prices), "--out", str(tmp_path / f"r.{ext}")]) == 0
    assert "Restatement: acme" in (tmp_path / "r.html").read_text()
    wh = Warehouse(lake)
    recorded = wh.spend_report("acme", DAY1.date(), DAY2.date())
    restated = wh.spend_report("acme", DAY1.date(), DAY2.date(), restated=True, prices=prices)
    assert restated.total_cost_usd == recorded.total_cost_usd + Decimal(total["difference_usd"])
    assert restated.unpriced_runs == 1 and recorded.unpriced_runs == 2
    assert any("Restated" in n for n in restated.notes)
    html = tmp_path / "restated.html"
    assert main(["--lake", lake, "report", "--tenant", "acme", "--from", "2026-11-24", "--to", "2026-11-25",
                 "--restated", "--prices", str(prices), "--out", str(html)]) == 0
    assert "Restated" in html.read_text()
    # restating options without --restated is a usage mistake, not a silent recorded report
    assert main(["--lake", lake, "report", "--tenant", "acme", "--from", "2026-11-24", "--to", "2026-11-25",
                 "--prices", str(prices), "--out", str(tmp_path / "x.csv")]) == 2


def test_parts_of_an_older_recorder_publish_reprice_and_compact(restate_lake):
    """Schema version 1 rows (no billed-unit columns): spool segments of an older recorder still
    publish, read with those units absent, restate to their recorded cost, and compact with v2 parts."""
    import io

    import pyarrow.parquet as pq

    from invlog.lake import INVOCATIONS, ROUNDS
    from recorder import parts
    from warehouse.compact import compact

    v2 = {"cache_write_5m_tokens", "cache_write_1h_tokens", "input_audio_tokens", "output_audio_tokens",
          "web_search_requests", "other_usage", "service_tier", "batch", "reported_cost_usd", "unpriced_reason"}
    lake = restate_lake.lake
    day = "2026-11-24"

    def v1_segment(table, schema):  # acme's Nov 24 rows as an older recorder spooled them, for tenant "legacy"
        rel = next(p for p in lake.find(f"{table}/tenant=acme/date={day}") if p.endswith(".parquet"))
        t = pl.from_arrow(pq.read_table(io.BytesIO(lake.read(rel))))
        t = t.with_columns(pl.lit("legacy").alias("tenant"), pl.lit(dt.date(2026, 11, 24)).alias("date"))
        return t.select([f.name for f in schema if f.name in t.columns and f.name not in v2]).to_arrow()

    inv, rnd = v1_segment("invocations", INVOCATIONS), v1_segment("rounds", ROUNDS)
    assert "unpriced_reason" not in rnd.column_names and rnd.num_rows == 4
    half = inv.num_rows // 2
    assert parts.publish(lake, "v1-a", [inv.slice(0, half)], [rnd.slice(0, 2 * half)])[:2] == (half, 2 * half)
    assert parts.publish(lake, "v1-b", [inv.slice(half)], [rnd.slice(2 * half)])[:2] == (
        inv.num_rows - half, rnd.num_rows - 2 * half)
    with restate_lake.invocation(tenant="legacy", agent="new", provider="openai", model="gpt-4o",
                                 clock=SimClock(DAY1)) as new, new.round() as r:
        r.set_response("x", usage={**USAGE, "cache_write_1h_tokens": 0, "web_search_requests": 1})
    assert restate_lake.commit()
    wh = Warehouse(lake.url, refresh_interval=0)
    rounds = wh.restatement("legacy", DAY1.date(), DAY1.date())
    assert rounds.height == 5 and (rounds["restated_cost_usd"] == rounds["recorded_cost_usd"]).all()
    before = wh.spend_report("legacy", DAY1.date(), DAY1.date()).total_cost_usd
    res = compact(lake, tenant="legacy", before=dt.date(2026, 11, 26), grace_seconds=0)
    assert res.files_merged >= 3
    merged = [p for p in lake.find(f"rounds/tenant=legacy/date={day}") if p.endswith(".parquet")]
    assert len(merged) == 1 and "unpriced_reason" in pq.read_schema(io.BytesIO(lake.read(merged[0]))).names
    after = Warehouse(lake.url, refresh_interval=0).spend_report("legacy", DAY1.date(), DAY1.date())
    assert after.total_cost_usd == before > 0
