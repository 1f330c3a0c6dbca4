"""Warehouse queries: literal expected rows on a small lake written through the recorder."""

import datetime as dt
import os
import threading
import time
from decimal import Decimal

import polars as pl
import pytest

from recorder import Recorder
from tests.support.records import record_inv
from warehouse import CorruptPartError, Warehouse
from warehouse import compact as maint
from warehouse import retention as keep

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 26, 13, tzinfo=UTC)


def build(rec):
    ids = {}
    ids["A"] = record_inv(rec, "acme", dt.datetime(2026, 11, 25, 10, tzinfo=UTC), "bot", "gpt-4o",
                    [{"input_tokens": 1000, "output_tokens": 100}], user="u1", message="Where is my refund?")
    ids["B"] = record_inv(rec, "acme", dt.datetime(2026, 11, 25, 11, tzinfo=UTC), "bot", "gpt-4o-mini",
                    [{"input_tokens": 2000, "output_tokens": 50, "cache_read_tokens": 1000},
                     {"input_tokens": 500, "output_tokens": 20}], user="u2", status="Failed")
    ids["C"] = record_inv(rec, "acme", dt.datetime(2026, 11, 26, 9, tzinfo=UTC), "etl", "gpt-4o",
                    [{"input_tokens": 4000, "output_tokens": 0}], trigger="task")
    ids["D"] = record_inv(rec, "acme", dt.datetime(2026, 11, 26, 12, tzinfo=UTC), "triage", "acme-llm-7b",
                    [{"input_tokens": 300, "output_tokens": 30}], trigger="system", status="Timeout",
                    provider="selfhosted")
    ids["E"] = record_inv(rec, "012", dt.datetime(2026, 11, 26, 10, tzinfo=UTC), "bot", "gpt-4o",
                    [{"input_tokens": 100, "output_tokens": 10}])
    ids["F"] = record_inv(rec, "12", dt.datetime(2026, 11, 26, 10, tzinfo=UTC), "bot", "gpt-4o",
                    [{"input_tokens": 200, "output_tokens": 0}])
    assert rec.commit()
    return {k: v.invocation_id for k, v in ids.items()}


@pytest.fixture
def lake(make_recorder, tmp_path):
    rec = make_recorder(str(tmp_path / "lake"))
    ids = build(rec)
    return rec, ids


def D(s):
    return Decimal(s)


def test_tenant_totals(lake):
    rec, _ = lake
    wh = Warehouse(rec.lake.url, refresh_interval=0)
    row = wh.tenant_totals("acme", now=NOW).row(0, named=True)
    assert row == {"total_runs": 4, "runs_today": 2, "runs_yesterday": 2, "errors_24h": 1, "errors_prev_24h": 1,
                   "cost_today_usd": D("0.01"), "unpriced_today": 1, "cost_yesterday_usd": D("0.003842")}


def test_cost_trend_with_empty_periods_and_splits(lake):
    rec, _ = lake
    wh = Warehouse(rec.lake.url, refresh_interval=0)
    df = wh.cost_trend("acme", dt.date(2026, 11, 24), dt.date(2026, 11, 26), grain="day")
    assert df.select("split", "cost_usd", "runs", "unpriced_runs").rows() == [
        ("total", D("0"), 0, 0), ("total", D("0.003842"), 2, 0), ("total", D("0.01"), 2, 1)]
    assert [p.date() for p in df["period"]] == [dt.date(2026, 11, 24), dt.date(2026, 11, 25), dt.date(2026, 11, 26)]
    by_agent = wh.cost_trend("acme", dt.date(2026, 11, 25), dt.date(2026, 11, 26), grain="day", split_by="agent")
    assert by_agent.select(pl.col("period").dt.date(), "split", "cost_usd", "runs").rows() == [
        (dt.date(2026, 11, 25), "bot", D("0.003842"), 2), (dt.date(2026, 11, 25), "etl", D("0"), 0),
        (dt.date(2026, 11, 25), "triage", D("0"), 0), (dt.date(2026, 11, 26), "bot", D("0"), 0),
        (dt.date(2026, 11, 26), "etl", D("0.01"), 1), (dt.date(2026, 11, 26), "triage", None, 1)]
    hourly = wh.cost_trend("acme", dt.datetime(2026, 11, 25, 9, tzinfo=UTC), dt.datetime(2026, 11, 25, 12, tzinfo=UTC),
                           grain="hour")
    assert hourly["cost_usd"].to_list() == [D("0"), D("0.0035"), D("0.000342")]
    monthly = wh.cost_trend("acme", dt.date(2026, 10, 1), dt.date(2026, 11, 30), grain="month", split_by="trigger")
    assert monthly.filter(pl.col("runs") > 0).select("split", "cost_usd", "runs").rows() == [
        ("system", None, 1), ("task", D("0.01"), 1), ("user", D("0.003842"), 2)]
    with pytest.raises(ValueError, match="grain"):
        wh.cost_trend("acme", dt.date(2026, 11, 1), dt.date(2026, 11, 2), grain="minute")
    with pytest.raises(ValueError, match="split_by"):
        wh.cost_trend("acme", dt.date(2026, 11, 1), dt.date(2026, 11, 2), split_by="agent; drop table x")


