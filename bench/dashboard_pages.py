"""Time from navigation to each dashboard page's main element, in a real browser.

``python -m bench.dashboard_pages --lake /tmp/bench-lake [--tenant tenant-00]``

Starts ``streamlit run app.py`` on a free loopback port over the lake, drives Debian's
chromium with Playwright, and for each page measures the time from ``goto`` to its
main chart (or table) being drawn: cold (first visit, caches empty) and warm (second
visit, query cache hit). Prints a table in seconds; target: under 2 s, warm under 1 s.
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
            for name, path, selector in pages:
                times = []
                for _ in range(2):
                    page.goto("about:blank")
                    t0 = time.perf_counter()
                    page.goto(base + path)
                    page.locator(selector).first.wait_for(state="visible")
                    times.append(time.perf_counter() - t0)
                results.append((name, *times))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"Dashboard: navigation to main chart drawn, seconds, tenant {t} of {args.lake}")
    print(f"{'page':28} {'cold':>6} {'warm':>6}")
    for name, cold, warm in results:
        print(f"{name:28} {cold:6.2f} {warm:6.2f}")
    print("(cold: the page's queries run; the overview visit before warmed the app's static assets. "
          "warm: st.cache_data hit. target < 2 s, warm < 1 s)")


if __name__ == "__main__":
    main()
