"""End to end in a real browser: streamlit run app.py over a demo lake, driven by Playwright.

Uses Debian's chromium (``/usr/bin/chromium``; ``.ci/run`` installs it). Opens every
page, goes from Invocations to a Trace, opens the four round tabs, downloads a
report, fails on any exception Streamlit shows, and saves a screenshot of each
page under ``test-artifacts/``.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import pytest

from recorder import Recorder
from recorder.demo import record_demo
from tests.support import ROOT
from tests.support.browser import ART, CHROMIUM, FLAGS
from tests.support.servers import free_port, stop, wait_healthy

pytestmark = pytest.mark.browser
LAKES: dict[str, str] = {}  # the dashboard fixture's lake, for tests that add to it


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed: run `apt-get install -y chromium` (.ci/run does)")
    lake = str(tmp_path_factory.mktemp("e2e") / "lake")
    rec = Recorder(lake=lake)
    record_demo(rec, tenants=2, days=5, seed=11, runs_per_day=30, today=dt.datetime.now(dt.UTC).date(),
                key="e2e", progress=False)
    # tenant initech: one agent on a model without a price (every run unpriced) beside a priced one
    for agent, provider, model, n in (("mystery-bot", "acme", "acme-llm-7b", 3), ("paid-bot", "openai", "gpt-4o", 2)):
        for _ in range(n):
            with rec.invocation(tenant="initech", agent=agent, provider=provider, model=model) as inv, \
                    inv.round() as r:
                r.set_response("x", usage={"input_tokens": 1000, "output_tokens": 100})
    rec.shutdown()
    LAKES["e2e"] = lake
    port = free_port()
    env = {**os.environ, "INVLOG_LAKE": lake}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(f"{url}/_stcore/health", proc, "streamlit")
    yield url
    stop(proc)


@pytest.fixture(scope="module")
def page(dashboard):
    from playwright.sync_api import sync_playwright

    os.makedirs(ART, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        pg = ctx.new_page()
        pg.set_default_timeout(30_000)
        yield pg
        browser.close()


def _settle(pg, text: str) -> None:
    pg.get_by_text(text, exact=False).first.wait_for()
    pg.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000)
    time.sleep(0.5)
    errors = pg.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()
    assert pg.get_by_text("Page not found").count() == 0  # a shared link must open its page cleanly


def _shot(pg, name: str) -> None:
    pg.screenshot(path=os.path.join(ART, f"{name}.png"), full_page=True)


def test_every_page_trace_tabs_and_report_download(dashboard, page):
    pg = page
    pg.goto(f"{dashboard}/overview?tenant=acme")
    _settle(pg, "Total runs")
    assert pg.get_by_text("Cost today").count() >= 1
    _shot(pg, "overview")

    pg.goto(f"{dashboard}/cost_trends?tenant=acme&split=model&grain=day")
    _settle(pg, "Cost per day")
    pg.locator(".js-plotly-plot").first.wait_for()
    _shot(pg, "cost-trends")

    pg.goto(f"{dashboard}/agents?tenant=acme")
    _settle(pg, "Cost by agent")
    _shot(pg, "agents")

    pg.goto(f"{dashboard}/invocations?tenant=acme")
    _settle(pg, "matching invocations")
    _shot(pg, "invocations")
    pg.get_by_role("button", name="Open trace").click()
    pg.wait_for_url("**/trace?*")
    _settle(pg, "Round 0")
    assert "id=" in pg.url and "tenant=acme" in pg.url
    first = pg.locator('[data-testid="stExpander"]').first
    if first.get_attribute("open") is None and not first.locator('[role="tab"]').first.is_visible():
        first.locator("summary").click()
    for tab in ("Request / Response", "Prompt", "Cost breakdown", "Metadata"):
        first.get_by_role("tab", name=tab).click()
        time.sleep(0.3)
        assert first.get_by_role("tabpanel").first.is_visible()
    assert pg.get_by_text("Raw request parameters").first.is_visible()
    _shot(pg, "trace")

    pg.goto(f"{dashboard}/reports?tenant=acme")
    _settle(pg, "Total spend")
    with pg.expect_download() as dl:
        pg.get_by_role("button", name="Download HTML report").click()
    path = os.path.join(ART, "spend-report.html")
    dl.value.save_as(path)
    with open(path, encoding="utf-8") as f:
        html = f.read()
    assert "Spend report: acme" in html and "Total spend" in html
    _shot(pg, "reports")
    # the file on its own, offline: Plotly's basic bundle draws both charts (bar and donut)
    pg.goto(f"file://{path}")
    pg.locator(".js-plotly-plot .main-svg").first.wait_for(state="visible")
    assert pg.locator(".js-plotly-plot").count() == 2
    assert pg.locator(".js-plotly-plot .barlayer .point").count() > 0 and pg.locator(".pielayer .slice").count() > 0
    _shot(pg, "spend-report-html")


def test_every_page_url_loads_directly_every_time(dashboard, page):
    """Shared links: the same server, each page's URL loaded afresh again and again (a new document each
    time, as a pasted link is), always opens that page, never Streamlit's "Page not found"."""
    urls = {"overview": "Total runs", "cost_trends": "Cost per day", "agents": "Cost by agent",
            "invocations": "matching invocations", "reports": "Total spend", "budgets": "Budgets & alerts",
            "sessions": "All sessions in the period", "users": "Users · acme", "caching": "Prompt caching",
            "reconciliation": "Reconciliation"}
    for attempt in range(3):
        for path, text in urls.items():
            page.goto("about:blank")
            page.goto(f"{dashboard}/{path}?tenant=acme")
            _settle(page, text)
            assert page.url.split("?")[0].endswith(f"/{path}"), (attempt, page.url)
            # no widget shows Streamlit's default placeholder, which is cut off in a narrow box
            assert page.get_by_text("Choose an option").count() == 0, path