def test_expensive_agents(lake):
    rec, _ = lake
    wh = Warehouse(rec.lake.url, refresh_interval=0)
    df = wh.expensive_agents("acme", dt.date(2026, 11, 25), dt.date(2026, 11, 26))
    rows = df.select("agent", "runs", "total_cost_usd", "avg_cost_usd", "error_rate", "input_tokens",
                     "output_tokens", "unpriced_runs").rows()
    assert rows == [("etl", 1, D("0.01"), D("0.01"), 0.0, 4000, 0, 0),
                    ("bot", 2, D("0.003842"), D("0.001921"), 0.5, 3500, 170, 0),
                    ("triage", 1, None, None, 1.0, 300, 30, 1)]
    bot = df.row(1, named=True)
    assert bot["cache_read_share"] == pytest.approx(1000 / 3500)
    # A took 1.0 s and B 1.5 s: quantiles are within 1% of the exact (discrete) quantile and never
    # outside the values seen, so the p95 of two runs is the slower one
    assert bot["p50_latency_ms"] == pytest.approx(1000, rel=0.01)
    assert bot["p95_latency_ms"] == pytest.approx(1500, abs=1)
    assert wh.expensive_agents("acme", dt.date(2026, 11, 25), dt.date(2026, 11, 26), top_n=1)["agent"].to_list() == [
        "etl"]


def test_invocations_filters_sort_pagination(lake):
    rec, ids = lake
    wh = Warehouse(rec.lake.url, refresh_interval=0)
    s, e = dt.date(2026, 11, 20), dt.date(2026, 11, 27)
    df, total = wh.invocations("acme", s, e)
    assert total == 4 and df["invocation_id"].to_list() == [ids["D"], ids["C"], ids["B"], ids["A"]]
    page, total = wh.invocations("acme", s, e, limit=2, offset=2)
    assert total == 4 and page["invocation_id"].to_list() == [ids["B"], ids["A"]]
    assert wh.invocations("acme", s, e, status="Failed")[0]["invocation_id"].to_list() == [ids["B"]]
    either, n = wh.invocations("acme", s, e, status=("Failed", "Timeout"), limit=1)  # one query, either status
    assert n == 2 and either["invocation_id"].to_list() == [ids["D"]]
    for bad in ((), ("Failed", 7), 7):
        with pytest.raises(ValueError, match="status"):
            wh.invocations("acme", s, e, status=bad)
    assert wh.invocations("acme", s, e, text="REFUND")[0]["invocation_id"].to_list() == [ids["A"]]
    assert wh.invocations("acme", s, e, min_cost="0.003")[0]["invocation_id"].to_list() == [ids["C"], ids["A"]]
    assert wh.invocations("acme", s, e, sort="cost")[0]["invocation_id"].to_list() == [
        ids["C"], ids["A"], ids["B"], ids["D"]]
    assert wh.invocations("acme", s, e, agent="bot", user_id="u2")[0]["invocation_id"].to_list() == [ids["B"]]
    assert wh.invocations("acme", s, e, text="%")[1] == 0  # no LIKE wildcards: '%' is literal
    with pytest.raises(ValueError, match="sort"):
        wh.invocations("acme", s, e, sort="cost; drop table invocations")


