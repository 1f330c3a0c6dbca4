"""The Budgets & alerts page (AppTest): spend against limits, alert states, history, and rules that only a
tenant's admins can edit."""

from __future__ import annotations

import datetime as dt

import pytest

from invlog.lake import Lake
from invlog.rules import load_rules
from recorder import Recorder
from tests.support.apptest import AUTH, app, login_user
from tests.support.records import record_inv
from warehouse import Warehouse, alerts

RULES = """
[[budget]]
name = "acme daily"
tenant = "acme"
period = "day"
limit_usd = "10.00"
enforce = true

[[alert]]
name = "acme errors"
tenant = "acme"
metric = "errors"
window_minutes = 120
above = 0

[[budget]]
name = "globex monthly"
tenant = "globex"
period = "month"
limit_usd = "900"
"""


@pytest.fixture
def lake(tmp_path):
    now = dt.datetime.now(dt.UTC)
    if now.strftime("%H:%M") < "00:10" or now.strftime("%H:%M") > "23:58":
        pytest.skip("too close to midnight UTC for a one-day budget window")
    lake = str(tmp_path / "lake")
    with Recorder(lake=lake) as rec:
        for k in range(6):  # $1.00 each: $6.00 of $10.00 today
            record_inv(rec, "acme", now - dt.timedelta(minutes=5, seconds=k), "support-bot", "gpt-4o",
                       [{"input_tokens": 400_000, "output_tokens": 0}], status="Failed" if k == 0 else None)
        record_inv(rec, "globex", now - dt.timedelta(minutes=5), "etl", "gpt-4o", [{"input_tokens": 10,
                                                                                   "output_tokens": 1}])
    Lake(lake).put("_meta/rules.toml", RULES.encode())
    alerts.check(Warehouse(lake, refresh_interval=0), load_rules(Lake(lake)))
    return lake


def page(lake, monkeypatch, tenant="acme", secrets=None, user=None):
    return app(lake, monkeypatch, page="pages/budgets.py", secrets=secrets, user=user, tenant=tenant)


def test_spend_against_the_limit_alert_state_and_history(lake, monkeypatch):
    at = page(lake, monkeypatch)
    assert at.title[0].value == "Budgets & alerts · acme"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Spent"] == "$6.00" and metrics["Limit"] == "$10.00" and metrics["Runs"] == "6"
    assert metrics["Projected"].startswith("$")
    assert "enforced" in " ".join(m.value for m in at.markdown)
    assert not [e.value for e in at.error]  # 60%: not at the limit
    alerts_table, history = at.dataframe[0].value, at.dataframe[1].value
    row = alerts_table.iloc[0].to_dict()
    assert (row["Alert"], row["State"], row["Value now"], row["Threshold"]) == ("acme errors", "Firing", "1",
                                                                               "above 0")
    assert list(history["Notification"]) == ["[invlog] alert 'acme errors' (acme) firing",
                                             "[invlog] budget 'acme daily' (acme) passed 50.0% of its limit"]
    assert set(history["Delivered"]) == {"no: no notify targets"}
    assert "globex" not in " ".join(str(x) for x in history["Rule"])  # another tenant's rules stay apart


def test_the_local_user_edits_only_this_tenants_rules(lake, monkeypatch):
    at = page(lake, monkeypatch)
    area = at.text_area(key="rules-text")
    assert 'name = "acme daily"' in area.value and "globex" not in area.value
    area.set_value(area.value.replace('limit_usd = "10.00"', 'limit_usd = "6.00"'))
    at.button(key="rules-save").click().run()
    assert not at.exception
    rules = load_rules(Lake(lake))
    assert {b.name: str(b.limit_usd) for b in rules.budgets} == {"acme daily": "6.00", "globex monthly": "900"}
    assert "The limit is reached. New runs of this scope are refused." in [e.value for e in at.error]
    area = at.text_area(key="rules-text")
    area.set_value(area.value + '\n[[budget]]\nname = "x"\ntenant = "globex"\nperiod = "day"\nlimit_usd = "1"\n')
    at.button(key="rules-save").click().run()
    assert any("may only name tenant 'acme', not 'globex'" in e.value for e in at.error)
    assert len(load_rules(Lake(lake)).budgets) == 2  # nothing saved


LOGIN = {"auth": AUTH, "access": {"users": {"alice@example.com": ["acme"], "bob@example.com": ["acme"]},
                                  "admins": {"bob@example.com": ["acme"]}}}


def _user(email, sub):
    return login_user(email=email, sub=sub)


def test_only_the_tenants_admins_see_the_editor(lake, monkeypatch):
    viewer = page(lake, monkeypatch, secrets=LOGIN, user=_user("alice@example.com", "alice-b"))
    assert viewer.title[0].value == "Budgets & alerts · acme" and viewer.metric
    assert not [e for e in viewer.expander if "Edit the rules" in e.label] and not viewer.text_area
    admin = page(lake, monkeypatch, secrets=LOGIN, user=_user("bob@example.com", "bob-b"))
    assert [e for e in admin.expander if e.label == "Edit the rules of acme"] and admin.text_area


def test_a_broken_rules_file_is_a_clear_message(lake, monkeypatch):
    Lake(lake).put("_meta/rules.toml", b'[[budget]]\nname = "b"\ntenant = "acme"\nperiod = "day"\nlimit_usd = 5.0\n')
    at = page(lake, monkeypatch)
    (err,) = [e.value for e in at.error]
    assert "The rules file cannot be used" in err and "limit_usd: expected a decimal string" in err
