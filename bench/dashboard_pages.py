"""Time from navigation to each dashboard page's main element, in a real browser.

``python -m bench.dashboard_pages --lake /tmp/bench-lake [--tenant tenant-00]``

Starts ``streamlit run app.py`` on a free loopback port over the lake, drives Debian's
chromium with Playwright, and for each page measures the time from ``goto`` to its
main chart (or table) being drawn: cold (first visit, caches empty) and warm (second
visit, query cache hit), and an in-app navigation through the sidebar link. Prints a table
in seconds; target: under 2 s, warm under 1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
import urllib.request

from tests.conftest import free_port
from tests.test_e2e_browser import CHROMIUM, FLAGS
from warehouse import Warehouse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lake", required=True)
    ap.add_argument("--tenant", default="tenant-00")
    args = ap.parse_args()
    today = dt.datetime.now(dt.UTC).date()
    iid = Warehouse(args.lake).invocations(args.tenant, today - dt.timedelta(days=2), today, limit=1)[0][
        "invocation_id"][0]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"], cwd=ROOT,
                            env={**os.environ, "INVLOG_LAKE": args.lake}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{base}/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    t = args.tenant
    pages = [
        ("Overview", f"/overview?tenant={t}", ".js-plotly-plot"),
        ("Cost trends (30 days)", f"/cost_trends?tenant={t}", ".js-plotly-plot"),
        ("Agents (30 days)", f"/agents?tenant={t}", ".js-plotly-plot"),
        ("Invocations (7 days)", f"/invocations?tenant={t}", '[data-testid="stDataFrame"]'),
        ("Trace", f"/trace?tenant={t}&id={iid}", ".js-plotly-plot"),
        ("Reports (this month)", f"/reports?tenant={t}", ".js-plotly-plot"),
    ]
    from playwright.sync_api import sync_playwright

    results = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(f"{base}/overview?tenant={t}")  # load the app's static assets once
            page.locator(".js-plotly-plot").first.wait_for()
            labels = {
                "Overview": ("Overview", "Overview · "),
                "Cost trends (30 days)": ("Cost trends", "Cost trends · "),
                "Agents (30 days)": ("Agents", "Agents · "),
                "Invocations (7 days)": ("Invocations", "Invocations · "),
                "Trace": ("Trace", "Trace · "),
                "Reports (this month)": ("Reports", "Spend report · "),
            }
            for name, path, selector in pages:
                times = []
                for _ in range(2):  # a full page load (a shared link): cold, then with the query cache warm
                    page.goto("about:blank")
                    t0 = time.perf_counter()
                    page.goto(base + path)
                    page.locator(selector).first.wait_for(state="visible")
                    times.append(time.perf_counter() - t0)
                if name != "Trace":  # in-app navigation from another page through the sidebar link
                    start_page = "agents" if name != "Agents (30 days)" else "overview"
                    page.goto(f"{base}/{start_page}?tenant={t}")
                    page.locator(".js-plotly-plot").first.wait_for(state="visible")
                    link, title = labels[name]
                    t0 = time.perf_counter()
                    page.get_by_role("link", name=link, exact=True).first.click()
                    page.get_by_role("heading", name=title).first.wait_for(state="visible")  # the new page is up
                    page.locator(selector).first.wait_for(state="visible")
                    times.append(time.perf_counter() - t0)
                else:
                    times.append(float("nan"))
                results.append((name, *times))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"Dashboard: navigation to main chart drawn, seconds, tenant {t} of {args.lake}")
    print(f"{'page':28} {'load, cold':>11} {'load, warm':>11} {'in-app nav, warm':>17}")
    for name, cold, warm, nav in results:
        print(f"{name:28} {cold:11.2f} {warm:11.2f} {nav:17.2f}")
    print("(load: a full page load of the URL, as from a shared link; cold runs the page's queries, warm hits "
          "st.cache_data. in-app nav: a sidebar link click with warm caches. Target < 2 s, warm < 1 s)")


if __name__ == "__main__":
    main()
