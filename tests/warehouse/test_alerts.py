"""Budgets and alerts evaluated over a recorded lake (warehouse.alerts, ``python -m warehouse alerts``).

Notifications go through apprise's ``json://`` to a loopback webhook receiver; every checker run
through the command line is a fresh process, so "not again after a restart" is what it says.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from invlog.lake import Lake
from invlog.rules import load_rules
from invlog.rules import state as rstate
from recorder import Recorder
from tests.support import ROOT
from tests.support.records import record_inv
from tests.support.servers import Webhook
from warehouse import Warehouse, alerts

DOLLAR = {"input_tokens": 400_000, "output_tokens": 0}  # gpt-4o: $2.50 per million input tokens -> $1.00


def checker(lake: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "warehouse", "alerts", "check", "--lake", lake, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


def spend(rec: Recorder, dollars: int, when: dt.datetime, agent: str = "support-bot", tenant: str = "acme") -> None:
    for k in range(dollars):
        record_inv(rec, tenant, when + dt.timedelta(seconds=k), agent, "gpt-4o", [DOLLAR])
    assert rec.flush()


@pytest.fixture
def hook():
    with Webhook() as w:
        yield w


def write_rules(lake: str, text: str) -> None:
    Lake(lake).put("_meta/rules.toml", text.encode())


BUDGET = """
[[budget]]
name = "acme daily"
tenant = "acme"
agent = "support-bot"
period = "day"
limit_usd = "10.00"
warn_at = [0.5, 0.8]
notify = ["env:ACME_HOOK"]
"""


def test_a_budget_notifies_at_50_80_and_100_percent_once_each_and_again_next_period(tmp_path, hook):
    lake = str(tmp_path / "lake")
    write_rules(lake, BUDGET)
    env = {"ACME_HOOK": hook.url("acme"), "INVLOG_DASHBOARD_URL": "https://dash.example"}
    now = dt.datetime.now(dt.UTC)
    if now.hour == 23 and now.minute >= 55:
        pytest.skip("too close to midnight UTC for a one-day window")  # the test would straddle two periods
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with Recorder(lake=lake) as rec:
        spend(rec, 4, start, agent="other-bot")  # another agent: outside the budget's scope
        spend(rec, 4, start)
        out = checker(lake, env=env)
        assert out.returncode == 0 and hook.posts == [], out.stdout + out.stderr
        spend(rec, 1, start + dt.timedelta(minutes=1))  # $5 of $10
        out = checker(lake, env=env)
        assert out.returncode == 0, out.stderr
        assert "sent: [invlog] budget 'acme daily' (acme) passed 50.0% of its limit" in out.stdout
        spend(rec, 3, start + dt.timedelta(minutes=2))  # $8
        assert checker(lake, env=env).returncode == 0
        assert checker(lake, env=env).returncode == 0  # a restart: nothing new
        spend(rec, 2, start + dt.timedelta(minutes=3))  # $10: the limit
        out = checker(lake, env=env)
        assert out.returncode == 1 and "FIRING budget acme/acme daily" in out.stdout  # firing: exit 1
        assert checker(lake, env=env).returncode == 1
    titles = [p["title"] for p in hook.posts]
    assert titles == ["[invlog] budget 'acme daily' (acme) passed 50.0% of its limit",
                      "[invlog] budget 'acme daily' (acme) passed 80.0% of its limit",
                      "[invlog] budget 'acme daily' (acme) reached its limit"]
    assert [p["type"] for p in hook.posts] == ["warning", "warning", "failure"]
    last = hook.posts[-1]["message"]
    assert "Tenant acme, scope agent=support-bot: spent $10.00 of $10.00 (100.0%) in the day window from " \
           f"{start:%Y-%m-%d} 00:00 UTC (10 runs)" in last
    assert "https://dash.example/budgets?tenant=acme" in last and {p["path"] for p in hook.posts} == {"/acme"}
    # The next day is a new period: the thresholds are armed again.
    tomorrow = start + dt.timedelta(days=1, hours=1)
    with Recorder(lake=lake) as rec:
        spend(rec, 6, tomorrow)
    os.environ["ACME_HOOK"] = hook.url("acme")
    try:
        wh = Warehouse(lake, refresh_interval=0)
        out2 = alerts.check(wh, load_rules(Lake(lake)), now=tomorrow + dt.timedelta(minutes=5))
    finally:
        del os.environ["ACME_HOOK"]
    assert [s["delivered"] for o in out2 for s in o.sent] == [True]
    assert hook.posts[-1]["title"] == "[invlog] budget 'acme daily' (acme) passed 50.0% of its limit"
    assert len(hook.posts) == 4
    # The state the recorder reads: the spend of the new window and when it was computed.
    doc = rstate.read_budgets(Lake(lake), "acme")
    (row,) = doc["budgets"]
    assert Decimal(row["spent_usd"]) == Decimal("6.00") and row["limit_usd"] == "10.00" and row["runs"] == 6
    assert row["window_start_us"] == int((start + dt.timedelta(days=1)).timestamp() * 1e6)
    history = rstate.read_alerts(Lake(lake), "acme")["history"]
    assert [h["event"] for h in history] == ["threshold 0.5", "threshold 0.8", "threshold 1", "threshold 0.5"]


def test_the_notification_url_never_reaches_the_lake_and_a_failed_one_is_retried(tmp_path):
    lake = str(tmp_path / "lake")
    write_rules(lake, BUDGET)
    now = dt.datetime.now(dt.UTC).replace(hour=1)
    with Webhook(status=500) as broken:
        secret_url = broken.url("T0K3N-SECRET")
        with Recorder(lake=lake) as rec:
            spend(rec, 6, now - dt.timedelta(hours=1))
        os.environ["ACME_HOOK"] = secret_url
        try:
            wh = Warehouse(lake, refresh_interval=0)
            first = alerts.check(wh, load_rules(Lake(lake)), now=now)
            assert [s["delivered"] for o in first for s in o.sent] == [False]
            broken.status = 200
            second = alerts.check(wh, load_rules(Lake(lake)), now=now + dt.timedelta(minutes=1))
            third = alerts.check(wh, load_rules(Lake(lake)), now=now + dt.timedelta(minutes=2))
        finally:
            del os.environ["ACME_HOOK"]
        assert [s["delivered"] for o in second for s in o.sent] == [True]  # retried, and delivered
        assert [o.sent for o in third] == [[]]
        assert len(broken.posts) == 2  # the refused one and the retry
    history = rstate.read_alerts(Lake(lake), "acme")["history"]
    assert [(h["delivered"], bool(h["error"])) for h in history] == [(False, True), (True, False)]
    for folder, _, files in os.walk(lake):
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                assert b"T0K3N-SECRET" not in f.read(), os.path.join(folder, name)


def test_a_missing_variable_is_reported_not_raised(tmp_path):
    lake = str(tmp_path / "lake")
    write_rules(lake, BUDGET)
    with Recorder(lake=lake) as rec:
        spend(rec, 6, dt.datetime.now(dt.UTC).replace(hour=0))
    out = checker(lake, env={"ACME_HOOK": ""})
    assert out.returncode == 0
    assert "NOT sent (notify env:ACME_HOOK: the environment variable ACME_HOOK is not set)" in out.stdout


def test_invalid_rules_are_a_clear_error(tmp_path):
    lake = str(tmp_path / "lake")
    os.makedirs(lake)
    write_rules(lake, '[[budget]]\nname="x"\ntenant="acme"\nperiod="day"\nlimit_usd=2.5\n')
    out = checker(lake)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "budget 'x': limit_usd: expected a decimal string" in out.stderr
    write_rules(lake, '[[budget]]\nname="x"\ntenant="acme"\nperiod="day"\nlimit_usd="2"\n'
                      'notify=["slack://xoxb-123/abc"]\n')
    out = checker(lake)
    assert out.returncode == 2 and "a literal URL (slack://...)" in out.stderr and "xoxb" not in out.stderr


ALERTS = """
[[alert]]
name = "support errors"
tenant = "acme"
agent = "support-bot"
metric = "error_rate"
window_minutes = 60
above = 0.1
min_runs = 20
notify = ["env:ONCALL"]