def test_invocations_link_past_the_last_page_opens_the_last_page(dashboard, page):
    page.goto(f"{dashboard}/invocations?tenant=acme&page=999")
    _settle(page, "matching invocations")
    caption = page.get_by_text("matching invocations").first.inner_text()
    pages = caption.split("page ")[1].split()[2]
    assert f"page {pages} of {pages}" in caption and int(pages) >= 2, caption
    assert page.get_by_text("No invocations match").count() == 0
    assert page.locator('[data-testid="stDataFrame"]').count() == 1
    assert page.get_by_role("button", name="◀ Previous").is_enabled()  # the way back is there
    _shot(page, "invocations-past-the-end")


def test_a_tenant_without_runs_says_so_and_keeps_the_navigation(dashboard, page):
    """The local user sees every tenant: a link to one that has recorded nothing says there is no data (not
    "Access denied"), and the sidebar still leads on. Denial itself: tests/dashboard/test_e2e_login.py."""
    page.goto(f"{dashboard}/invocations?tenant=not-yet")
    _settle(page, "has no runs in this lake yet")
    assert page.get_by_text("matching invocations").count() == 0 and page.get_by_text("Access denied").count() == 0
    nav = page.locator('[data-testid="stSidebar"] a')
    nav.nth(7).wait_for()  # the sidebar's links render after the page body: wait for them, then count
    assert nav.count() >= 8, nav.count()
    nav.filter(has_text="Overview").first.click()
    page.get_by_text("Total runs").first.wait_for()  # the way on: the overview of the user's first tenant
    _shot(page, "tenant-without-runs")


def test_budgets_page_shows_spend_against_the_limit(dashboard, page):
    """A budget and an alert of the demo tenant globex, evaluated by the checker, drawn in the browser."""
    from invlog.lake import Lake
    from invlog.rules import load_rules
    from warehouse import Warehouse, alerts

    lake = LAKES["e2e"]
    Lake(lake).put("_meta/rules.toml", b"""
[[budget]]
name = "globex monthly"
tenant = "globex"
period = "month"
limit_usd = "0.05"
warn_at = [0.5]
enforce = true

[[alert]]
name = "globex errors"
tenant = "globex"
metric = "error_rate"
window_minutes = 10080
above = 0.5
""")
    alerts.check(Warehouse(lake, refresh_interval=0), load_rules(Lake(lake)))
    page.goto(f"{dashboard}/budgets?tenant=globex")
    _settle(page, "globex monthly")
    assert page.locator('[data-testid="stProgress"]').count() == 1
    assert page.get_by_text("The limit is reached. New runs of this scope are refused.").count() == 1
    assert page.get_by_text("Projected").count() == 1
    assert page.locator('[data-testid="stDataFrame"]').count() == 2  # alerts and the notification history
    _shot(page, "budgets")


def test_sessions_and_users_views(dashboard, page):
    """A session's runs in order with its totals, and the users table with links to their runs."""
    page.goto(f"{dashboard}/sessions?tenant=acme")
    _settle(page, "All sessions in the period")
    assert page.locator('[data-testid="stMetric"]').count() == 5  # runs, cost, tokens, duration, errors
    assert page.locator('[data-testid="stDataFrame"]').count() == 2  # the session's runs, all sessions
    _shot(page, "sessions")
    page.goto(f"{dashboard}/users?tenant=acme")
    _settle(page, "Users · acme")
    assert page.locator('[data-testid="stDataFrame"]').count() == 1
    _shot(page, "users")


