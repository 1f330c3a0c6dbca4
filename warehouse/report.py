"""Per-tenant spend reports as CSV, Parquet or one self-contained HTML file.

The HTML embeds Plotly's JavaScript once and every chart inline, so it opens
offline and can be sent to a customer or to accounting. The script is Plotly's
official "basic" partial bundle (bar, pie, scatter: what the charts use), vendored
in ``warehouse/assets`` at the plotly.js version the Python package was built
for; it is a quarter of the full bundle's 4.8 MB. It states the period,
the totals, the breakdowns, the unpriced usage (never counted as $0), the
month-to-date and projected spend when the period includes today, and when and
from what it was generated.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from decimal import Decimal
from functools import cache
from importlib import resources

import polars as pl

from warehouse.charts import breakdown_pie_figure, cost_trend_figure
from warehouse.core import SpendReport
from warehouse.money import money


def tidy(report: SpendReport) -> pl.DataFrame:
    """One row per breakdown entry (dimension, key, runs, cost, unpriced runs, tokens), then a ``total`` row;
    every row names the tenant and the period, so the file stands alone when it is forwarded."""
    frames = []
    for dim, df in (("agent", report.by_agent), ("model", report.by_model), ("user", report.by_user),
                    ("day", report.by_day)):
        frames.append(df.with_columns(pl.col("key").cast(pl.Utf8), pl.lit(dim).alias("dimension")))
    out = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
    cols = ["dimension", "key", "runs", "cost_usd", "unpriced_runs", "input_tokens", "output_tokens"]
    out = out.select(cols)
    by_agent = report.by_agent
    total = pl.DataFrame({"dimension": ["total"], "key": ["all"], "runs": [report.runs],
                          "cost_usd": [report.total_cost_usd], "unpriced_runs": [report.unpriced_runs],
                          "input_tokens": [by_agent["input_tokens"].sum() if by_agent.height else 0],
                          "output_tokens": [by_agent["output_tokens"].sum() if by_agent.height else 0]})
    out = pl.concat([out, total.cast(dict(out.schema))], how="vertical_relaxed")
    end = report.end - dt.timedelta(microseconds=1)
    return out.with_columns(pl.lit(report.tenant).alias("tenant"),
                            pl.lit(report.start.date().isoformat()).alias("period_start"),
                            pl.lit(end.date().isoformat()).alias("period_end"))


def to_csv(report: SpendReport) -> bytes:
    df = tidy(report).with_columns(pl.col("cost_usd").cast(pl.Utf8))  # exact decimals as text
    return df.write_csv().encode()


def to_parquet(report: SpendReport) -> bytes:
    buf = io.BytesIO()
    tidy(report).write_parquet(buf)
    return buf.getvalue()


def _table(df: pl.DataFrame, label: str) -> str:
    if df.height == 0:
        return "<p class='muted'>No data.</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in (label, "runs", "cost", "unpriced runs", "tokens in",
                                                            "tokens out"))
    body = "".join(
        f"<tr><td>{html.escape(str(r['key']))}</td><td>{r['runs']:,}</td><td>{money(r['cost_usd'])}</td>"
        f"<td>{r['unpriced_runs']:,}</td><td>{int(r['input_tokens'] or 0):,}</td>"
        f"<td>{int(r['output_tokens'] or 0):,}</td></tr>" for r in df.iter_rows(named=True))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def caching_html(df: pl.DataFrame | None) -> str:
    """The report's prompt-caching section: per agent, what reads saved, what writes cost above input,
    the net and the writes never read back, and the period's cost without caching."""
    from warehouse.caching import READ_BACK_RULE

    if df is None or df.height == 0 or not (df["cache_read_tokens"].sum() or df["cache_write_tokens"].sum()):
        return "<p class='muted'>No call in this period read from or wrote to a prompt cache.</p>"
    head = "".join(f"<th>{h}</th>" for h in ("agent", "cache reads", "cache writes", "saved", "write premium", "net",
                                              "writes never read back*", "without caching"))
    body = "".join(
        f"<tr><td>{html.escape(str(r['agent']))}</td><td>{r['cache_read_tokens']:,}</td>"
        f"<td>{r['cache_write_tokens']:,}</td><td>{money(r['savings_usd'])}</td><td>{money(r['write_premium_usd'])}"
        f"</td><td>{signed(r['net_usd'])}</td><td>{r['wasted_write_tokens']:,}</td>"
        f"<td>{money(r['uncached_cost_usd'])}</td></tr>" for r in df.iter_rows(named=True))
    cost, uncached = df["cost_usd"].sum(), df["uncached_cost_usd"].sum()
    return (f"<p>Without prompt caching this period would have cost <b>{money(uncached)}</b> instead of "
            f"{money(cost)} (priced runs).</p><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"<p class='muted'>* Derived, not reported: provider usage carries no cache key, so "
            f"{html.escape(READ_BACK_RULE)}.</p>")