def test_trace(lake):
    rec, ids = lake
    wh = Warehouse(rec.lake.url, refresh_interval=0)
    t = wh.trace("acme", ids["B"])
    assert t["invocation"]["status"] == "Failed" and t["invocation"]["error_type"] == "RuntimeError"
    assert t["rounds"]["round_index"].to_list() == [0, 1]
    assert t["rounds"]["cost_usd"].to_list() == [D("0.000255"), D("0.000087")]
    assert wh.trace("acme", ids["E"]) is None  # another tenant's invocation is not visible
    assert wh.trace("012", ids["E"])["invocation"]["tenant"] == "012"


def test_spend_report(lake):
    rec, _ = lake
    wh = Warehouse(rec.lake.url, refresh_interval=0)
    r = wh.spend_report("acme", dt.date(2026, 11, 25), dt.date(2026, 11, 26), now=NOW)
    assert (r.total_cost_usd, r.runs, r.unpriced_runs) == (D("0.013842"), 4, 1)
    assert r.by_agent.select("key", "cost_usd", "runs").rows() == [
        ("etl", D("0.01"), 1), ("bot", D("0.003842"), 2), ("triage", None, 1)]
    assert r.by_model.select("key", "cost_usd").rows() == [
        ("gpt-4o", D("0.0135")), ("gpt-4o-mini", D("0.000342")), ("acme-llm-7b", None)]
    assert r.by_day.select("key", "cost_usd").rows() == [  # in date order, not by cost
        (dt.date(2026, 11, 25), D("0.003842")), (dt.date(2026, 11, 26), D("0.01"))]
    assert r.unpriced.rows() == [("acme-llm-7b", "selfhosted", "unknown_model", 1, 1, 300, 30)]
    # month to date 1-26 Nov 13:00 = $0.013842; 25.54 of 30 days elapsed -> $0.016258... -> $0.02
    assert r.month_to_date_usd == D("0.013842") and r.projected_month_usd == D("0.02")
    assert "linear run rate" in r.projection_method and r.notes
    past = wh.spend_report("acme", dt.date(2026, 11, 25), dt.date(2026, 11, 25), now=NOW)
    assert past.total_cost_usd == D("0.003842") and past.month_to_date_usd is None