def test_trace_header_reads_at_1280_px_and_the_timeline_shows_tool_calls(dashboard, page):
    """Every header value whole at 1280 px (none cut to "…"), and the tool calls nested under their round."""
    import json

    from warehouse import Warehouse

    wh = Warehouse(LAKES["e2e"])
    today = dt.datetime.now(dt.UTC).date()
    df, _ = wh.invocations("acme", today - dt.timedelta(days=5), today, sort="cost", limit=200)
    iid, tools = None, []
    for i in df["invocation_id"].to_list():
        t = wh.trace("acme", i)
        tools = [c["name"] for r in t["rounds"]["tool_calls"].to_list() if r for c in json.loads(r)]
        if tools:
            iid = i
            break
    assert iid, "the demo records runs with tool calls"
    page.set_viewport_size({"width": 1280, "height": 1000})
    try:
        page.goto(f"{dashboard}/trace?tenant=acme&id={iid}")
        _settle(page, "Request / Response")
        values = page.locator('[data-testid="stMetricValue"]')
        values.nth(4).wait_for()  # the five header values (cost, latency, tokens in and out, rounds)
        cut = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stMetricValue"]')]
            .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)""")
        assert cut == [], f"header values cut off at 1280 px: {cut}"
        ticks = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot .ytick text')]
            .map(e => e.textContent)""")
        assert any(t.strip().startswith("↳ " + tools[0]) for t in ticks), ticks  # the tool, under its round
        assert any("round 0" in t for t in ticks)
        _shot(page, "trace-1280")
    finally:
        page.set_viewport_size({"width": 1400, "height": 1000})


def test_a_deep_link_connects_to_the_server_without_guessing_its_base(dashboard, page):
    """invlog/dashboard/page_html.py: the frontend asks /_stcore/health straight away, never /overview/_stcore/...
    (a 404 and a retry period on every full load of a shared link)."""
    asked: list[str] = []

    def note(request) -> None:
        asked.append(request.url)

    page.on("request", note)
    try:
        page.goto("about:blank")
        page.goto(f"{dashboard}/agents?tenant=acme")
        _settle(page, "Agents · acme")
    finally:
        page.remove_listener("request", note)
    health = [u for u in asked if "_stcore/health" in u]
    assert health and all(u == f"{dashboard}/_stcore/health" for u in health), health
    assert page.evaluate("window.__streamlit.BACKEND_BASE_URL") == f"{dashboard}/"


def test_invocations_filter_after_page_two_starts_on_page_one(dashboard, page):
    """The defect: on page 2, a filter left "7 matching · page 1 of 1" over "No invocations match"."""
    page.goto(f"{dashboard}/invocations?tenant=acme&page=2")
    _settle(page, "matching invocations")
    assert " · page 2 of " in page.get_by_text("matching invocations").first.inner_text()
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Status").click()
    page.get_by_role("option", name="Failed", exact=True).click()
    page.wait_for_function("() => !location.search.includes('page=2')")
    _settle(page, "matching invocations")
    caption = page.get_by_text("matching invocations").first.inner_text()
    total = int(caption.split()[0].replace(",", ""))
    assert total > 0 and " · page 1 of " in caption and "status=Failed" in page.url, (caption, page.url)
    assert page.get_by_text("No invocations match").count() == 0
    assert page.locator('[data-testid="stDataFrame"]').count() == 1
    _shot(page, "invocations-filtered-from-page-2")


def test_an_unpriced_agent_is_labelled_never_drawn_as_zero(dashboard, page):
    page.goto(f"{dashboard}/agents?tenant=initech")
    _settle(page, "Cost by agent")
    page.locator(".js-plotly-plot .main-svg").first.wait_for(state="visible")
    ticks = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot .ytick text')].map(e => e.textContent)")
    assert "mystery-bot (unpriced)" in ticks and "mystery-bot" not in ticks, ticks
    labels = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot .bartext')].map(e => e.textContent)")
    assert any(t.startswith("$") and t.endswith("· 2 runs") for t in labels), labels  # paid-bot: its cost
    notes = page.evaluate(
        "() => [...document.querySelectorAll('.js-plotly-plot .annotation-text')].map(e => e.textContent)")
    assert "unpriced · 3 runs" in notes, notes  # said beside its label, where a bar would be
    assert not any(t.split(" ·")[0] in ("$0", "$0.00", "$0.0000") for t in labels), labels  # nothing drawn as $0
    _shot(page, "agents-unpriced")


def test_report_tables_are_the_html_reports_with_by_day_in_date_order(dashboard, page):
    import csv
    import io

    page.goto(f"{dashboard}/reports?tenant=acme")
    _settle(page, "Total spend")
    heads = ["By agent", "By model", "By user", "By day"]
    ys = [page.get_by_text(h, exact=True).first.bounding_box()["y"] for h in heads]
    assert ys == sorted(ys), dict(zip(heads, ys, strict=True))  # the HTML report's order
    assert page.locator('[data-testid="stDataFrame"]').count() >= 4
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download CSV").click()
    path = os.path.join(ART, "spend-report.csv")
    dl.value.save_as(path)
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(io.StringIO(f.read())))
    days = [r["key"] for r in rows if r["dimension"] == "day"]
    assert len(days) >= 5 and days == sorted(days), days
    assert rows[-1]["dimension"] == "total" and {r["tenant"] for r in rows} == {"acme"}
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download HTML report").click()
    with open(dl.value.path(), encoding="utf-8") as f:
        html = f.read()
    table = html.split("By day")[1].split("</table>")[0]
    cells = [c.split("</td>")[0] for c in table.split("<tr><td>")[1:]]
    assert cells == days, (cells, days)  # the HTML report's by-day table: the same days, same order
    _shot(page, "reports-tables")
