"""Time from navigation to each dashboard page's main element, in a real browser.

``python -m bench.dashboard_pages --lake /tmp/bench-lake [--tenant tenant-00]``

Starts ``streamlit run app.py`` on a free loopback port over the lake, drives Debian's
chromium with Playwright, and for each page measures the time from ``goto`` to its
main chart (or table) being drawn: cold (first visit, caches empty) and warm (second
visit, query cache hit) navigation inside the app, and full page loads of each URL. Prints a
table in seconds; target: under 2 s, warm under 1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
import urllib.request

from tests.support.browser import CHROMIUM, FLAGS
from tests.support.servers import free_port
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

    links = {"Overview": ("Overview", "Overview · "), "Cost trends (30 days)": ("Cost trends", "Cost trends · "),
             "Agents (30 days)": ("Agents", "Agents · "), "Invocations (7 days)": ("Invocations", "Invocations · "),
             "Reports (this month)": ("Reports", "Spend report · ")}
    results: dict[str, dict[str, float]] = {name: {} for name, _, _ in pages}
    selectors = {name: sel for name, _, sel in pages}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)

            def click_to(name: str) -> float:
                """In-app navigation: the sidebar link (or, for a trace, the Invocations page's button)."""
                t0 = time.perf_counter()
                if name == "Trace":
                    page.get_by_role("button", name="Open trace").click()
                    page.get_by_role("heading", name="Trace · ").first.wait_for(state="visible")
                else:
                    link, title = links[name]
                    page.get_by_role("link", name=link, exact=True).first.click()
                    page.get_by_role("heading", name=title).first.wait_for(state="visible")
                page.locator(selectors[name]).first.wait_for(state="visible")
                return time.perf_counter() - t0

            # 1. a fresh server: the first full load runs the overview's queries (cold)
            t0 = time.perf_counter()
            page.goto(f"{base}/overview?tenant={t}")
            page.locator(".js-plotly-plot").first.wait_for(state="visible")
            results["Overview"]["load, cold"] = time.perf_counter() - t0
            # 2. in-app navigation, cold (each page's queries run for the first time), then warm
            order = ["Cost trends (30 days)", "Agents (30 days)", "Invocations (7 days)", "Trace",
                     "Invocations (7 days)", "Reports (this month)", "Overview"]
            for phase in ("nav, cold", "nav, warm"):
                for name in order:
                    if name == "Invocations (7 days)" and phase in results[name] and name != order[-1]:
                        click_to(name)  # back to the list before opening the next trace
                        continue
                    results[name].setdefault(phase, click_to(name))
            # 3. full page loads of each URL (a shared link: a new Streamlit session), queries cached
            for name, path, selector in pages:
                page.goto("about:blank")
                t0 = time.perf_counter()
                page.goto(base + path)
                page.locator(selector).first.wait_for(state="visible")
                results[name]["load, warm"] = time.perf_counter() - t0
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
    cols = ["nav, cold", "nav, warm", "load, cold", "load, warm"]
    print(f"Dashboard: navigation to the main chart (or table) drawn, seconds, tenant {t} of {args.lake}")
    print(f"{'page':24}" + "".join(f"{c:>12}" for c in cols))
    for name, _, _ in pages:
        print(f"{name:24}" + "".join(f"{results[name].get(c, float('nan')):12.2f}" for c in cols))
    print("nav: in-app navigation (sidebar link; Trace from the Invocations page) on a fresh server (cold: the "
          "page's queries run) and again (warm: st.cache_data hit). load: a full page load of the URL, as from a "
          "shared link, which also boots a new Streamlit session. Target < 2 s, warm < 1 s.")

if __name__ == "__main__":
    main()