[[alert]]
name = "slow"
tenant = "acme"
metric = "p95_latency_ms"
window_minutes = 30
above = 1200
notify = ["env:ONCALL"]
"""


def test_error_rate_and_latency_alerts_fire_and_resolve_and_min_runs_holds(tmp_path, hook, monkeypatch):
    lake = str(tmp_path / "lake")
    write_rules(lake, ALERTS)
    monkeypatch.setenv("ONCALL", hook.url("oncall"))
    t0 = dt.datetime(2026, 11, 10, 12, 0, tzinfo=dt.UTC)
    wh = Warehouse(lake, refresh_interval=0)
    rules = load_rules(Lake(lake))
    small = {"input_tokens": 10, "output_tokens": 1}
    with Recorder(lake=lake) as rec:
        for k in range(10):  # 5 of 10 failed: 50%, but fewer than min_runs
            record_inv(rec, "acme", t0 + dt.timedelta(seconds=k), "support-bot", "gpt-4o", [small],
                       status="Failed" if k % 2 else None)
        assert rec.flush()
        out = {o.name: o for o in alerts.check(wh, rules, now=t0 + dt.timedelta(minutes=1))}
        assert not out["support errors"].firing and "not judged" in out["support errors"].summary
        # record_inv's runs take 0.5 s per round + 0.5 s: p95 1,000 ms, not above 1,200
        assert not out["slow"].firing and out["slow"].value == Decimal("1000")
        for k in range(15):  # 5 + 2 of 25 failed: 28%
            record_inv(rec, "acme", t0 + dt.timedelta(minutes=2, seconds=k), "support-bot", "gpt-4o",
                       [small, small], status="Failed" if k < 2 else None)
        assert rec.flush()
        out = {o.name: o for o in alerts.check(wh, rules, now=t0 + dt.timedelta(minutes=3))}
        assert out["support errors"].firing and out["support errors"].value == Decimal(7) / Decimal(25)
        assert out["slow"].firing  # two-round runs take 1.5 s
        again = alerts.check(wh, rules, now=t0 + dt.timedelta(minutes=4))  # still firing: no repeat
        assert all(o.firing and o.sent == [] for o in again)
        for k in range(60):  # 7 failed of 85: 8.2%, below 10%
            record_inv(rec, "acme", t0 + dt.timedelta(minutes=5, seconds=k), "support-bot", "gpt-4o", [small])
        assert rec.flush()
    out = {o.name: o for o in alerts.check(wh, rules, now=t0 + dt.timedelta(minutes=6))}
    assert not out["support errors"].firing
    out = {o.name: o for o in alerts.check(wh, rules, now=t0 + dt.timedelta(minutes=40))}  # latency window passed
    assert not out["slow"].firing
    titles = [p["title"] for p in hook.posts]
    assert titles == ["[invlog] alert 'support errors' (acme) firing", "[invlog] alert 'slow' (acme) firing",
                      "[invlog] alert 'support errors' (acme) resolved", "[invlog] alert 'slow' (acme) resolved"]
    assert "error_rate 28.0% over the last 60 min, threshold above 10.0%, 25 runs" in hook.posts[0]["message"]
    assert [p["type"] for p in hook.posts] == ["failure", "failure", "success", "success"]
    state = rstate.read_alerts(Lake(lake), "acme")["alerts"]
    assert state["slow"]["firing"] is False and state["support errors"]["value"] == str(Decimal(7) / Decimal(85))


def test_a_rolling_budget_rearms_when_spend_falls_back(tmp_path, hook, monkeypatch):
    lake = str(tmp_path / "lake")
    write_rules(lake, '[[budget]]\nname="six hours"\ntenant="acme"\nhours=6\nlimit_usd="4"\nwarn_at=[]\n'
                      'notify=["env:HOOK"]\n')
    monkeypatch.setenv("HOOK", hook.url())
    t0 = dt.datetime(2026, 11, 10, 12, 0, tzinfo=dt.UTC)
    with Recorder(lake=lake) as rec:
        spend(rec, 4, t0)
    wh = Warehouse(lake, refresh_interval=0)
    rules = load_rules(Lake(lake))
    assert alerts.check(wh, rules, now=t0 + dt.timedelta(hours=1))[0].firing
    assert not alerts.check(wh, rules, now=t0 + dt.timedelta(hours=7))[0].firing  # out of the window
    with Recorder(lake=lake) as rec:
        spend(rec, 4, t0 + dt.timedelta(hours=8))
    assert alerts.check(wh, rules, now=t0 + dt.timedelta(hours=9))[0].firing
    assert [p["title"] for p in hook.posts] == ["[invlog] budget 'six hours' (acme) reached its limit"] * 2


def test_a_tenant_state_holds_only_its_own_rules(tmp_path):
    lake = str(tmp_path / "lake")
    write_rules(lake, BUDGET + BUDGET.replace('tenant = "acme"', 'tenant = "globex"'))
    with Recorder(lake=lake) as rec:
        spend(rec, 2, dt.datetime(2026, 11, 10, tzinfo=dt.UTC), tenant="globex")
    wh = Warehouse(lake, refresh_interval=0)
    alerts.check(wh, load_rules(Lake(lake)), now=dt.datetime(2026, 11, 10, 5, tzinfo=dt.UTC))
    acme = rstate.read_budgets(Lake(lake), "acme")["budgets"]
    globex = rstate.read_budgets(Lake(lake), "globex")["budgets"]
    assert Decimal(acme[0]["spent_usd"]) == 0 and Decimal(globex[0]["spent_usd"]) == 2
    assert json.loads(Lake(lake).read("_meta/tenant=globex/budgets.json"))["budgets"][0]["name"] == "acme daily"


def test_cost_runs_and_unpriced_alerts_read_their_metric(tmp_path):
    lake = str(tmp_path / "lake")
    write_rules(lake, """
[[alert]]
name = "spend"
tenant = "acme"
metric = "cost"
window_minutes = 60
above = "2.50"

[[alert]]
name = "busy"
tenant = "acme"
metric = "runs"
window_minutes = 60
above = 3

[[alert]]
name = "unpriced"
tenant = "acme"
metric = "unpriced_runs"
window_minutes = 60
above = 0
""")
    t0 = dt.datetime(2026, 11, 10, 12, 0, tzinfo=dt.UTC)
    with Recorder(lake=lake) as rec:
        spend(rec, 3, t0)
        record_inv(rec, "acme", t0, "support-bot", "no-such-model-xyz", [DOLLAR])
        assert rec.flush()
    out = {o.name: o for o in alerts.check(Warehouse(lake, refresh_interval=0), load_rules(Lake(lake)),
                                           now=t0 + dt.timedelta(minutes=10))}
    assert (out["spend"].value, out["spend"].firing) == (Decimal("3"), True)  # the unpriced run is not $0 of it
    assert "cost $3.00 over the last 60 min, threshold above $2.50, 4 runs" in out["spend"].summary
    assert (out["busy"].value, out["busy"].firing) == (Decimal(4), True)
    assert (out["unpriced"].value, out["unpriced"].firing) == (Decimal(1), True)
