"""The rules file (invlog.rules.config): what it accepts, and errors that name the rule and the field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from invlog.lake import Lake
from invlog.rules import RulesError, load_rules, parse_rules, window
from invlog.rules.config import resolve_target

GOOD = """
[[budget]]
name = "acme daily"
tenant = "acme"
agent = "support-bot"
period = "day"
limit_usd = "5.00"
warn_at = [0.5, 0.8]
enforce = true
notify = ["env:ACME_HOOK", "secret:oncall"]

[[budget]]
name = "rolling"
tenant = "acme"
hours = 6
limit_usd = 20

[[alert]]
name = "support errors"
tenant = "acme"
metric = "error_rate"
window_minutes = 60
above = 0.05
min_runs = 20
notify = ["env:ONCALL"]
"""


def test_a_good_file_reads_exactly():
    rules = parse_rules(GOOD)
    daily, rolling = rules.budgets
    assert daily.limit_usd == Decimal("5.00") and daily.enforce and daily.scope.agent == "support-bot"
    assert daily.thresholds == (Decimal("0.5"), Decimal("0.8"), Decimal(1))
    assert daily.notify == ("env:ACME_HOOK", "secret:oncall")
    assert rolling.hours == 6 and rolling.period is None and rolling.limit_usd == Decimal(20) and not rolling.enforce
    (alert,) = rules.alerts
    assert (alert.metric, alert.window_minutes, alert.above, alert.min_runs) == ("error_rate", 60, Decimal("0.05"), 20)
    assert rules.tenants == ("acme",)


@pytest.mark.parametrize(("text", "message"), [
    ('[[budget]]\nname="b"\ntenant="acme"\nperiod="day"\nlimit_usd=5.0',
     "budget 'b': limit_usd: expected a decimal string like \"5.00\" (money is exact"),
    ('[[budget]]\nname="b"\ntenant="acme"\nperiod="year"\nlimit_usd="5"', "budget 'b': period: expected one of"),
    ('[[budget]]\nname="b"\ntenant="acme"\nlimit_usd="5"', "budget 'b': period: give exactly one of"),
    ('[[budget]]\nname="b"\ntenant="acme"\nperiod="day"\nhours=3\nlimit_usd="5"', "budget 'b': period: give exactly"),
    ('[[budget]]\nname="b"\ntenant="acme"\nperiod="day"\nlimit_usd="0"', "budget 'b': limit_usd: must be more than 0"),
    ('[[budget]]\nname="b"\ntenant="acme"\nperiod="day"\nlimit_usd="5"\nwarn_at=[0.8, 0.5]',
     "budget 'b': warn_at: expected increasing fractions"),
    ('[[budget]]\nname="b"\ntenant="acme"\nperiod="day"\nlimit_usd="5"\nwarn_at=[1.5]', "budget 'b': warn_at: each"),
    ('[[budget]]\nname="b"\ntenant="../x"\nperiod="day"\nlimit_usd="5"', "budget 'b': tenant: invalid tenant id"),
    ('[[budget]]\nname="b"\ntenant="acme"\nperiod="day"\nlimit_usd="5"\nlimt="x"', "budget 'b': unknown field(s) limt"),
    ('[[budget]]\ntenant="acme"\nperiod="day"\nlimit_usd="5"', "budget #1: name: expected a non-empty string"),
    ('[[budget]]\nname="b"\ntenant="acme"\nperiod="day"\nlimit_usd="5"\nenforce="yes"', "budget 'b': enforce:"),
    ('[[alert]]\nname="a"\ntenant="acme"\nmetric="latency"\nwindow_minutes=5\nabove=1', "alert 'a': metric: expected"),
    ('[[alert]]\nname="a"\ntenant="acme"\nmetric="error_rate"\nwindow_minutes=5\nabove=5',
     "alert 'a': above: an error"),
    ('[[alert]]\nname="a"\ntenant="acme"\nmetric="runs"\nwindow_minutes=0\nabove=5', "alert 'a': window_minutes:"),
    ('[[alert]]\nname="a"\ntenant="acme"\nmetric="cost"\nwindow_minutes=5\nabove=0.5', "alert 'a': above: expected a "
     "decimal string"),
    ('[[alert]]\nname="a"\ntenant="acme"\nmetric="runs"\nwindow_minutes=5\nabove=1\nnotify=["hooks.example"]',
     "alert 'a': notify: 'hooks.example' is neither env:NAME, secret:NAME nor an apprise URL"),
    ('[[alert]]\nname="a"\ntenant="acme"\nmetric="runs"\nwindow_minutes=5\nabove=1\n'
     '[[alert]]\nname="a"\ntenant="acme"\nmetric="errors"\nwindow_minutes=5\nabove=1', "alert 'a': name: used twice"),
    ("[[budget]\n", "not valid TOML"),
    ('[limits]\nx=1', "unknown section(s) limits"),
])
def test_mistakes_name_the_rule_and_the_field(text, message):
    with pytest.raises(RulesError) as err:
        parse_rules(text, source="rules.toml")
    assert str(err.value).startswith("rules.toml: ") and message in str(err.value), str(err.value)


def test_a_literal_url_is_refused_in_the_lake_and_never_echoed(tmp_path):
    text = '[[budget]]\nname="b"\ntenant="acme"\nperiod="day"\nlimit_usd="5"\nnotify=["slack://T0K3N/B1/C2"]'
    with pytest.raises(RulesError) as err:
        parse_rules(text, in_lake=True)
    assert "name them instead: env:NAME" in str(err.value) and "T0K3N" not in str(err.value)
    assert parse_rules(text, in_lake=False).budgets[0].notify == ("slack://T0K3N/B1/C2",)
    # The lake's own file is "in the lake"; a file elsewhere (INVLOG_RULES) may hold URLs.
    lake = Lake(str(tmp_path / "lake"))
    lake.put("_meta/rules.toml", text.encode())
    with pytest.raises(RulesError, match="a literal URL"):
        load_rules(lake)
    outside = tmp_path / "rules.toml"
    outside.write_text(text)
    assert load_rules(lake, outside).budgets[0].notify == ("slack://T0K3N/B1/C2",)
    inside = tmp_path / "lake" / "mine.toml"
    inside.write_text(text)
    with pytest.raises(RulesError, match="a literal URL"):
        load_rules(lake, inside)


def test_no_rules_file_means_no_rules(tmp_path, monkeypatch):
    monkeypatch.delenv("INVLOG_RULES", raising=False)
    rules = load_rules(Lake(str(tmp_path)))
    assert rules.budgets == () and rules.alerts == () and rules.source.endswith("_meta/rules.toml")
    monkeypatch.setenv("INVLOG_RULES", str(tmp_path / "missing.toml"))
    with pytest.raises(RulesError, match=r"INVLOG_RULES=.*missing\.toml: no such file"):
        load_rules(Lake(str(tmp_path)))


def test_targets_resolve_from_the_environment_and_the_secrets_file(tmp_path, monkeypatch):
    monkeypatch.setenv("ACME_HOOK", "json://127.0.0.1:1/acme")
    assert resolve_target("env:ACME_HOOK") == "json://127.0.0.1:1/acme"
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[notify]\noncall = "json://127.0.0.1:2/oncall"\n')
    assert resolve_target("secret:oncall", str(secrets)) == "json://127.0.0.1:2/oncall"
    with pytest.raises(RulesError, match="environment variable NOPE is not set"):
        resolve_target("env:NOPE")
    with pytest.raises(RulesError, match="has no \\[notify\\] key 'other'"):
        resolve_target("secret:other", str(secrets))
    monkeypatch.delenv("INVLOG_SECRETS", raising=False)
    with pytest.raises(RulesError, match="no secrets file"):
        resolve_target("secret:oncall")


def test_windows_are_utc_calendar_periods_or_rolling_hours():
    now = dt.datetime(2026, 12, 31, 17, 30, tzinfo=dt.UTC)  # a Thursday
    day, week, month = (window(p, None, now) for p in ("day", "week", "month"))
    assert (day.start, day.end) == (dt.datetime(2026, 12, 31, tzinfo=dt.UTC), dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    assert (week.start, week.end) == (dt.datetime(2026, 12, 28, tzinfo=dt.UTC), dt.datetime(2027, 1, 4, tzinfo=dt.UTC))
    assert (month.start, month.end) == (dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
                                        dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    rolling = window(None, 6, now)
    assert rolling.rolling and rolling.start == dt.datetime(2026, 12, 31, 11, 30, tzinfo=dt.UTC)


def test_the_documented_example_is_a_valid_rules_file():
    import re

    from tests.support import ROOT

    with open(f"{ROOT}/docs/budgets.md", encoding="utf-8") as f:
        example = re.search(r"```toml\n(.*?)```", f.read(), re.S).group(1)
    rules = parse_rules(example, in_lake=True)
    assert [b.name for b in rules.budgets] == ["acme daily"] and [a.name for a in rules.alerts] == ["support errors"]
    assert rules.budgets[0].enforce and rules.budgets[0].limit_usd == Decimal("5.00")


SHARED = """# the team's rules
[[budget]]
name = "acme daily"   # set with finance
tenant = "acme"
period = "day"
limit_usd = "5.00"