def test_tenant_isolation_numeric_ids_and_corrupt_files(lake):
    rec, _ = lake
    wh = Warehouse(rec.lake.url, refresh_interval=0)
    day = dt.date(2026, 11, 26)
    assert wh.spend_report("012", day, day).total_cost_usd == D("0.00035")
    assert wh.spend_report("12", day, day).total_cost_usd == D("0.0005")
    # a stray file that neither the log nor a pending record names is not part of the table
    stray = os.path.join(rec.lake.root, "invocations", "tenant=12", "date=2026-11-26", "zz-bad.parquet")
    with open(stray, "wb") as f:
        f.write(b"PAR1 this is not parquet")
    assert Warehouse(rec.lake.url, refresh_interval=0).spend_report("12", day, day).total_cost_usd == D("0.0005")
    # a corrupt committed file of another tenant never affects acme, and its own queries name it
    bad = next(p for p in rec.lake.find("invocations/tenant=12/date=2026-11-26") if not p.endswith("zz-bad.parquet"))
    with open(os.path.join(rec.lake.root, bad), "wb") as f:
        f.write(b"PAR1 this is not parquet")
    assert wh.tenant_totals("acme", now=NOW)["total_runs"][0] == 4
    with pytest.raises(CorruptPartError) as exc:
        Warehouse(rec.lake.url, refresh_interval=0).spend_report("12", day, day)
    assert os.path.basename(bad) in str(exc.value)
    # a truncated file in acme's own folder: its queries say which file, never a partial total
    good = next(p for p in rec.lake.find("invocations/tenant=acme/date=2026-11-25") if p.endswith(".parquet"))
    data = rec.lake.read(good)
    with open(os.path.join(rec.lake.root, good), "wb") as f:
        f.write(data[: len(data) // 2])
    wh2 = Warehouse(rec.lake.url, refresh_interval=0)
    with pytest.raises(CorruptPartError, match=os.path.basename(good)):
        wh2.cost_trend("acme", dt.date(2026, 11, 25), dt.date(2026, 11, 26))


def test_bad_inputs_are_validation_errors(lake):
    rec, _ = lake
    wh = Warehouse(rec.lake.url, refresh_interval=0)
    for bad in ("../acme", "acme'--", "a/b", ""):
        with pytest.raises(ValueError, match="tenant"):
            wh.tenant_totals(bad)
    with pytest.raises(ValueError, match="end"):
        wh.cost_trend("acme", dt.date(2026, 11, 26), dt.date(2026, 11, 20))
    with pytest.raises(ValueError):
        wh.invocations("acme", dt.date(2026, 11, 1), dt.date(2026, 11, 30), limit=0)


def test_empty_lake_and_unknown_tenant(tmp_path):
    wh = Warehouse(str(tmp_path / "nothing"), refresh_interval=0)
    assert wh.tenants() == []
    assert wh.tenant_totals("acme").row(0, named=True)["total_runs"] == 0
    assert wh.cost_trend("acme", dt.date(2026, 11, 1), dt.date(2026, 11, 3))["cost_usd"].to_list() == [D(0)] * 3
    assert wh.invocations("acme", dt.date(2026, 11, 1), dt.date(2026, 11, 3))[1] == 0
    assert wh.spend_report("acme", dt.date(2026, 11, 1), dt.date(2026, 11, 3)).total_cost_usd == 0


def _many_small_parts(rec, n=30):
    for k in range(n):  # each flush publishes its own part file: a fragmented partition
        record_inv(rec, "acme", dt.datetime(2026, 11, 20, 8, k, tzinfo=UTC), "bot", "gpt-4o",
             [{"input_tokens": 1000, "output_tokens": 100}])
        assert rec.flush()
    assert rec.commit()  # in the Delta log now, not at the next commit interval: compaction takes them


def test_compaction_racing_queries_and_a_writer(make_recorder, tmp_path):
    rec = make_recorder(str(tmp_path / "lake"))
    _many_small_parts(rec)
    truth = D("0.0035") * 30
    day = dt.date(2026, 11, 20)
    wh = Warehouse(rec.lake.url, refresh_interval=0)
    assert wh.spend_report("acme", day, day).total_cost_usd == truth
    stop = threading.Event()
    seen, errors = [], []

    def query_loop():
        w = Warehouse(rec.lake.url, refresh_interval=0)
        while not stop.is_set():
            try:  # the report reads rows; the trend and top agents read rollups once they exist
                seen.append(w.spend_report("acme", day, day).total_cost_usd)
                seen.append(_rolled_up_totals(w, day))
            except Exception as exc:
                errors.append(exc)

    def writer_loop():  # keeps writing today's partition while compaction runs
        k = 0
        while not stop.is_set():
            record_inv(rec, "acme", dt.datetime(2026, 11, 27, 1, 0, k % 60, tzinfo=UTC), "bot", "gpt-4o",
                 [{"input_tokens": 10, "output_tokens": 1}])
            rec.flush()
            k += 1

    threads = [threading.Thread(target=query_loop), threading.Thread(target=writer_loop)]
    for t in threads:
        t.start()
    # pause after each step so that queries run against every intermediate state
    res = maint.compact(rec.lake, tenant="acme", before=dt.date(2026, 11, 27), target_bytes=64 << 20,
                        step=lambda name: time.sleep(0.4))
    res2 = maint.compact(rec.lake, tenant="acme", before=dt.date(2026, 11, 27), grace_seconds=3600)
    stop.set()
    for t in threads:
        t.join()
    assert res.files_merged == 60 and res.files_written == 2 and res2.files_written == 0  # idempotent
    assert res.rollups_written == 1  # the merged invocations file's
    assert not errors and len(seen) > 6 and all(s in (truth, (truth, 30)) for s in seen), (errors[:1], set(seen))
    assert maint.compact(rec.lake, tenant="acme", before=day + dt.timedelta(days=1),
                         grace_seconds=0).files_deleted == 60
    names = [p.rsplit("/", 1)[1] for p in rec.lake.find("invocations/tenant=acme/date=2026-11-20")]
    live = [n for n in names if n.endswith(".parquet") and not n.startswith("_")]
    assert names == live and len(live) == 1  # the data folder holds data files only
    side = [p.rsplit("/", 1)[1] for p in rec.lake.find("_meta/parts/invocations/tenant=acme/date=2026-11-20")]
    assert f"_rollup1-{live[0]}" in side and any(n.startswith("_compacted-") for n in side)
    wh = Warehouse(rec.lake.url)
    assert wh.spend_report("acme", day, day).total_cost_usd == truth and _rolled_up_totals(wh, day) == (truth, 30)


def _rolled_up_totals(wh: Warehouse, day: dt.date) -> tuple[D, int]:
    """A day's cost and runs by the trend, checked against top agents (both use rollups)."""
    trend = wh.cost_trend("acme", day, day + dt.timedelta(days=1), grain="hour", split_by="model")
    agents = wh.expensive_agents("acme", day, day + dt.timedelta(days=1))
    cost, runs = sum(trend["cost_usd"].to_list(), D(0)), trend["runs"].sum()
    assert (sum(agents["total_cost_usd"].to_list(), D(0)), agents["runs"].sum()) == (cost, runs)
    return cost, runs


class Crash(Exception):
    pass


@pytest.mark.parametrize("crash_at", ["marker", "merged", "rollup", "commit", "generation"])
def test_crash_after_each_compaction_step_leaves_exact_totals(make_recorder, tmp_path, crash_at):
    rec = make_recorder(str(tmp_path / "lake"))
    _many_small_parts(rec, 6)
    truth, day = D("0.0035") * 6, dt.date(2026, 11, 20)

    def step(name):
        if name == crash_at:
            raise Crash(name)

    with pytest.raises(Crash):
        maint.compact(rec.lake, tenant="acme", before=dt.date(2026, 11, 21), grace_seconds=0, step=step)
    wh = Warehouse(rec.lake.url, refresh_interval=0)
    assert wh.spend_report("acme", day, day).total_cost_usd == truth
    assert _rolled_up_totals(wh, day) == (truth, 6)
    assert wh.tenant_totals("acme", now=NOW)["total_runs"][0] == 6
    maint.ABANDONED_AFTER, abandoned_after = 0.0, maint.ABANDONED_AFTER  # the killed merge is old enough to undo
    try:
        maint.compact(rec.lake, tenant="acme", before=dt.date(2026, 11, 21), grace_seconds=0)  # recovers
        maint.compact(rec.lake, tenant="acme", before=dt.date(2026, 11, 21), grace_seconds=0)
    finally:
        maint.ABANDONED_AFTER = abandoned_after
    wh = Warehouse(rec.lake.url)
    assert wh.spend_report("acme", day, day).total_cost_usd == truth and _rolled_up_totals(wh, day) == (truth, 6)
    assert any(p.rsplit("/", 1)[1].startswith("_rollup1-c-") for p in rec.lake.find("_meta/parts/invocations"))
    assert len([p for p in rec.lake.find("rounds/tenant=acme/date=2026-11-20") if p.endswith(".parquet")]) == 1


def test_replay_after_compaction_stays_exactly_once(make_recorder, tmp_path):
    """A spool segment replayed after its part was merged and cleaned up is not written again."""
    from recorder import parts
    from tests.support.records import segment_with_batch

    lake = str(tmp_path / "lake")
    spool = str(tmp_path / "spool")
    seg, inv_t, rnd_t = segment_with_batch(spool, 3)
    rec = make_recorder(lake)
    _many_small_parts(rec, 2)
    day = dt.datetime.now(UTC).date()
    parts.publish(rec.lake, seg.id, [inv_t], [rnd_t])
    seg.close()  # died before retiring the segment
    maint.compact(rec.lake, tenant="acme", before=day + dt.timedelta(days=1), grace_seconds=0)
    maint.compact(rec.lake, tenant="acme", before=day + dt.timedelta(days=1), grace_seconds=0)
    replayer = Recorder(lake=lake, spool_dir=spool)
    assert replayer.flush()
    replayer.shutdown()
    wh = Warehouse(lake)
    assert wh.tenant_totals("acme")["total_runs"][0] == 5


def test_retention_and_delete_tenant(lake):
    rec, _ = lake
    assert rec.commit()
    gone = keep.retention(rec.lake, "acme", 1, dry_run=True, today=dt.date(2026, 11, 26))
    assert gone == ["invocations/tenant=acme/date=2026-11-25", "rounds/tenant=acme/date=2026-11-25"]
    assert rec.lake.exists(gone[0] + "/") or rec.lake.find(gone[0])  # dry run deletes nothing
    keep.retention(rec.lake, "acme", 1, today=dt.date(2026, 11, 26))
    wh = Warehouse(rec.lake.url, refresh_interval=0)
    assert wh.tenant_totals("acme", now=NOW)["total_runs"][0] == 2
    planned = keep.delete_tenant(rec.lake, "012", dry_run=True)
    assert planned.removed[:2] == ["invocations/tenant=012", "rounds/tenant=012"]
    assert set(planned.removed[2:]) <= {"_meta/tenant=012", "_meta/parts/invocations/tenant=012",
                                        "_meta/parts/rounds/tenant=012"}
    assert "Delta logs" in planned.remains[0]
    maint.compact(rec.lake, tenant="012", before=dt.date(2026, 11, 27), grace_seconds=0)  # markers, rollups
    keep.delete_tenant(rec.lake, "012")
    assert "012" not in Warehouse(rec.lake.url).tenants() and "12" in Warehouse(rec.lake.url).tenants()
    everything = rec.lake.find("")
    assert not [p for p in everything if "tenant=012/" in p or p.endswith("tenant=012")]  # nothing of it remains
    assert [p for p in everything if "tenant=12/" in p]


def test_report_cli_formats(lake, tmp_path):
    from warehouse.__main__ import main

    rec, _ = lake
    for fmt in ("csv", "parquet", "html"):
        out = tmp_path / f"r.{fmt}"
        assert main(["--lake", rec.lake.url, "report", "--tenant", "acme", "--from", "2026-11-25", "--to",
                     "2026-11-26", "--format", fmt, "--out", str(out)]) == 0
        assert out.stat().st_size > 0
    csv = (tmp_path / "r.csv").read_text()
    assert "agent,etl,1,0.010000000000" in csv and "agent,triage,1,," in csv
    # the file stands alone: the tenant and the period on every row, and the totals as the last row
    lines = csv.strip().splitlines()
    assert lines[0].endswith(",tenant,period_start,period_end")
    assert lines[-1] == "total,all,4,0.013842000000,1,7800,200,acme,2026-11-25,2026-11-26"
    page = (tmp_path / "r.html").read_text()
    assert "Spend report: acme" in page and "$0.01" in page and "acme-llm-7b" in page and "Unpriced" in page
    # works offline: plotly.js is inline, nothing is loaded from elsewhere
    assert "<script" in page and "<script src" not in page and "<link" not in page and "Plotly.newPlot" in page
    # small: Plotly's basic bundle once (not the full 4.8 MB one), the charts' data beside it
    assert page.count("plotly.js (basic - minified)") == 1 and "plotly.js v" not in page
    assert 1_000_000 < len(page.encode()) < 1_400_000
    assert main(["--lake", rec.lake.url, "report", "--tenant", "../x", "--from", "2026-11-25", "--to",
                 "2026-11-26", "--out", str(tmp_path / "x.html")]) == 2


@pytest.mark.s3
def test_queries_on_s3(make_recorder, s3_lake):
    url, opts = s3_lake
    rec = make_recorder(url, storage_options=opts)
    ids = build(rec)
    wh = Warehouse(url, storage_options=opts, refresh_interval=0)
    assert wh.tenant_totals("acme", now=NOW).row(0, named=True)["cost_yesterday_usd"] == D("0.003842")
    assert wh.spend_report("acme", dt.date(2026, 11, 25), dt.date(2026, 11, 26), now=NOW).total_cost_usd == D(
        "0.013842")
    assert wh.trace("acme", ids["B"])["rounds"].height == 2
    assert wh.invocations("acme", dt.date(2026, 11, 20), dt.date(2026, 11, 27))[1] == 4
    assert wh.spend_report("012", dt.date(2026, 11, 26), dt.date(2026, 11, 26)).total_cost_usd == D("0.00035")


def test_verify_finds_a_flipped_byte_and_quarantines_the_file(lake, tmp_path):
    from warehouse.__main__ import main
    from warehouse.verify import verify

    rec, _ = lake
    assert verify(rec.lake).bad == []
    rel = next(p for p in rec.lake.find("invocations/tenant=acme/date=2026-11-25") if p.endswith(".parquet"))
    data = bytearray(rec.lake.read(rel))
    import io

    import pyarrow.parquet as pq

    md = pq.ParquetFile(io.BytesIO(bytes(data))).metadata
    col = next(md.row_group(0).column(i) for i in range(md.num_columns)
               if md.row_group(0).column(i).path_in_schema == "latency_ms")
    begin = col.dictionary_page_offset if col.has_dictionary_page else col.data_page_offset
    data[begin + col.total_compressed_size - 2] ^= 0x55  # the last bytes of the column's page data; footer intact
    with open(os.path.join(rec.lake.root, rel), "wb") as f:
        f.write(bytes(data))
    res = verify(rec.lake)
    assert [os.path.basename(p) for p, _ in res.bad] == [os.path.basename(rel)]
    assert main(["--lake", rec.lake.url, "verify"]) == 1
    assert main(["--lake", rec.lake.url, "verify", "--quarantine"]) == 1
    assert main(["--lake", rec.lake.url, "verify"]) == 0
    assert rec.lake.find("_quarantine")  # kept aside, not deleted
    wh = Warehouse(rec.lake.url, refresh_interval=0)
    assert wh.tenant_totals("acme", now=NOW)["total_runs"][0] == 2  # the quarantined day's runs are gone


def test_older_schema_files_still_read_and_wrongly_typed_rows_are_refused(lake):
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from recorder import parts

    rec, _ = lake
    rel = next(p for p in rec.lake.find("invocations/tenant=acme/date=2026-11-26") if p.endswith(".parquet"))
    old = pq.read_table(io.BytesIO(rec.lake.read(rel))).drop_columns(["truncated", "ttft_ms"])  # an older writer
    sink = pa.BufferOutputStream()
    pq.write_table(old, sink)
    rec.lake.put(rel, sink.getvalue().to_pybytes())  # replace the part with its older-schema twin
    wh = Warehouse(rec.lake.url, refresh_interval=0)
    assert wh.spend_report("acme", dt.date(2026, 11, 26), dt.date(2026, 11, 26)).total_cost_usd == D("0.01")
    assert wh.trace("acme", wh.invocations("acme", dt.date(2026, 11, 26), dt.date(2026, 11, 26))[0][
        "invocation_id"][0])["invocation"]["ttft_ms"] is None
    bad = pa.table({"invocation_id": ["x"], "tenant": ["acme"], "date": [dt.date(2026, 11, 26)],
                    "cost_usd": ["not money"]})
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError, ValueError, KeyError)):
        parts.publish(rec.lake, "wrongly-typed", [bad], [])
    assert not [p for p in rec.lake.find("invocations") if "wrongly-typed" in p]


