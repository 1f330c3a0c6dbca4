"""Every dashboard page through streamlit.testing's AppTest: widgets drive queries, empty states, access."""

import datetime as dt
import os

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from recorder import Recorder
from recorder.demo import record_demo
from tests.support.apptest import APP, AUTH, app, login_user

PAGES = ["pages/overview.py", "pages/cost_trends.py", "pages/agents.py", "pages/invocations.py",
         "pages/trace.py", "pages/reports.py", "pages/budgets.py", "pages/caching.py", "pages/reconciliation.py",
         "pages/sessions.py", "pages/users.py"]


@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory):
    lake = str(tmp_path_factory.mktemp("dash") / "lake")
    rec = Recorder(lake=lake)
    record_demo(rec, tenants=2, days=4, seed=3, runs_per_day=25, today=dt.datetime.now(dt.UTC).date(), key="d",
                progress=False)
    rec.shutdown()
    return lake


def test_overview_totals_and_failures(demo_lake, monkeypatch):
    at = app(demo_lake, monkeypatch, tenant="acme")
    labels = [m.label for m in at.metric]
    assert labels[:4] == ["Total runs", "Runs today", "Errors (24 h)", "Cost today"]
    assert int(at.metric[0].value.replace(",", "")) > 50
    assert at.title[0].value == "Overview · acme"
    assert at.toggle[0].label.startswith("Auto-refresh")
    # the picture at a glance: cost by agent, runs and error rate, the top models
    assert len(at.get("plotly_chart")) == 2
    models = at.dataframe[0].value
    assert list(models.columns) == ["split", "cost_usd", "runs", "unpriced_runs"] and len(models) >= 2
    # the latest failures: one table, each row linking to its trace
    failures = at.dataframe[1].value
    assert list(failures.columns) == ["time", "agent", "model", "status", "error_type", "cost_usd", "trace"]
    assert 1 <= len(failures) <= 10 and set(failures["status"]) <= {"Failed", "Timeout"}
    assert all(t.startswith("trace?tenant=acme&id=") for t in failures["trace"])


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


