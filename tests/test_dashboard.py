"""Every dashboard page through streamlit.testing's AppTest: widgets drive queries, empty states, access."""

import datetime as dt
import os

import pytest
from streamlit.testing.v1 import AppTest

from recorder import Recorder
from recorder.demo import record_demo

APP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "app.py")
PAGES = ["pages/overview.py", "pages/cost_trends.py", "pages/agents.py", "pages/invocations.py",
         "pages/trace.py", "pages/reports.py"]


@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory):
    lake = str(tmp_path_factory.mktemp("dash") / "lake")
    rec = Recorder(lake=lake)
    record_demo(rec, tenants=2, days=4, seed=3, runs_per_day=25, today=dt.datetime.now(dt.UTC).date(), key="d",
                progress=False)
    rec.shutdown()
    return lake


def app(lake, monkeypatch, page=None, secrets=None, **params):
    monkeypatch.setenv("INVLOG_LAKE", lake)
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in (secrets or {}).items():
        at.secrets[k] = v
    for k, v in params.items():
        at.query_params[k] = v
    if page:
        at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_overview_totals_and_failures(demo_lake, monkeypatch):
    at = app(demo_lake, monkeypatch, tenant="acme")
    labels = [m.label for m in at.metric]
    assert labels[:4] == ["Total runs", "Runs today", "Errors (24 h)", "Cost today"]
    assert int(at.metric[0].value.replace(",", "")) > 50
    assert at.title[0].value == "Overview · acme"
    assert at.toggle[0].label.startswith("Auto-refresh")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_error(demo_lake, monkeypatch, page):
    at = app(demo_lake, monkeypatch, page=page, tenant="globex")
    assert not at.error, [e.value for e in at.error]
    assert at.sidebar.selectbox[0].value == "globex"


def test_cost_trend_widgets_drive_the_query(demo_lake, monkeypatch):
    at = app(demo_lake, monkeypatch, page="pages/cost_trends.py", tenant="acme")
    total_by_agent = at.metric[0].value
    split = next(s for s in at.selectbox if s.label == "Split by")
    split.set_value("model").run()
    assert at.query_params["split"] == "model" and at.metric[0].value == total_by_agent  # same total, new split
    grain = next(s for s in at.selectbox if s.label == "Grain")
    grain.set_value("week").run()
    assert at.query_params["grain"] == "week"
    table = at.dataframe[0].value
    assert {"gpt-4o-mini", "claude-sonnet-4-5"} <= set(table["split"])  # the table beneath follows the split


def test_invocations_filters_and_open_trace(demo_lake, monkeypatch):
    at = app(demo_lake, monkeypatch, page="pages/invocations.py", tenant="acme")
    caption = at.caption[0].value
    assert "matching invocations" in caption
    status = next(s for s in at.selectbox if s.label == "Status")
    status.set_value("Failed").run()
    assert at.query_params["status"] == "Failed"
    assert int(at.caption[0].value.split()[0].replace(",", "")) < int(caption.split()[0].replace(",", ""))
    next(b for b in at.button if b.label == "Open trace").click().run()
    assert not at.exception


def test_trace_page_shows_four_views(demo_lake, monkeypatch):
    from warehouse import Warehouse

    wh = Warehouse(demo_lake)
    today = dt.datetime.now(dt.UTC).date()
    df, _ = wh.invocations("acme", today - dt.timedelta(days=3), today, sort="cost")
    iid = df["invocation_id"][0]
    at = app(demo_lake, monkeypatch, page="pages/trace.py", tenant="acme", id=iid)
    assert at.title[0].value.startswith("Trace · ")
    assert [t.label for t in at.tabs[:4]] == ["Request / Response", "Prompt", "Cost breakdown", "Metadata"]
    assert any(m.label == "Cost" for m in at.metric)


def test_unknown_trace_id_is_a_clear_message(demo_lake, monkeypatch):
    at = app(demo_lake, monkeypatch, page="pages/trace.py", tenant="acme", id="ffffffffffffff00000000000000")
    assert "No invocation" in at.warning[0].value


def test_reports_page_offers_downloads(demo_lake, monkeypatch):
    at = app(demo_lake, monkeypatch, page="pages/reports.py", tenant="acme")
    labels = [m.label for m in at.metric]
    assert "Total spend" in labels and "Month to date" in labels and "Projected month end" in labels
    assert at.query_params["preset"] == "month"


def test_foreign_tenant_is_denied(demo_lake, monkeypatch):
    for page in PAGES:
        at = app(demo_lake, monkeypatch, page=page, tenant="initech")  # exists nowhere in this lake
        assert "Access denied" in at.error[0].value
        assert not at.metric


def test_secrets_restrict_the_local_user(demo_lake, monkeypatch):
    secrets = {"access": {"local_user": ["globex"]}}
    at = app(demo_lake, monkeypatch, secrets=secrets, tenant="acme")
    assert "Access denied" in at.error[0].value
    at = app(demo_lake, monkeypatch, secrets=secrets)
    assert at.sidebar.selectbox[0].options == ["globex"]


def test_login_required_when_auth_is_configured(demo_lake, monkeypatch):
    secrets = {"auth": {"client_id": "x"}, "access": {"users": {"alice@example.com": ["acme"]}}}
    at = app(demo_lake, monkeypatch, secrets=secrets, tenant="acme")
    assert any(b.label == "Log in" for b in at.button) and not at.metric


def test_empty_lake(tmp_path, monkeypatch):
    at = app(str(tmp_path / "empty"), monkeypatch)
    assert "no invocations yet" in at.info[0].value


def test_corrupt_file_is_a_clear_error(tmp_path, monkeypatch):
    lake = str(tmp_path / "lake")
    rec = Recorder(lake=lake)
    record_demo(rec, tenants=1, days=1, seed=1, runs_per_day=5, key="c", progress=False)
    rec.shutdown()
    folder = sorted(os.listdir(os.path.join(lake, "invocations", "tenant=acme")))[-1]
    with open(os.path.join(lake, "invocations", "tenant=acme", folder, "zz.parquet"), "wb") as f:
        f.write(b"garbage")
    at = app(lake, monkeypatch, tenant="acme")
    assert "cannot be read" in at.error[0].value and "zz.parquet" in at.error[0].value


def test_cost_trend_totals_match_the_spend_report_to_the_cent(demo_lake):
    from decimal import Decimal

    from warehouse import Warehouse

    wh = Warehouse(demo_lake)
    today = dt.datetime.now(dt.UTC).date()
    start = today - dt.timedelta(days=3)
    report = wh.spend_report("acme", start, today).total_cost_usd
    for grain in ("hour", "day", "week", "month"):
        for split in (None, "agent", "model", "user", "trigger"):
            df = wh.cost_trend("acme", start, today, grain=grain, split_by=split)
            assert sum((c for c in df["cost_usd"].to_list() if c is not None), Decimal(0)) == report > 0