def test_stale_temp_files_of_a_killed_writer_are_cleaned(lake):
    rec, _ = lake
    folder = os.path.join(rec.lake.root, "invocations", "tenant=acme", "date=2026-11-25")
    tmp = os.path.join(folder, ".part.parquet.tmp-123-abcd")
    with open(tmp, "wb") as f:
        f.write(b"half a file")
    assert Warehouse(rec.lake.url).tenant_totals("acme", now=NOW)["total_runs"][0] == 4  # invisible to readers
    maint.cleanup(rec.lake, "invocations", "acme", dt.date(2026, 11, 25), grace_seconds=0)
    assert not os.path.exists(tmp)


def test_an_hourly_trend_covers_at_most_31_days_in_the_library(tmp_path):
    from warehouse.core import MAX_HOURLY_DAYS

    wh = Warehouse(str(tmp_path / "empty-lake"), refresh_interval=0)
    first = dt.date(2026, 10, 1)
    ok = wh.cost_trend("acme", first, first + dt.timedelta(days=MAX_HOURLY_DAYS - 1), grain="hour")
    assert ok.height == 24 * MAX_HOURLY_DAYS
    with pytest.raises(ValueError, match="at most 31 days"):
        wh.cost_trend("acme", first, first + dt.timedelta(days=MAX_HOURLY_DAYS), grain="hour")