def test_invocations_page_past_the_end_or_after_filtering_shows_rows(demo_lake, monkeypatch):
    monkeypatch.setenv("INVLOG_LAKE", demo_lake)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["tenant"], at.query_params["page"] = "acme", "999"  # an old link, past the end
    at.switch_page("pages/invocations.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    caption = at.caption[0].value
    total, pages = int(caption.split()[0].replace(",", "")), int(caption.split("page ")[1].split()[2])
    assert pages >= 2, caption  # the demo tenant has more than one page
    assert f"page {pages} of {pages}" in caption and at.query_params["page"] == str(pages)
    assert not at.info and at.dataframe[0].value.shape[0] == total - (pages - 1) * 50  # the last page's rows
    status = next(s for s in at.selectbox if s.label == "Status")
    status.set_value("Failed").run()  # a filter on page N: its results start on page 1
    caption = at.caption[0].value
    assert "page 1 of 1" in caption and "page" not in at.query_params, caption
    assert not at.info and at.dataframe[0].value.shape[0] == int(caption.split()[0])


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
    # the preview holds the HTML report's tables, in its order, by day in date order
    assert [m.value for m in at.markdown if m.value.startswith("**By ")] == [
        "**By agent**", "**By model**", "**By user**", "**By day**"]
    days = list(at.dataframe[3].value["key"])
    assert days == sorted(days) and len(days) >= 2


def test_foreign_tenant_is_denied_with_the_navigation_kept(demo_lake, monkeypatch):
    secrets = {"access": {"local_user": ["globex"]}}
    for page in PAGES:
        for tenant in ("acme", "initech"):  # one in the lake, one nowhere: the same answer, nothing leaks
            at = app(demo_lake, monkeypatch, page=page, secrets=secrets, tenant=tenant)
            assert at.error[0].value == (f"Access denied: you cannot see tenant {tenant!r}. Pick one of your tenants "
                                         "in the sidebar.")
            assert not at.metric and not at.dataframe
            assert at.sidebar.selectbox[0].options == ["globex"]  # the way on


def test_a_granted_tenant_without_runs_says_there_is_no_data(demo_lake, monkeypatch, tmp_path):
    at = app(demo_lake, monkeypatch, tenant="initech")  # the local user sees every tenant; this one is empty
    assert "Tenant 'initech' has no runs in this lake yet" in at.info[0].value and not at.error
    at = app(str(tmp_path / "empty"), monkeypatch, tenant="acme")  # an empty lake: no data, not "Access denied"
    assert "Tenant 'acme' has no runs in this lake yet" in at.info[0].value and not at.error


def test_secrets_restrict_the_local_user(demo_lake, monkeypatch):
    secrets = {"access": {"local_user": ["globex"]}}
    at = app(demo_lake, monkeypatch, secrets=secrets, tenant="acme")
    assert "Access denied" in at.error[0].value
    at = app(demo_lake, monkeypatch, secrets=secrets)
    assert at.sidebar.selectbox[0].options == ["globex"]


LOGIN = {"auth": AUTH, "access": {"users": {"alice@example.com": ["acme"]}}}


_user = login_user


def login_app(lake, monkeypatch, user=None, secrets=LOGIN, page=None, **params):
    return app(lake, monkeypatch, page=page, secrets=secrets, user=user, **params)


def test_login_required_when_auth_is_configured(demo_lake, monkeypatch):
    at = login_app(demo_lake, monkeypatch, tenant="acme")
    assert any(b.label == "Log in" for b in at.button) and not at.metric


def test_logged_in_user_sees_only_her_tenants_with_a_logout_button(demo_lake, monkeypatch):
    at = login_app(demo_lake, monkeypatch, user=_user(email="ALICE@Example.com", sub="alice-caps"))
    assert at.sidebar.selectbox[0].options == ["acme"]  # e-mails compare case-insensitively
    assert any(b.label == "Log out" for b in at.sidebar.button)
    assert demo_lake not in " ".join(c.value for c in at.sidebar.caption)  # no server path once logged in
    at = login_app(demo_lake, monkeypatch, user=_user(sub="alice-2"), tenant="globex", page="pages/reports.py")
    assert "Access denied" in at.error[0].value and not at.metric


def test_unverified_email_gets_nothing_unless_configured_unsafe(demo_lake, monkeypatch):
    at = login_app(demo_lake, monkeypatch, user=_user(verified=False, sub="alice-u"), tenant="acme")
    assert "did not confirm" in at.error[0].value and not at.metric
    unsafe = {"auth": AUTH, "access": {"users": {"alice@example.com": ["acme"]}, "require_verified_email": False}}
    at = login_app(demo_lake, monkeypatch, user=_user(verified=False, sub="alice-u2"), secrets=unsafe)
    assert at.metric and at.sidebar.selectbox[0].options == ["acme"]


def test_a_stale_or_unknown_login_must_log_in_again(demo_lake, monkeypatch):
    import time

    # A cookie whose login this server never saw (issued an hour ago: a restart, or a copied cookie).
    at = login_app(demo_lake, monkeypatch, user=_user(iat=int(time.time()) - 3600, sub="alice-old"))
    assert "log in again" in at.warning[0].value and not at.metric
    assert any(b.label == "Log in" for b in at.button)


def test_non_loopback_bind_without_login_is_refused(demo_lake, monkeypatch):
    from streamlit.testing.v1.util import patch_config_options

    monkeypatch.delenv("INVLOG_UNSAFE_NO_LOGIN", raising=False)
    with patch_config_options({"server.address": "0.0.0.0"}):
        at = app(demo_lake, monkeypatch, tenant="acme")
        assert "without login" in at.error[0].value and not at.metric
        monkeypatch.setenv("INVLOG_UNSAFE_NO_LOGIN", "1")
        at = app(demo_lake, monkeypatch, tenant="acme")
        assert "Anyone who can reach this address sees every tenant" in at.warning[0].value and at.metric


BROKEN = {
    "unclosed list": ('[access]\nlocal_user = ["acme"\n', 2),
    "header without its bracket": ('[auth\nclient_id = "x"\n', 1),
    "incomplete auth": ('[auth]\nclient_id = "x"\ncookie_secret = "c"\n', 1),
    "typo in auth": ('[auth]\nredirect_uri = "http://h/oauth2callback"\ncookie_secret = "c"\nclient_id = "x"\n'
                     'client_secret = "y"\nserver_metadata_url = "http://h/m"\nclient_secert = "y"\n', 7),
    "unknown access key": ('[access]\nlocal_users = ["*"]\n', 2),
    "tenants not a list": ('[access.users]\n"alice@example.com" = "acme"\n', 2),
    "bad tenant id": ('[access]\nlocal_user = ["../other"]\n', 2),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_secrets_file_fails_closed_naming_file_and_line(demo_lake, monkeypatch, tmp_path, kind):
    from streamlit.testing.v1.util import patch_config_options

    text, line = BROKEN[kind]
    path = tmp_path / "secrets.toml"
    path.write_text(text)
    with patch_config_options({"secrets.files": [str(path)]}):
        for page in PAGES:
            at = app(demo_lake, monkeypatch, page=page, tenant="acme")
            message = at.error[0].value
            assert "access configuration is invalid" in message, message
            assert f"{path}" in message and f"line {line}" in message, message
            assert not at.metric and not at.sidebar.selectbox


def test_an_edit_while_running_is_validated_again(demo_lake, monkeypatch, tmp_path):
    from streamlit.testing.v1.util import patch_config_options

    path = tmp_path / "secrets.toml"
    path.write_text('[access]\nlocal_user = ["globex"]\n')
    with patch_config_options({"secrets.files": [str(path)]}):
        at = app(demo_lake, monkeypatch)
        assert at.sidebar.selectbox[0].options == ["globex"]
        path.write_text('[access]\nlocal_user = ["globex", \n')  # saved half-edited
        at.run()
        assert "access configuration is invalid" in at.error[0].value and not at.metric


def test_empty_lake(tmp_path, monkeypatch):
    at = app(str(tmp_path / "empty"), monkeypatch)
    assert "no invocations yet" in at.info[0].value


def test_corrupt_file_is_a_clear_error(tmp_path, monkeypatch):
    lake = str(tmp_path / "lake")
    rec = Recorder(lake=lake)
    record_demo(rec, tenants=1, days=1, seed=1, runs_per_day=5, key="c", progress=False)
    rec.shutdown()
    folder = sorted(os.listdir(os.path.join(lake, "invocations", "tenant=acme")))[-1]
    part = sorted(os.listdir(os.path.join(lake, "invocations", "tenant=acme", folder)))[-1]
    with open(os.path.join(lake, "invocations", "tenant=acme", folder, part), "wb") as f:
        f.write(b"garbage")  # a committed part file damaged in place
    at = app(lake, monkeypatch, tenant="acme")
    assert "cannot be read" in at.error[0].value and part in at.error[0].value


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


@pytest.fixture(scope="module")
def unpriced_lake(tmp_path_factory):
    """One agent on a model without a price (every run unpriced), one priced, one on a free model."""
    lake = str(tmp_path_factory.mktemp("unpriced") / "lake")
    rec = Recorder(lake=lake)
    for agent, provider, model, n in (("mystery-bot", "acme", "acme-llm-7b", 3), ("paid-bot", "openai", "gpt-4o", 2),
                                      ("free-bot", "openrouter", "allenai/molmo-7b-d:free", 2)):
        for _ in range(n):
            with rec.invocation(tenant="acme", agent=agent, provider=provider, model=model) as inv, inv.round() as r:
                r.set_response("x", usage={"input_tokens": 1000, "output_tokens": 100})
    with rec.invocation(tenant="ghost", agent="mystery-bot", provider="acme", model="acme-llm-7b") as inv, \
            inv.round() as r:
        r.set_response("x", usage={"input_tokens": 1000, "output_tokens": 100})
    with rec.invocation(tenant="acme", agent="router-bot", provider="openrouter",
                        model="anthropic/claude-sonnet-4.5") as inv, inv.round() as r:
        r.set_response("x", usage={"input_tokens": 1000, "output_tokens": 100}, reported_cost_usd="0.01")
    rec.shutdown()
    return lake


def _spec(element) -> dict:
    import json

    return json.loads(element.proto.spec)


def test_unpriced_is_a_state_on_agents_never_zero(unpriced_lake, monkeypatch):
    at = app(unpriced_lake, monkeypatch, page="pages/agents.py", tenant="acme")
    table = at.dataframe[0].value.set_index("agent")
    assert list(table.loc["mystery-bot", ["total_cost_usd", "avg_cost_usd", "p95_cost_usd"]]) == ["unpriced"] * 3
    assert table.loc["mystery-bot", "unpriced_runs"] == 3
    assert table.loc["free-bot", "total_cost_usd"] == "$0.00"  # a free model is priced at $0, and says so
    assert table.loc["paid-bot", "total_cost_usd"].startswith("$") and table.loc["paid-bot", "unpriced_runs"] == 0
    (bar,) = _spec(at.get("plotly_chart")[0])["data"]
    by_label = dict(zip(bar["y"], bar["x"], strict=True))
    assert by_label["mystery-bot (unpriced)"] is None and "mystery-bot" not in by_label  # no $0 bar
    assert "unpriced · 3 runs" in bar["text"]


def test_unpriced_is_a_state_on_the_report_page_and_html(unpriced_lake, monkeypatch):
    at = app(unpriced_lake, monkeypatch, page="pages/reports.py", tenant="acme")
    pies = [_spec(c) for c in at.get("plotly_chart")[1:3]]
    for pie in pies:
        assert "acme-llm-7b" not in pie["data"][0]["labels"] and "mystery-bot" not in pie["data"][0]["labels"]
        assert any("3 unpriced runs not shown" in a["text"] for a in pie["layout"]["annotations"])
    by_agent = at.dataframe[0].value.set_index("key")
    assert by_agent.loc["mystery-bot", "cost_usd"] == "unpriced"
    from warehouse import Warehouse
    from warehouse.report import to_html

    wh = Warehouse(unpriced_lake)
    today = dt.datetime.now(dt.UTC).date()
    page = to_html(wh.spend_report("acme", today, today), wh.cost_trend("acme", today, today, split_by="agent"))
    row = page.decode().split("<td>mystery-bot</td>")[1].split("</tr>")[0]
    assert "<td>unpriced</td>" in row and "$0" not in row
    assert "unknown model" in page.decode()  # the reason is stated


def test_trace_says_why_a_round_is_unpriced_and_shows_the_providers_own_cost(unpriced_lake, monkeypatch):
    from warehouse import Warehouse

    wh = Warehouse(unpriced_lake)
    today = dt.datetime.now(dt.UTC).date()
    ids = {}
    for agent in ("mystery-bot", "router-bot"):
        ids[agent] = wh.invocations("acme", today, today, agent=agent)[0]["invocation_id"][0]
    at = app(unpriced_lake, monkeypatch, page="pages/trace.py", tenant="acme", id=ids["mystery-bot"])
    captions = [c.value for c in at.caption]
    assert "Unpriced: the model has no known price; no cost is recorded (not $0)." in captions
    assert next(m for m in at.metric if m.label == "Cost").value == "unpriced"
    at = app(unpriced_lake, monkeypatch, page="pages/trace.py", tenant="acme", id=ids["router-bot"])
    note = next(c.value for c in at.caption if c.value.startswith("Cost reported by the provider"))
    ours = wh.trace("acme", ids["router-bot"])["rounds"]["cost_usd"][0]
    assert note.startswith("Cost reported by the provider: $0.01 (") and "against ours" in note and ours != 0


def test_overview_cost_today_never_folds_unpriced_runs_into_zero(unpriced_lake, monkeypatch):
    at = app(unpriced_lake, monkeypatch, tenant="ghost")
    cost = next(m for m in at.metric if m.label == "Cost today")
    assert cost.value == "unpriced"  # every run today is unpriced: no known cost, not $0
    assert any("1 runs today have no known cost" in c.value for c in at.caption)
    at = app(unpriced_lake, monkeypatch, tenant="acme")
    cost = next(m for m in at.metric if m.label == "Cost today")
    assert cost.value.startswith("$") and cost.value != "$0.00"
    assert any("3 runs today have no known cost" in c.value for c in at.caption)


def test_agents_table_links_each_agent_to_its_invocations(demo_lake, monkeypatch):
    at = app(demo_lake, monkeypatch, page="pages/agents.py", tenant="acme")
    table = at.dataframe[0].value
    assert list(table.columns[:2]) == ["agent", "invocations"]
    for agent, link in zip(table["agent"], table["invocations"], strict=True):
        assert link.startswith("invocations?tenant=acme&agent=") and f"agent={agent}".replace(" ", "+") in link
    assert not [m for m in at.markdown if "open its invocations" in m.value]  # no loose links above the table


def test_users_view_links_each_user_to_their_runs_and_sessions(demo_lake, monkeypatch):
    from warehouse import Warehouse

    today = dt.datetime.now(dt.UTC).date()
    expected = Warehouse(demo_lake).users("acme", today - dt.timedelta(days=29), today)
    at = app(demo_lake, monkeypatch, page="pages/users.py", tenant="acme")
    assert at.title[0].value == "Users · acme"
    table = at.dataframe[0].value
    assert list(table["user_id"]) == expected["user_id"].to_list() and list(table["runs"]) == expected["runs"].to_list()
    first = table.iloc[0]
    assert first["invocations"].startswith("invocations?tenant=acme") and f"user={first['user_id']}" in first[
        "invocations"]
    assert first["sessions"].startswith("sessions?tenant=acme")
    assert int(at.metric[1].value.replace(",", "")) == int(expected["runs"].sum())


def test_sessions_view_shows_a_sessions_runs_in_order_with_its_totals(demo_lake, monkeypatch):
    from warehouse import Warehouse

    today = dt.datetime.now(dt.UTC).date()
    wh = Warehouse(demo_lake)
    sessions = wh.sessions("acme", today - dt.timedelta(days=29), today)
    assert sessions.height > 0, "the demo records sessions"
    s = sessions.filter(pl.col("runs") > 1).row(0, named=True)
    at = app(demo_lake, monkeypatch, page="pages/sessions.py", tenant="acme", session=s["session_id"])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Runs"] == f"{s['runs']:,}" and metrics["Tokens"] == f"{s['tokens']:,}"
    runs = at.dataframe[0].value
    assert len(runs) == s["runs"] and list(runs["started"]) == sorted(runs["started"])  # in order
    assert all(t.startswith("trace?tenant=acme&id=") for t in runs["trace"])
    runs_df, _ = wh.invocations("acme", today - dt.timedelta(days=29), today, session_id=s["session_id"])
    known = [c for c in runs_df["cost_usd"].to_list() if c is not None]
    assert s["cost_usd"] == (sum(known) if known else None)  # the session's cost is its runs' known cost


def test_every_page_shows_the_same_default_period(demo_lake, monkeypatch):
    today = dt.datetime.now(dt.UTC).date()
    for page in ("pages/invocations.py", "pages/agents.py", "pages/cost_trends.py", "pages/sessions.py",
                 "pages/users.py", "pages/caching.py"):
        at = app(demo_lake, monkeypatch, page=page, tenant="acme")
        assert at.date_input[0].value == (today - dt.timedelta(days=29), today), page


def test_invocations_shows_unpriced_as_a_state_never_a_blank_or_zero(demo_lake, monkeypatch):
    at = app(demo_lake, monkeypatch, page="pages/invocations.py", tenant="acme")
    costs = list(at.dataframe[0].value["cost_usd"])
    assert "unpriced" in costs and any(c.startswith("$") for c in costs)  # the demo's triage model has no price
    assert all(c == "unpriced" or c.startswith("$") for c in costs) and "$0.00" not in costs


def test_server_warm_up_opens_the_lake_the_pages_then_use(demo_lake, monkeypatch, caplog):
    """The server's warm-up (app.py starts it) opens the lake once; the first page gets that Warehouse, and a lake
    that cannot be read leaves only a warning (the page then reports it to its visitor)."""
    from invlog.dashboard import data, warmup

    monkeypatch.setenv("INVLOG_LAKE", demo_lake)
    monkeypatch.setattr(data, "_OPEN", {})
    warmup._warm(wait=0)
    warmed = data._OPEN[demo_lake]
    assert data.warehouse(demo_lake) is warmed
    app(demo_lake, monkeypatch, tenant="acme")
    assert data._OPEN[demo_lake] is warmed  # the page used it, no second Warehouse
    monkeypatch.setattr(data.Warehouse, "tenants", lambda self: (_ for _ in ()).throw(OSError("lake unreachable")))
    monkeypatch.setattr(data, "_OPEN", {})
    with caplog.at_level("WARNING", logger="invlog.dashboard"):
        warmup._warm(wait=0)
    assert "warm-up failed" in caplog.text and "lake unreachable" in caplog.text
