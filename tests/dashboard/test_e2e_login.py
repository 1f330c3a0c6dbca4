"""Login end to end: a real OIDC provider on loopback, ``streamlit run app.py`` and Chromium.

The provider is oauth2-mock-server (npm, ``tests/oidc``; ``make test`` installs it),
which logs in at once as the identity written to a JSON file, so each test picks
its user. The dashboard runs with the committed ``.streamlit/config.toml`` (no
``--server.address``), so the listening socket shows the default bind. Checked
as an attacker would: another tenant through the URL, an unverified e-mail, a
cookie copied before logout, a download URL fetched without the session, the
metrics endpoint, and a secrets file broken while the server runs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from recorder import Recorder
from recorder.demo import record_demo
from tests.support import ROOT
from tests.support.browser import CHROMIUM, FLAGS
from tests.support.servers import free_port, http_status, stop, wait_healthy

pytestmark = pytest.mark.browser
OIDC_DIR = os.path.join(ROOT, "tests", "oidc")
# Overview is the default page, at "/" ("/overview" shows a "Page not found" notice in login mode: a Streamlit quirk).
PAGES = ["", "cost_trends", "agents", "invocations", "trace", "reports"]


@pytest.fixture(scope="module")
def oidc(tmp_path_factory):
    if not os.path.isdir(os.path.join(OIDC_DIR, "node_modules", "oauth2-mock-server")):
        pytest.fail("oauth2-mock-server is not installed: run `npm ci --prefix tests/oidc` (make test does)")
    if shutil.which("node") is None:
        pytest.fail("node is not installed: it runs the OIDC provider of the login tests")
    identity = tmp_path_factory.mktemp("oidc") / "identity.json"
    identity.write_text(json.dumps({"sub": "nobody"}))
    proc = subprocess.Popen(["node", os.path.join(OIDC_DIR, "server.mjs")], env={**os.environ,
                            "OIDC_IDENTITY": str(identity)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    line = proc.stdout.readline().decode()
    try:
        issuer = json.loads(line)["issuer"]
    except ValueError:
        proc.kill()
        pytest.fail("the OIDC provider did not start: " + line + proc.stdout.read().decode(errors="replace"))
    yield issuer, identity
    stop(proc)


def _secrets(issuer: str, port: int) -> str:
    return f"""