def test_a_query_that_fails_on_its_input_is_not_reported_as_a_corrupt_file(tmp_path, monkeypatch):
    from warehouse import sqlfiles
    from warehouse.errors import QueryError

    wh = Warehouse(str(tmp_path / "empty-lake"), refresh_interval=0)
    # DuckDB's InvalidInputException, from a value (malformed JSON), not from reading a file
    monkeypatch.setattr(sqlfiles, "load", lambda name: "select json_extract('{', '$.a') as x, $tenant as t, "
                                                       "$inv_files as f, $start as s, $end as e")
    with pytest.raises(QueryError, match="spend_total: Invalid Input Error: Malformed JSON") as exc:
        wh.spend_report("acme", dt.date(2026, 11, 1), dt.date(2026, 11, 2))
    assert not isinstance(exc.value, CorruptPartError)


def test_the_vendored_plotly_bundle_is_the_version_plotly_py_was_built_for():
    """Figures are serialised by the Python package for its own plotly.js; the basic bundle must be that one."""
    from plotly.offline.offline import get_plotlyjs_version

    from warehouse.report import plotly_script

    assert plotly_script()[:200].splitlines()[1].strip() == f"* plotly.js (basic - minified) v{get_plotlyjs_version()}"


def test_opening_the_lake_and_querying_it_loads_no_pandas(lake):
    """pyarrow's pa.table()/pa.array() of Python objects import pandas to ask whether they hold pandas data: 0.24 s
    of every process that opens a Warehouse (the alert checker's cron run, the CLI, a report job) for a
    library it never uses. A fresh interpreter opens the lake, lists tenants, pages and traces invocations."""
    import subprocess
    import sys

    rec, ids = lake
    code = ("import sys, datetime as dt\nfrom warehouse import Warehouse\n"
            f"wh = Warehouse({rec.lake.url!r})\nassert wh.tenants()\n"
            "df, n = wh.invocations('acme', dt.date(2026, 11, 20), dt.date(2026, 11, 27),\n"
            "                       status=('Failed', 'Timeout'))\n"
            f"assert n == 2 and wh.trace('acme', {ids['A']!r}) is not None\n"
            "s, e = dt.date(2026, 11, 20), dt.date(2026, 11, 27)\n"
            "assert wh.cost_trend('acme', s, e, split_by='agent').height and wh.expensive_agents('acme', s, e).height\n"
            "assert wh.spend_report('acme', s, e).runs == 4\n"
            "assert wh.rule_metrics('acme', dt.datetime(2026, 11, 20, tzinfo=dt.UTC),\n"
            "                       dt.datetime(2026, 11, 27, tzinfo=dt.UTC))['runs'] == 4\n"
            "assert 'pandas' not in sys.modules, 'pandas was imported'\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
