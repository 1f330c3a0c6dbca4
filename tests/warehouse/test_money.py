"""warehouse/money.py: the one money format, as tables, charts, the HTML report and alert notifications print it."""

from decimal import Decimal

from invlog.rules.config import Alert, Scope
from warehouse.alerts import shown
from warehouse.money import money

CASES = {"12.346": "$12.35", "0": "$0.00", "0.0035": "$0.0035", "0.000460": "$0.00046",
         "0.0000001": "$0.0000001", "0.00000012345": "$0.00000012", "-0.0024": "-$0.0024",
         "1234.5": "$1,234.50", "-12.5": "-$12.50"}


def test_money_keeps_small_amounts_readable_and_unpriced_never_zero():
    assert {k: money(Decimal(k)) for k in CASES} == CASES
    assert money(None) == "unpriced"
    assert money(0.25) == "$0.25"  # a float (a chart's axis value) prints as the same amount


def test_alert_values_read_as_the_dashboard_prints_them():
    # The checker had its own format: "$1E-7" for a tenth of a microdollar, "$-0.0024" for a negative difference.
    difference = Alert("recon", "acme", Scope(), "reconciliation_difference_usd", 60, Decimal("1"))
    cost = Alert("spend", "acme", Scope(), "cost", 60, Decimal("1"))
    assert shown(difference, Decimal("-0.0024")) == "-$0.0024" and shown(difference, Decimal("-12.5")) == "-$12.50"
    assert shown(cost, Decimal("0.0000001")) == "$0.0000001" and shown(cost, Decimal("1234.5")) == "$1,234.50"
    assert shown(cost, None) == "no data"