[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "login-test-cookie-secret-0123456789abcdef"
client_id = "invlog-dashboard"
client_secret = "login-test-client-secret"
server_metadata_url = "{issuer}/.well-known/openid-configuration"

[access.users]
"alice@example.com" = ["acme"]
"bob@example.com" = ["globex"]
"""


@pytest.fixture(scope="module")
def server(oidc, tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed: run `apt-get install -y chromium` (.ci/run does)")
    issuer, identity = oidc
    tmp = tmp_path_factory.mktemp("login")
    lake = str(tmp / "lake")
    rec = Recorder(lake=lake)
    record_demo(rec, tenants=2, days=3, seed=5, runs_per_day=15, today=dt.datetime.now(dt.UTC).date(),
                key="login", progress=False)
    rec.shutdown()
    port = free_port()
    secrets = tmp / "secrets.toml"
    secrets.write_text(_secrets(issuer, port))
    env = {**os.environ, "INVLOG_LAKE": lake}
    env.pop("INVLOG_UNSAFE_NO_LOGIN", None)
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--secrets.files", str(secrets)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(f"{url}/_stcore/health", proc, "streamlit")
    yield {"url": url, "port": port, "identity": identity, "secrets": secrets, "lake": lake}
    stop(proc)


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _context(browser, **kw):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True, **kw)
    ctx.set_default_timeout(30_000)
    return ctx


def _wait_text(pg, text: str) -> None:
    pg.get_by_text(text, exact=False).first.wait_for()
    pg.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000)
    time.sleep(0.4)


def _login(browser, server, identity: dict, expect: str = "Signed in as"):
    server["identity"].write_text(json.dumps(identity))
    ctx = _context(browser)
    pg = ctx.new_page()
    pg.goto(f"{server['url']}/")
    _wait_text(pg, "Please log in")
    pg.get_by_role("button", name="Log in").click()
    _wait_text(pg, expect)  # back from the provider, with the identity cookie set
    return ctx, pg


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of LISTEN sockets on ``port``, from /proc/net/tcp and tcp6 (hex, as the kernel writes)."""
    found = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(name):
            continue
        with open(name) as f:
            for row in f.read().splitlines()[1:]:
                cols = row.split()
                addr, hexport = cols[1].rsplit(":", 1)
                if int(hexport, 16) == port and cols[3] == "0A":
                    found.add(addr)
    return found


def test_default_bind_is_loopback(server):
    addresses = _listening_addresses(server["port"])
    assert addresses == {"0100007F"}, addresses  # 127.0.0.1 only: not 0.0.0.0, not ::


def test_metrics_endpoint_is_hidden_with_login(server):
    assert http_status(f"{server['url']}/_stcore/metrics") == 404


def test_login_scopes_every_page_and_logout_ends_the_session(browser, server):
    # The provider capitalises the e-mail differently from the access list: still Alice.
    ctx, pg = _login(browser, server, {"sub": "alice", "email": "Alice@Example.COM", "email_verified": True})
    _wait_text(pg, "Total runs")
    assert pg.get_by_text("Signed in as alice@example.com").count() == 1
    assert server["lake"] not in pg.inner_text("body")  # no server paths for logged-in visitors
    for page in PAGES:
        pg.goto(f"{server['url']}/{page}?tenant=globex")  # bob's tenant
        _wait_text(pg, "Access denied")
        assert pg.get_by_text("Total runs").count() == 0 and pg.locator(".js-plotly-plot").count() == 0
        pg.goto(f"{server['url']}/{page}?tenant=acme")
        _wait_text(pg, "Log out")
        assert pg.get_by_text("Access denied").count() == 0
        assert pg.get_by_text(" · acme").count() >= 1 or page == "trace"  # titles name the tenant
    pg.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    assert pg.locator('[role="option"]').all_inner_texts() == ["acme"]  # the selector offers her tenant only
    pg.keyboard.press("Escape")
    pg.goto(f"{server['url']}/?tenant=acme")
    _wait_text(pg, "Total runs")
    copied = ctx.cookies()
    pg.get_by_role("button", name="Log out").click()
    _wait_text(pg, "Please log in")
    assert pg.get_by_text("Total runs").count() == 0
    ctx.close()

    # The cookie copied before logout is still validly signed, but the login has ended on the server.
    thief = _context(browser)
    thief.add_cookies(copied)
    tp = thief.new_page()
    tp.goto(f"{server['url']}/?tenant=acme")
    _wait_text(tp, "log in again")
    assert tp.get_by_text("Total runs").count() == 0
    thief.close()


def test_unverified_email_is_refused(browser, server):
    ctx, pg = _login(browser, server, {"sub": "bob", "email": "bob@example.com", "email_verified": False},
                     expect="did not confirm")
    pg.goto(f"{server['url']}/invocations?tenant=globex")
    _wait_text(pg, "did not confirm")
    assert pg.get_by_text("matching invocations").count() == 0
    ctx.close()


def test_download_url_is_nothing_without_the_session(browser, server):
    ctx, pg = _login(browser, server, {"sub": "alice", "email": "alice@example.com", "email_verified": True})
    pg.goto(f"{server['url']}/reports?tenant=acme")
    _wait_text(pg, "Total spend")
    with pg.expect_download() as dl:
        pg.get_by_role("button", name="Download CSV").click()
    url = dl.value.url
    with open(dl.value.path(), "rb") as f:
        assert "/media/" in url and f.read().startswith(b"dimension,key,runs")
    for headers in ({}, {"Cookie": "_streamlit_user=forged"}):  # no session, a forged one
        assert http_status(url, headers) == 404
    # The owner's own cookie works while the session lives, and not after logout.
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in ctx.cookies())
    assert http_status(url, {"Cookie": cookie}) == 200
    pg.get_by_role("button", name="Log out").click()
    _wait_text(pg, "Please log in")
    assert http_status(url, {"Cookie": cookie}) == 404
    ctx.close()


def test_secrets_broken_while_running_fail_closed(browser, server):
    good = server["secrets"].read_text()
    ctx, pg = _login(browser, server, {"sub": "alice", "email": "alice@example.com", "email_verified": True})
    _wait_text(pg, "Total runs")
    try:
        server["secrets"].write_text(good.replace("[access.users]", "[access.users"))  # a lost bracket
        pg.goto(f"{server['url']}/?tenant=acme")
        _wait_text(pg, "access configuration is invalid")
        body = pg.inner_text("body")
        assert str(server["secrets"]) in body and "line 9" in body
        assert pg.get_by_text("Total runs").count() == 0
        assert http_status(f"{server['url']}/media/0.csv") >= 400  # downloads fail closed too
    finally:
        server["secrets"].write_text(good)
    pg.goto(f"{server['url']}/?tenant=acme")
    _wait_text(pg, "Total runs")
    ctx.close()
