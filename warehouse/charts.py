"""Pure chart builders: a Polars frame in, a Plotly figure out. No I/O, no Streamlit.

Shared by the dashboard pages and the HTML spend report, so a chart looks the same
in both. Money is printed by ``warehouse.money`` (the one format, alerts too). Unknown cost
is a state, never a value: an unpriced agent has no bar (its label says unpriced), an
unpriced model no slice (the chart says how many runs it leaves out), and a period
whose runs are all unpriced has no point rather than a $0 one.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from warehouse.money import money

TEMPLATE = "plotly_white"
# One colour per name (agent, model, ...) on every chart of every page and of the HTML report: chosen from
# the name itself, not from its position in a chart, so "support-bot" is the same colour everywhere.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
           "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1",
           "#636363", "#6baed6", "#fd8d3c", "#74c476", "#9e9ac8", "#969696")


def colours(names: list[object]) -> dict[str, str]:
    """A colour for each name: its own slot of the palette (from the name, so the same on every chart that
    shows the same names), or the next free one when two names of the chart would share it."""
    import zlib

    taken: dict[int, str] = {}
    out: dict[str, str] = {}
    for name in sorted({str(n) for n in names}):
        slot = zlib.crc32(name.encode()) % len(PALETTE)
        for _ in range(len(PALETTE)):
            if slot not in taken:
                break
            slot = (slot + 1) % len(PALETTE)
        taken[slot] = name
        out[name] = PALETTE[slot]
    return out


def _money_axis(fig: go.Figure) -> go.Figure:
    fig.update_yaxes(tickprefix="$", tickformat=",.4~f", rangemode="tozero")
    fig.update_layout(template=TEMPLATE, margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend_title_text="")
    return fig


def cost_trend_figure(df: pl.DataFrame, *, kind: str = "area", cumulative: bool = False,
                      title: str = "Cost") -> go.Figure:
    """Stacked area or bars of cost per period, one trace per split value."""
    fig = go.Figure()
    splits = df["split"].unique(maintain_order=True).to_list() if df.height else []
    colour = colours(splits).__getitem__
    for split in splits:
        part = df.filter(pl.col("split") == split).sort("period")
        y = part["cost_usd"].cast(pl.Float64)  # null (all runs unpriced) stays a gap, not $0
        if cumulative:
            y = y.fill_null(0).cum_sum()  # a running total of known cost; unpriced runs add nothing known
        if kind == "bar":
            fig.add_bar(x=part["period"].to_list(), y=y.to_list(), name=str(split), marker_color=colour(str(split)))
        else:
            fig.add_scatter(x=part["period"].to_list(), y=y.to_list(), name=str(split), mode="lines",
                            stackgroup="cost", line={"width": 1, "color": colour(str(split))})
    if kind == "bar":
        fig.update_layout(barmode="stack")
    fig.update_layout(title=title)
    if df.height and all(t.hour == 0 and t.minute == 0 for t in df["period"].to_list()):
        fig.update_xaxes(tickformat="%b %d, %Y", hoverformat="%Y-%m-%d")  # days, weeks, months: no midnight
    return _money_axis(fig)


def agents_bar_figure(df: pl.DataFrame, title: str = "Cost by agent") -> go.Figure:
    """Horizontal bars of each agent's cost, labelled with cost and runs; unpriced agents get no bar."""
    data = df.sort("total_cost_usd", nulls_last=False) if df.height else df
    rows = list(data.iter_rows(named=True))
    labels, texts = [], []
    for r in rows:
        unpriced = r.get("unpriced_runs") or 0
        if r["total_cost_usd"] is None:
            labels.append(f"{r['agent']} (unpriced)")
            texts.append(f"unpriced · {r['runs']:,} runs")
        else:
            labels.append(str(r["agent"]))
            extra = f", {unpriced:,} unpriced" if unpriced else ""
            texts.append(f"{money(r['total_cost_usd'])} · {r['runs']:,} runs{extra}")
    fig = go.Figure(go.Bar(x=[None if r["total_cost_usd"] is None else float(r["total_cost_usd"]) for r in rows],
                           y=labels, orientation="h", text=texts, textposition="auto", hovertext=texts,
                           marker_color=[colours([x["agent"] for x in rows])[str(r["agent"])] for r in rows]))
    for label, text, r in zip(labels, texts, rows, strict=True):
        if r["total_cost_usd"] is None:  # no bar, so Plotly draws no bar text: say it at the axis instead
            fig.add_annotation(x=0, y=label, text=text, xanchor="left", showarrow=False, font={"color": "#6b7280"})
    fig.update_layout(title=title, template=TEMPLATE, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    fig.update_xaxes(tickprefix="$", tickformat=",.4~f")
    return fig


def breakdown_pie_figure(df: pl.DataFrame, title: str) -> go.Figure:
    """Each key's share of the known cost; keys with no known cost are left out and counted."""
    data = df.filter(pl.col("cost_usd").is_not_null()) if df.height else df
    keys = [str(k) for k in data["key"].to_list()] if df.height else []
    fig = go.Figure(go.Pie(labels=keys, values=data["cost_usd"].cast(pl.Float64).to_list() if df.height else [],
                           hole=0.45, marker={"colors": [colours(keys)[k] for k in keys]}, sort=False))
    unpriced = int(df["unpriced_runs"].sum()) if df.height and "unpriced_runs" in df.columns else 0
    if unpriced:
        fig.add_annotation(text=f"{unpriced:,} unpriced runs not shown (no known cost)", showarrow=False,
                           x=0.5, y=-0.12, xref="paper", yref="paper")
    fig.update_layout(title=title, template=TEMPLATE, margin={"l": 10, "r": 10, "t": 40, "b": 30})
    return fig


def activity_figure(df: pl.DataFrame, title: str = "Runs and error rate per day") -> go.Figure:
    """Per day (``Warehouse.daily_activity``): runs as bars, the error rate as a line on its own axis (a day
    without runs has no point)."""
    fig = go.Figure()
    if df.height:
        days = df["day"].to_list()
        fig.add_bar(x=days, y=df["runs"].to_list(), name="runs", marker_color="#9ecae1")
        fig.add_scatter(x=days, y=df["error_rate"].to_list(), name="error rate", yaxis="y2", mode="lines+markers",
                        line={"color": "#d62728"}, connectgaps=False)
    fig.update_layout(title=title, template=TEMPLATE, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      yaxis={"title": "runs", "tickformat": ",d", "rangemode": "tozero"},
                      yaxis2={"title": "error rate", "overlaying": "y", "side": "right", "tickformat": ".0%",
                              "rangemode": "tozero", "showgrid": False}, legend={"orientation": "h", "y": -0.2})
    fig.update_xaxes(tickformat="%b %d")
    return fig


def sparkline_figure(df: pl.DataFrame) -> go.Figure:
    fig = go.Figure(go.Scatter(x=df["period"].to_list() if df.height else [],
                               y=df["cost_usd"].cast(pl.Float64).fill_null(0).to_list() if df.height else [],
                               mode="lines", fill="tozeroy", line={"width": 2}))
    fig.update_layout(template=TEMPLATE, height=120, margin={"l": 0, "r": 0, "t": 0, "b": 0}, showlegend=False)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def timeline_figure(rounds: pl.DataFrame) -> go.Figure:
    """A trace as a Gantt chart: each round's model call, and under it the tool calls it asked for, with
    their names and durations (tools recorded before their timings were kept are listed without a bar)."""
    import datetime as dt
    import json

    fig = go.Figure()
    labels: list[str] = []
    for r in rounds.iter_rows(named=True):
        start, end = r["started_at"], r["ended_at"]
        label = f"round {r['round_index']} · {r['model']}"
        labels.append(label)
        fig.add_bar(base=[start], x=[max((end - start).total_seconds() * 1000, 1)], y=[label], orientation="h",
                    showlegend=False, marker_color="#d62728" if r["status"] != "Success" else "#1f77b4",
                    hovertext=f"model call · {r['model']} · {r['status']} · {r['latency_ms']:,.0f} ms",
                    hoverinfo="text", text=f"{r['latency_ms']:,.0f} ms", textposition="inside")
        try:
            calls = json.loads(r["tool_calls"]) if r.get("tool_calls") else []
        except ValueError:
            calls = []
        for i, c in enumerate(calls if isinstance(calls, list) else []):
            name = f"   ↳ {c.get('name', 'tool')}" + (" (error)" if c.get("error") else "")
            name += " " * i  # one row per call, even when a tool is called twice
            labels.append(name)
            if c.get("started_us") is None or c.get("duration_us") is None:
                fig.add_bar(base=[end], x=[0], y=[name], orientation="h", showlegend=False,
                            hovertext=f"tool {c.get('name')} · duration not recorded", hoverinfo="text")
                continue
            t0 = start + dt.timedelta(microseconds=int(c["started_us"]))
            took = int(c["duration_us"]) / 1000
            fig.add_bar(base=[t0], x=[max(took, 1)], y=[name], orientation="h", showlegend=False,
                        marker_color="#d62728" if c.get("error") else "#ff7f0e",
                        hovertext=f"tool {c.get('name')} · {took:,.0f} ms", hoverinfo="text",
                        text=f"{took:,.0f} ms", textposition="outside")
    fig.update_layout(template=TEMPLATE, height=90 + 28 * max(len(labels), 1), barmode="overlay",
                      margin={"l": 10, "r": 10, "t": 10, "b": 10}, xaxis_type="date")
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=labels)
    return fig