PLOTLY_BUNDLE = "plotly-basic.min.js"
CHART_TYPES = frozenset({"bar", "pie", "scatter"})  # the trace types the basic bundle draws


@cache
def plotly_script() -> str:
    """Plotly's basic bundle, read once from the package (a test checks its version is the Python package's)."""
    return resources.files("warehouse").joinpath("assets", PLOTLY_BUNDLE).read_text(encoding="utf-8")


def to_html(report: SpendReport, trend: pl.DataFrame) -> bytes:
    """The self-contained HTML report; ``trend`` is ``cost_trend(..., split_by="agent")`` for the period.

    It is shared with customers and accounting, so it names no server detail (no lake path).
    """
    charts = [cost_trend_figure(trend, kind="bar", title="Daily cost by agent"),
              breakdown_pie_figure(report.by_model, "Cost by model")]
    if unknown := {t.type for fig in charts for t in fig.data} - CHART_TYPES:
        raise ValueError(f"chart types {sorted(unknown)} are not in Plotly's basic bundle")
    chart_html = "".join(fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
                         for fig in charts)
    unpriced = report.unpriced
    unpriced_html = "<p class='muted'>All usage in this period was priced.</p>" if unpriced.height == 0 else (
        "<table><thead><tr><th>model</th><th>provider</th><th>reason</th><th>rounds</th><th>runs</th>"
        "<th>tokens in</th><th>tokens out</th></tr></thead><tbody>" + "".join(
            f"<tr><td>{html.escape(r['model'])}</td><td>{html.escape(r['provider'])}</td>"
            f"<td>{html.escape(r['reason'].replace('_', ' '))}</td><td>{r['rounds']:,}</td>"
            f"<td>{r['invocations']:,}</td><td>{r['input_tokens']:,}</td><td>{r['output_tokens']:,}</td></tr>"
            for r in unpriced.iter_rows(named=True)) + "</tbody></table>")
    mtd = ""
    if report.month_to_date_usd is not None:
        mtd = (f"<div class='kpi'><span>Month to date</span><b>{money(report.month_to_date_usd)}</b></div>"
               f"<div class='kpi'><span>Projected month end</span><b>{money(report.projected_month_usd)}</b></div>")
    notes = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in report.notes)
    method = f"<p class='muted'>Projection: {html.escape(report.projection_method)}.</p>" if (
        report.projection_method) else ""
    end_incl = report.end.strftime("%Y-%m-%d %H:%M")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Spend report · {html.escape(report.tenant)}</title>