[[budget]]
name = "globex monthly"
tenant = "globex"
period = "month"
limit_usd = "900"

[[alert]]
name = "acme errors"
tenant = "acme"
metric = "errors"
window_minutes = 60
above = 3
"""


def test_an_admin_edit_replaces_only_that_tenants_rules_and_keeps_the_rest_as_written():
    from invlog.rules.edit import replace_tenant, tenant_text

    mine = tenant_text(SHARED, "acme")
    assert "acme daily" in mine and "acme errors" in mine and "globex" not in mine
    edited = mine.replace('limit_usd = "5.00"', 'limit_usd = "7.50"')
    out = replace_tenant(SHARED, "acme", edited)
    rules = parse_rules(out)
    assert {b.name: b.limit_usd for b in rules.budgets} == {"acme daily": Decimal("7.50"),
                                                           "globex monthly": Decimal(900)}
    assert "# the team's rules" in out and 'limit_usd = "900"' in out  # the rest of the file as written
    assert [a.name for a in parse_rules(replace_tenant(SHARED, "acme", "")).alerts] == []  # removing is editing too
    assert [b.name for b in parse_rules(replace_tenant(SHARED, "acme", "")).budgets] == ["globex monthly"]


@pytest.mark.parametrize(("edited", "message"), [
    ('[[budget]]\nname="mine"\ntenant="globex"\nperiod="day"\nlimit_usd="1"', "may only name tenant 'acme', not "
     "'globex'"),
    ('[[budget]]\nname="mine"\ntenant="acme"\nperiod="day"\nlimit_usd=1.5', "limit_usd: expected a decimal string"),
    ('[[budget]]\nname="mine"\ntenant="acme"\nperiod="day"\nlimit_usd="1"\nnotify=["slack://tok/x"]',
     "a literal URL"),
])
def test_an_admin_edit_cannot_touch_another_tenant_or_break_the_file(edited, message):
    from invlog.rules.edit import replace_tenant

    with pytest.raises(RulesError, match=message):
        replace_tenant(SHARED, "acme", edited)
