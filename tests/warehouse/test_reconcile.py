"""Reconciliation against loopback servers speaking the providers' admin report formats (tests/support/admin_api.py):
paginated, one 429 on the way; exact matches, unrecorded usage, a price difference and rounding, classified."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal

import polars as pl
import pytest

from invlog.lake import Lake
from recorder import Recorder
from recorder.clock import SimClock
from tests.support import ROOT
from tests.support.admin_api import AdminAPI
from warehouse import reconcile

KEY = "sk-admin-CANARY-0123456789abcdef"
DAYS = [dt.date(2026, 11, d) for d in (10, 11, 12, 13)]
D = Decimal


def unix(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())


def rfc(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def record(lake: str, provider: str, model: str, day: dt.date, usage: dict) -> Decimal:
    with Recorder(lake=lake) as rec:
        with rec.invocation(tenant="acme", agent="bot", provider=provider, model=model,
                            clock=SimClock(dt.datetime.combine(day, dt.time(10), dt.UTC))) as inv:
            with inv.round() as r:
                r.set_response("ok", usage=usage)
        assert rec.flush()
    return inv.cost_usd


def oa_usage(day, project, input_tokens, cached=0, output=0):
    return {"object": "bucket", "start_time": unix(day), "end_time": unix(day) + 86400, "results": [
        {"object": "organization.usage.completions.result", "input_tokens": input_tokens, "output_tokens": output,
         "input_cached_tokens": cached, "num_model_requests": 1, "project_id": project,
         "model": "gpt-4o-2024-08-06"}]}


def oa_costs(day, project, *lines):
    return {"object": "bucket", "start_time": unix(day), "end_time": unix(day) + 86400, "results": [
        {"object": "organization.costs.result", "amount": {"value": value, "currency": "usd"},
         "line_item": f"gpt-4o-2024-08-06, {unit}", "project_id": project} for unit, value in lines]}


def cli(lake: str, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "warehouse", "reconcile", "--lake", lake, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env={**os.environ, **env})


def test_openai_usage_and_costs_are_reconciled_and_classified(tmp_path, monkeypatch):
    lake = str(tmp_path / "lake")
    model = "gpt-4o-2024-08-06"  # $2.50 input, $1.25 cached input, $10 output per million tokens
    assert record(lake, "openai", model, DAYS[0], {"input_tokens": 1_000_000, "cache_read_tokens": 200_000,
                                                   "output_tokens": 100_000}) == D("3.25")
    for day in DAYS[1:]:
        assert record(lake, "openai", model, day, {"input_tokens": 400_000, "output_tokens": 0}) == D("1.00")
    Lake(lake).put("_meta/reconcile.toml", b'[openai]\nkey = "project_id"\ntenants = { "proj_acme" = "acme" }\n')
    api = AdminAPI(KEY, {
        "/v1/organization/usage/completions": [
            oa_usage(DAYS[0], "proj_acme", 1_000_000, cached=200_000, output=100_000),
            oa_usage(DAYS[1], "proj_acme", 600_000),  # 200,000 tokens more than the lake holds
            oa_usage(DAYS[2], "proj_acme", 400_000), oa_usage(DAYS[3], "proj_acme", 400_000),
            oa_usage(DAYS[3], "proj_other", 9_000_000)],  # another project, mapped to no tenant
        "/v1/organization/costs": [
            oa_costs(DAYS[0], "proj_acme", ("input", 2.0), ("cached input", 0.25), ("output", 1.0)),
            oa_costs(DAYS[1], "proj_acme", ("input", 1.5)), oa_costs(DAYS[2], "proj_acme", ("input", 0.9)),
            oa_costs(DAYS[3], "proj_acme", ("input", 1.004)), oa_costs(DAYS[3], "proj_other", ("input", 22.5))]})
    try:
        out = cli(lake, "--provider", "openai", "--from", "2026-11-10", "--to", "2026-11-13", "--base-url",
                  api.url + "/v1", "--out", str(tmp_path / "rec.csv"), env={"OPENAI_ADMIN_KEY": KEY})
    finally:
        api.close()
    assert out.returncode == 0, out.stderr
    # pagination followed (one bucket a page), and the 429 of each endpoint retried
    paths = [r["path"] for r in api.requests]
    assert paths.count("/v1/organization/usage/completions") == 6 and paths.count("/v1/organization/costs") == 6
    assert {r["query"].get("page", [None])[0] for r in api.requests} >= {"page_1", "page_4"}
    assert "pages" in out.stderr  # progress
    runs = reconcile.load_runs(Lake(lake), "acme")
    got = {r["day"]: r for r in runs.iter_rows(named=True)}
    assert [got[d]["class"] for d in DAYS] == ["match", "unrecorded usage", "price difference", "rounding"]
    assert [got[d]["difference_usd"] for d in DAYS] == [D(0), D("0.5"), D("-0.1"), D("0.004")]
    assert got[DAYS[1]]["reported_input_tokens"] - got[DAYS[1]]["recorded_input_tokens"] == 200_000
    assert got[DAYS[0]]["recorded_cost_usd"] == got[DAYS[0]]["reported_cost_usd"] == D("3.25")
    assert set(runs["tenant"]) == {"acme"} and runs["model"].unique().to_list() == ["gpt-4o"]
    assert "match" in out.stdout and "unrecorded usage" in out.stdout and "price difference" in out.stdout
    assert pl.read_csv(tmp_path / "rec.csv").height == 4
    _nowhere(KEY, lake, out)
    _page_shows_the_run(lake, monkeypatch)
    # the difference feeds the alerts: |0| + |+0.50| + |-0.10| + |+0.004| = $0.604 over a $0.50 threshold
    from invlog.rules import parse_rules
    from warehouse import Warehouse, alerts

    rules = parse_rules('[[alert]]\nname = "billing drift"\ntenant = "acme"\nmetric = "reconciliation_difference_usd"'
                        '\nwindow_minutes = 1440\nabove = "0.50"\n')
    (o,) = alerts.check(Warehouse(lake), rules)
    assert o.firing and o.value == D("0.604")
    assert "reconciliation_difference_usd $0.60 over the last 1440 min" in o.summary


def test_anthropic_usage_report_and_cost_report_in_cents(tmp_path):
    lake = str(tmp_path / "lake")
    # Claude Sonnet 4.5: 10,000 uncached x $3 + 10,000 read x $0.30 + 10,000 5-minute write x $3.75 + 1,000 x $15
    assert record(lake, "anthropic", "claude-sonnet-4-5-20250929", DAYS[0], {
        "input_tokens": 30_000, "cache_read_tokens": 10_000, "cache_write_tokens": 10_000,
        "cache_write_5m_tokens": 10_000, "output_tokens": 1_000}) == D("0.0855")
    Lake(lake).put("_meta/reconcile.toml", b'[anthropic]\nkey = "workspace_id"\n'
                                           b'tenants = { "wrkspc_acme" = "acme" }\n')
    usage = [{"starting_at": rfc(d), "ending_at": rfc(d + dt.timedelta(days=1)), "results": [r]} for d, r in (
        (DAYS[0], {"uncached_input_tokens": 10_000, "cache_read_input_tokens": 10_000,
                   "cache_creation": {"ephemeral_5m_input_tokens": 10_000, "ephemeral_1h_input_tokens": 0},
                   "output_tokens": 1_000, "server_tool_use": {"web_search_requests": 0}, "api_key_id": None,
                   "workspace_id": "wrkspc_acme", "model": "claude-sonnet-4-5-20250929", "service_tier": "standard",
                   "context_window": "0-200k"}),
        (DAYS[1], {"uncached_input_tokens": 5_000, "cache_read_input_tokens": 0,
                   "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                   "output_tokens": 0, "workspace_id": "wrkspc_acme", "model": "claude-sonnet-4-5-20250929"}))]

    def cost(day, cents, token_type):
        return {"currency": "USD", "amount": cents, "workspace_id": "wrkspc_acme", "description": "Claude Sonnet 4.5",
                "cost_type": "tokens", "context_window": "0-200k", "model": "claude-sonnet-4-5-20250929",
                "service_tier": "standard", "token_type": token_type}

    costs = [{"starting_at": rfc(DAYS[0]), "ending_at": rfc(DAYS[1]), "results": [
        cost(DAYS[0], "3.00", "uncached_input_tokens"), cost(DAYS[0], "0.30", "cache_read_input_tokens"),
        cost(DAYS[0], "3.75", "cache_creation.ephemeral_5m_input_tokens"), cost(DAYS[0], "1.50", "output_tokens")]},
        {"starting_at": rfc(DAYS[1]), "ending_at": rfc(DAYS[2]), "results": [
            cost(DAYS[1], "1.50", "uncached_input_tokens")]}]
    api = AdminAPI(KEY, {"/v1/organizations/usage_report/messages": usage, "/v1/organizations/cost_report": costs})
    try:
        out = cli(lake, "--provider", "anthropic", "--from", "2026-11-10", "--to", "2026-11-11", "--base-url", api.url,
                  env={"ANTHROPIC_ADMIN_KEY": KEY})
    finally:
        api.close()
    assert out.returncode == 0, out.stderr
    assert all(r["headers"].get("anthropic-version") for r in api.requests)
    got = {r["day"]: r for r in reconcile.load_runs(Lake(lake), "acme").iter_rows(named=True)}
    assert got[DAYS[0]]["class"] == "match" and got[DAYS[0]]["reported_cost_usd"] == D("0.0855")
    assert got[DAYS[0]]["reported_input_tokens"] == 30_000 and got[DAYS[0]]["model"] == "claude-sonnet-4-5"
    assert got[DAYS[1]]["class"] == "unrecorded usage" and got[DAYS[1]]["difference_usd"] == D("0.015")
    _nowhere(KEY, lake, out)


def test_a_missing_or_refused_admin_key_is_a_clear_error(tmp_path):
    lake = str(tmp_path / "lake")
    os.makedirs(lake)
    Lake(lake).put("_meta/reconcile.toml", b'[openai]\ntenants = { "proj_acme" = "acme" }\n')
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_ADMIN_KEY"}
    out = subprocess.run([sys.executable, "-m", "warehouse", "reconcile", "--lake", lake, "--provider", "openai",
                          "--from", "2026-11-10", "--to", "2026-11-11"], cwd=ROOT, capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 1 and "set OPENAI_ADMIN_KEY" in out.stderr
    api = AdminAPI("the-right-key", {})
    try:
        out = cli(lake, "--provider", "openai", "--from", "2026-11-10", "--to", "2026-11-11", "--base-url",
                  api.url + "/v1", env={"OPENAI_ADMIN_KEY": KEY})
    finally:
        api.close()
    assert out.returncode == 1 and "OpenAI admin API: AuthenticationError" in out.stderr
    _nowhere(KEY, lake, out)


def _nowhere(key: str, lake: str, out: subprocess.CompletedProcess) -> None:
    assert key not in out.stdout and key not in out.stderr
    for folder, _, files in os.walk(lake):
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                assert key.encode() not in f.read(), os.path.join(folder, name)


@pytest.mark.parametrize(("text", "message"), [
    ('[openai]\nkey = "user_id"\n', "key: expected one of project_id, api_key_id"),
    ('[anthropic]\ntenants = { "w" = "../x" }\n', "invalid tenant id"),
    ("[openai\n", "not valid TOML"),
])
def test_config_mistakes_are_named(text, message):
    with pytest.raises(ValueError, match=message):
        reconcile.parse_config(text)


def _page_shows_the_run(lake: str, monkeypatch) -> None:
    """The Reconciliation page (AppTest) draws the kept run: totals, what to look at, the rows, the trend."""
    from tests.support.apptest import app

    at = app(lake, monkeypatch, page="pages/reconciliation.py", tenant="acme")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Recorded"] == "$6.25" and metrics["Reported by the provider"] == "$6.65"
    assert metrics["Difference"] == "+$0.40" and metrics["Day-model rows matching"] == "2 of 4"
    assert "1 × price difference, 1 × unrecorded usage" in at.warning[0].value
    rows = at.dataframe[0].value
    assert list(rows["class"]) == ["match", "unrecorded usage", "price difference", "rounding"]
    assert list(rows["difference_usd"]) == ["$0.00", "+$0.50", "-$0.10", "+$0.004"]