<style>
body{{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2433}}
h1{{margin-bottom:.2rem}} .muted{{color:#667085}} .note{{background:#fff7e6;padding:.6rem;border-radius:6px}}
.kpis{{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}}
.kpi{{border:1px solid #e4e7ec;border-radius:8px;padding:.8rem 1.2rem;min-width:160px}}
.kpi span{{display:block;color:#667085;font-size:.85rem}} .kpi b{{font-size:1.4rem}}
table{{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}}
th,td{{border-bottom:1px solid #e4e7ec;padding:.35rem .5rem;text-align:right}}
th:first-child,td:first-child{{text-align:left}}
</style><script>{plotly_script()}</script></head><body>
<h1>Spend report: {html.escape(report.tenant)}</h1>
<p class="muted">Period {report.start:%Y-%m-%d %H:%M} to {end_incl} UTC (end exclusive) ·
generated {report.generated_at:%Y-%m-%d %H:%M} UTC by Invocation Logs</p>
<div class="kpis">
<div class="kpi"><span>Total spend</span><b>{money(report.total_cost_usd)}</b></div>
<div class="kpi"><span>Runs</span><b>{report.runs:,}</b></div>
<div class="kpi"><span>Unpriced runs</span><b>{report.unpriced_runs:,}</b></div>{mtd}
</div>{method}{notes}
{chart_html}
<h2>By agent</h2>{_table(report.by_agent, "agent")}
<h2>By model</h2>{_table(report.by_model, "model")}
<h2>By user</h2>{_table(report.by_user, "user")}
<h2>By day</h2>{_table(report.by_day, "day")}
<h2>Unpriced usage</h2>{unpriced_html}
<h2>Prompt caching</h2>{caching_html(report.caching)}
<p class="muted">Costs are exact decimals in USD: each round's billed usage priced with genai-prices' data (or the
tenant's negotiated prices) at the instant and service tier of the request. Unpriced usage is listed apart, with
its reason, and is not part of the total.</p>
</body></html>"""
    return page.encode()


def restatement(diff: pl.DataFrame, fmt: str, *, tenant: str, start: object, end: object, basis: str) -> bytes:
    """``warehouse.reprice.difference`` as CSV (exact decimals as text), Parquet or HTML."""
    if fmt == "csv":
        return diff.with_columns(pl.col(c).cast(pl.Utf8) for c in (
            "recorded_cost_usd", "restated_cost_usd", "difference_usd")).write_csv().encode()
    if fmt == "parquet":
        buf = io.BytesIO()
        diff.write_parquet(buf)
        return buf.getvalue()
    head = "".join(f"<th>{h}</th>" for h in ("day", "provider", "model", "rounds", "recorded", "restated",
                                              "difference", "unpriced (recorded)", "unpriced (restated)"))
    body = "".join(
        f"<tr><td>{html.escape(str(r['day']))}</td><td>{html.escape(r['provider'] or '')}</td>"
        f"<td>{html.escape(r['model'] or '')}</td><td>{r['rounds']:,}</td><td>{money(r['recorded_cost_usd'])}</td>"
        f"<td>{money(r['restated_cost_usd'])}</td><td>{signed(r['difference_usd'])}</td>"
        f"<td>{r['recorded_unpriced_rounds']:,}</td><td>{r['restated_unpriced_rounds']:,}</td></tr>"
        for r in diff.iter_rows(named=True))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Restatement · {html.escape(tenant)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2433}}
table{{border-collapse:collapse;width:100%}} th,td{{border-bottom:1px solid #e4e7ec;padding:.35rem .5rem;
text-align:right}} th:nth-child(-n+3),td:nth-child(-n+3){{text-align:left}} .muted{{color:#667085}}</style>
</head><body><h1>Restatement: {html.escape(tenant)}</h1>
<p class="muted">{start} to {end} (inclusive) · restated with {html.escape(basis)} · recorded costs are
unchanged in the lake · unpriced rounds are counted apart, never as $0</p>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>""".encode()


def signed(value: Decimal | float | None) -> str:
    """A money difference with its sign ("+$0.12", "-$3.00", "$0.00")."""
    if value is None:
        return "unpriced"
    d = Decimal(str(value))
    return money(d) if d == 0 else ("+" if d > 0 else "-") + money(abs(d))
