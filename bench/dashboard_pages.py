"""Time from navigation to each dashboard page's main element, in a real browser, against Streamlit's floor.

``python -m bench.dashboard_pages --lake /tmp/bench-lake [--tenant tenant-00] [--loads 3]``

The floor is the framework itself, measured in the same run and the same way: a bare
Streamlit page with one line of text, served by ``streamlit run`` on a fresh server and
loaded by the same chromium (Debian's, driven by Playwright). Then the dashboard is
started the way ``make run`` does (``python -m invlog dashboard``) over the lake, and for
each page the bench measures the time from ``goto`` (or a click) to its main chart or
table being drawn:

* **first request**: the first load of a shared URL on a fresh server in a fresh browser
  (the server imports, opens the lake, runs the page's queries; the browser fetches
  Streamlit's assets). Target: within 2x the floor's first request.
* **nav cold / warm**: in-app navigation (sidebar link; Trace from the Invocations page),
  the first time (the page's queries run) and again (``st.cache_data`` hit). Target: warm
  under 0.5 s.
* **full load**: a full load of the page's URL, as from a pasted link (a new document and
  a new Streamlit session), median of ``--loads``. Target: within 1.5x the floor's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING

from tests.support.browser import CHROMIUM, FLAGS
from tests.support.servers import free_port
from warehouse import Warehouse

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLOT = ".js-plotly-plot .main-svg"  # a chart counts once Plotly has drawn its SVG
FLOORS = {  # the framework alone: a bare page with one line of text, and the same with one Plotly chart
    "text": ('import streamlit as st\n\nst.write("Hello from a bare Streamlit page.")\n', '[data-testid="stMarkdown"]'),
    "chart": ('import plotly.graph_objects as go\nimport streamlit as st\n\nst.write("Hello from a bare Streamlit '
              'page.")\nst.plotly_chart(go.Figure(go.Bar(x=["a", "b"], y=[1, 2])))\n', PLOT),
}


def serve(cmd: Callable[[int], list[str]]) -> tuple[subprocess.Popen[bytes], str]:
    """Start a server (``cmd(port)``) on a free loopback port; return it once its health check answers."""
    port = free_port()
    proc = subprocess.Popen(cmd(port), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{base}/_stcore/health", timeout=1)
            return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the server did not start: {' '.join(cmd(port))}")


# Checked on every animation frame: a locator's wait_for polls with backoff (up to 500 ms between checks), which
# added up to half a second to a page that draws after the first few checks and nothing to one that draws at once.
_DRAWN = """([sel, text]) => [...document.querySelectorAll(sel)].some(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility === 'visible'
        && (!text || e.textContent.includes(text)); })"""


def drawn(page: Page, selector: str, text: str | None = None) -> None:
    """Return on the first frame where ``selector`` (holding ``text``) is laid out and visible."""
    page.wait_for_function(_DRAWN, arg=[selector, text], polling="raf", timeout=60_000)


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lake", required=True)
    ap.add_argument("--tenant", default="tenant-00")
    ap.add_argument("--loads", type=int, default=3, help="full loads per URL (median)")
    args = ap.parse_args()
    today = dt.datetime.now(dt.UTC).date()
    iid = Warehouse(args.lake).invocations(args.tenant, today - dt.timedelta(days=2), today, limit=1)[0][
        "invocation_id"][0]
    t = args.tenant
    pages = [
        ("Overview", f"/overview?tenant={t}", PLOT),
        ("Cost trends", f"/cost_trends?tenant={t}", PLOT),
        ("Agents", f"/agents?tenant={t}", PLOT),
        ("Invocations", f"/invocations?tenant={t}", '[data-testid="stDataFrame"]'),
        ("Trace", f"/trace?tenant={t}&id={iid}", PLOT),
        ("Sessions", f"/sessions?tenant={t}", '[data-testid="stDataFrame"]'),
        ("Users", f"/users?tenant={t}", '[data-testid="stDataFrame"]'),
        ("Reports", f"/reports?tenant={t}", PLOT),
    ]
    titles = {"Overview": "Overview · ", "Cost trends": "Cost trends · ", "Agents": "Agents · ",
              "Invocations": "Invocations · ", "Sessions": "Sessions · ", "Users": "Users · ",
              "Reports": "Spend report · "}
    selectors = {name: sel for name, _, sel in pages}
    results: dict[str, dict[str, float]] = {name: {} for name, _, _ in pages}
    floor: dict[str, dict[str, float]] = {}
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)

        # 1. the floors: bare Streamlit pages, each on a fresh server in a fresh browser context
        for kind, (source, selector) in FLOORS.items():
            script = os.path.join(tmp, f"bare_{kind}.py")
            with open(script, "w") as f:
                f.write(source)
            proc, base = serve(lambda port, script=script: [
                sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
                "--server.address", "127.0.0.1", "--server.headless", "true"])
            try:
                ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = ctx.new_page()
                page.set_default_timeout(60_000)

                def bare_load(selector: str = selector, base: str = base, page: Page = page) -> None:
                    page.goto(base + "/")
                    drawn(page, selector)

                floor[kind] = {"first request": timed(bare_load)}
                loads = []
                for _ in range(max(args.loads, 3)):
                    page.goto("about:blank")
                    loads.append(timed(bare_load))
                floor[kind]["full load"] = statistics.median(loads)
                ctx.close()
            finally:
                proc.terminate()
                proc.wait(10)

        # 2. the dashboard, started as `make run` starts it
        proc, base = serve(lambda port: [sys.executable, "-m", "invlog", "dashboard", "--lake", args.lake,
                                         "--port", str(port)])
        try:
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = ctx.new_page()
            page.set_default_timeout(60_000)

            def load(name: str, path: str) -> Callable[[], None]:
                def go() -> None:
                    page.goto(base + path)
                    drawn(page, selectors[name])
                return go

            results["Overview"]["first request"] = timed(load("Overview", pages[0][1]))

            def click_to(name: str) -> float:
                def go() -> None:
                    if name == "Trace":
                        page.get_by_role("button", name="Open trace").click()
                        drawn(page, "h1", "Trace · ")
                    else:
                        page.get_by_role("link", name=name, exact=True).first.click()
                        drawn(page, "h1", titles[name])
                    drawn(page, selectors[name])
                return timed(go)

            order = ["Cost trends", "Agents", "Invocations", "Trace", "Sessions", "Users", "Invocations",
                     "Reports", "Overview"]
            for phase in ("nav, cold", "nav, warm"):
                seen: set[str] = set()
                for name in order:
                    if name in seen:  # back to the list before the next trace; not timed twice
                        click_to(name)
                        continue
                    seen.add(name)
                    results[name].setdefault(phase, click_to(name))
            for name, path, _ in pages:
                loads = []
                for _ in range(args.loads):
                    page.goto("about:blank")
                    loads.append(timed(load(name, path)))
                results[name]["full load"] = statistics.median(loads)
            ctx.close()
        finally:
            proc.terminate()
            proc.wait(10)
        browser.close()

    cols = ["first request", "nav, cold", "nav, warm", "full load"]
    text, chart = floor["text"], floor["chart"]
    print(f"Dashboard pages in chromium, seconds to the main chart (or table) drawn; tenant {t} of {args.lake}")
    print("(x: ratio to the text floor; c: ratio to the one-chart floor, the framework's own cost of a Plotly page)")
    print(f"{'page':28}" + "".join(f"{c:>22}" for c in cols))
    for kind, label in (("text", "floor: text only"), ("chart", "floor: one Plotly chart")):
        f = floor[kind]
        print(f"{label:28}{f['first request']:22.2f}{'':22}{'':22}{f['full load']:22.2f}")
    for name, _, _ in pages:
        cells = []
        for c in cols:
            v = results[name].get(c)
            if v is None:
                cells.append(f"{'':22}")
            elif c in text:
                cells.append(f"{v:6.2f} ({v / text[c]:.2f}x, {v / chart[c]:.2f}c)".rjust(22))
            else:
                cells.append(f"{v:22.2f}")
        print(f"{name:28}" + "".join(cells))
    worst_load = max(r["full load"] for r in results.values())
    worst_warm = max(r["nav, warm"] for r in results.values() if "nav, warm" in r)
    first = results["Overview"]["first request"]
    print(f"targets: first request {first / text['first request']:.2f}x the text floor (<= 2x; "
          f"{first / chart['first request']:.2f}x the chart floor); worst full load "
          f"{worst_load / text['full load']:.2f}x (<= 1.5x; {worst_load / chart['full load']:.2f}x the chart floor); "
          f"worst warm navigation {worst_warm:.2f} s (< 0.5 s)")


if __name__ == "__main__":
    main()