def cache_savings_figure(by_day: pl.DataFrame, title: str = "Prompt caching per day") -> go.Figure:
    """Per day (``Warehouse.cache_economics(group_by="day")``): what reads saved (up), what writes cost above
    input (down), and the net as a line."""
    fig = go.Figure()
    if by_day.height:
        days = by_day["day"].to_list()
        fig.add_bar(x=days, y=by_day["savings_usd"].cast(pl.Float64).to_list(), name="saved by reads",
                    marker_color="#12b76a")
        fig.add_bar(x=days, y=(-by_day["write_premium_usd"].cast(pl.Float64)).to_list(),
                    name="write premium", marker_color="#f04438")
        fig.add_scatter(x=days, y=by_day["net_usd"].cast(pl.Float64).to_list(), name="net", mode="lines+markers",
                        line={"color": "#1d2433"})
    fig.update_layout(barmode="relative", title=title)
    fig.update_xaxes(tickformat="%Y-%m-%d")
    _money_axis(fig)
    fig.update_yaxes(rangemode="normal")
    return fig


def reconciliation_figure(rows: pl.DataFrame, title: str = "Reported minus recorded cost per day") -> go.Figure:
    """Per day and provider (``warehouse.reconcile.latest_per_day``): the provider's cost minus ours; a day
    without a reported cost has no bar (never a $0 one)."""
    fig = go.Figure()
    if rows.height:
        per = (rows.filter(pl.col("difference_usd").is_not_null())
               .group_by("day", "provider").agg(pl.col("difference_usd").sum()).sort("day"))
        for provider in per["provider"].unique(maintain_order=True).to_list():
            part = per.filter(pl.col("provider") == provider)
            fig.add_bar(x=part["day"].to_list(), y=part["difference_usd"].cast(pl.Float64).to_list(), name=provider)
    fig.update_layout(title=title, barmode="group")
    fig.update_xaxes(tickformat="%Y-%m-%d")
    _money_axis(fig)
    fig.update_yaxes(rangemode="normal")
    return fig
