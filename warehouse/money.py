"""The one money format: dashboard tables, charts, the HTML report and budget notifications.

Its own module, with nothing but ``decimal``, so the alert checker (which runs from cron and
imports no Plotly) and the chart builders print an amount the same way: "$1,234.50",
"$0.0035", "$0.00000012", "-$0.0024", and "unpriced" for an unknown cost, never $0.
"""

from __future__ import annotations

from decimal import Decimal


def money(value: Decimal | float | None) -> str:
    """USD with cents; under one cent six decimals, or two significant digits when smaller ("$0.0035",
    "$0.00000012"); a negative amount as "-$0.0024"; ``None`` is "unpriced", never $0."""
    if value is None:
        return "unpriced"
    d = Decimal(str(value))
    sign, d = ("-" if d < 0 else ""), abs(d)
    if d != 0 and d < Decimal("0.01"):  # at least two significant digits: $0.0000001 is not "$0."
        places = max(6, 1 - d.adjusted())
        return f"{sign}${d:.{places}f}".rstrip("0")
    return f"{sign}${d:,.2f}"
