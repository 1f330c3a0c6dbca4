"""Reconciliation: does the cost we recorded match what the provider bills?

``reconcile(wh, report, config, start, end)`` compares, per tenant, UTC day and model, what the lake
recorded of a provider (``reconcile_recorded.sql``) with the provider's own usage and cost reports
(``warehouse.provider_reports``), and classifies each difference:

* ``match``: the same tokens and the same cost;
* ``rounding``: the same tokens, a cost difference of at most ``rounding_usd`` (default $0.01);
* ``price difference``: the same tokens, a larger cost difference (an override, a negotiated price or a
  tier we price differently);
* ``unrecorded usage``: the provider reports more tokens than the lake holds (calls made outside the
  recorder, or with another key mapped to the tenant);
* ``not in provider report``: the lake holds more than the provider reports (the provider's report
  lags, or the key is not mapped to this tenant);
* ``no reported cost``: usage without a cost line to compare with.

Models are matched by family: a trailing date (``gpt-4o-2024-08-06``, ``claude-sonnet-4-20250514``)
is dropped on both sides. Provider keys (OpenAI projects or API keys, Anthropic workspaces or API
keys) map to tenants through a small TOML file (``reconcile.toml``: no secret in it). Each run is
kept in the lake per tenant under ``_meta/tenant=<t>/reconciliation/<provider>/`` for the
Reconciliation page, the trend and the ``reconciliation_difference_usd`` alert metric.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl

from invlog.lake import Lake, validate_tenant
from invlog.lake.layout import meta_path, new_part_id
from warehouse.provider_reports import ProviderReport

ENV_CONFIG = "INVLOG_RECONCILE"
LAKE_CONFIG = "_meta/reconcile.toml"
KEY_KINDS = {"openai": ("project_id", "api_key_id"), "anthropic": ("workspace_id", "api_key_id")}
CLASSES = ("match", "rounding", "price difference", "unrecorded usage", "not in provider report", "no reported cost")
_DATED = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")
_COST = pl.Decimal(38, 12)


def family(model: str | None) -> str:
    return _DATED.sub("", model or "(unknown)")


@dataclass(frozen=True)
class ProviderMap:
    key: str
    tenants: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    providers: dict[str, ProviderMap]
    rounding_usd: Decimal = Decimal("0.01")
    source: str = ""


def parse_config(text: str, source: str = "reconcile.toml") -> Config:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: not valid TOML: {exc}") from None
    providers = {}
    for name in ("openai", "anthropic"):
        table = doc.get(name)
        if table is None:
            continue
        key = table.get("key", KEY_KINDS[name][0])
        if key not in KEY_KINDS[name]:
            raise ValueError(f"{source}: [{name}] key: expected one of {', '.join(KEY_KINDS[name])}, got {key!r}")
        tenants = table.get("tenants", {})
        if not isinstance(tenants, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in tenants.items()):
            raise ValueError(f"{source}: [{name}] tenants: expected a table of \"<{key}>\" = \"<tenant>\"")
        for t in tenants.values():
            try:
                validate_tenant(t)
            except ValueError as exc:
                raise ValueError(f"{source}: [{name}] tenants: {exc}") from None
        providers[name] = ProviderMap(key, dict(tenants))
    try:
        rounding = Decimal(str(doc.get("rounding_usd", "0.01")))
    except InvalidOperation:
        raise ValueError(f"{source}: rounding_usd: expected a decimal string like \"0.01\"") from None
    return Config(providers, rounding, source)


def load_config(lake: Lake, path: str | None = None) -> Config:
    path = path or os.environ.get(ENV_CONFIG)
    if path:
        with open(path, encoding="utf-8") as f:
            return parse_config(f.read(), path)
    if not lake.exists(LAKE_CONFIG):
        raise ValueError(f"no reconciliation config: write {lake.uri(LAKE_CONFIG)} (or give --config) mapping "
                         "provider projects, workspaces or API keys to tenants; see docs/reconciliation.md")
    return parse_config(lake.read(LAKE_CONFIG).decode("utf-8"), lake.uri(LAKE_CONFIG))


def _classify(r: dict[str, Any], rounding: Decimal) -> str:
    if r["recorded_rounds"] == 0 and (r["reported_input_tokens"] or r["reported_output_tokens"]):
        return "unrecorded usage"
    if (r["reported_input_tokens"], r["reported_output_tokens"]) == (0, 0) and r["recorded_rounds"]:
        return "not in provider report"
    if r["reported_input_tokens"] > r["recorded_input_tokens"] or (
            r["reported_output_tokens"] > r["recorded_output_tokens"]):
        return "unrecorded usage"
    if r["reported_input_tokens"] < r["recorded_input_tokens"] or (
            r["reported_output_tokens"] < r["recorded_output_tokens"]):
        return "not in provider report"
    if r["reported_cost_usd"] is None:
        return "no reported cost"
    diff = r["reported_cost_usd"] - r["recorded_cost_usd"]
    if diff == 0:
        return "match"
    return "rounding" if abs(diff) <= rounding else "price difference"


def reconcile(wh: Any, report: ProviderReport, config: Config, start: dt.date, end: dt.date,
              tenant: str | None = None) -> pl.DataFrame:
    """Per tenant, day and model family: recorded and reported tokens and cost, the difference and its class."""
    mapping = config.providers.get(report.provider)
    if mapping is None:
        raise ValueError(f"{config.source}: no [{report.provider}] table mapping its keys to tenants")
    tenants = sorted(set(mapping.tenants.values()) if tenant is None else {validate_tenant(tenant)})
    reported: dict[tuple[str, dt.date, str], dict[str, Any]] = {}

    def slot(t: str, day: dt.date, model: str | None) -> dict[str, Any]:
        return reported.setdefault((t, day, family(model)), {"input": 0, "output": 0, "cache_read": 0,
                                                              "cache_write": 0, "cost": None})

    for u in report.usage:
        t = mapping.tenants.get(u["key"] or "")
        if t in tenants and start <= u["day"] <= end:
            s = slot(t, u["day"], u["model"])
            s["input"] += u["input_tokens"]
            s["output"] += u["output_tokens"]
            s["cache_read"] += u["cache_read_tokens"]
            s["cache_write"] += u["cache_write_tokens"]
    for c in report.costs:
        t = mapping.tenants.get(c["key"] or "") if c["key"] is not None else None
        if t in tenants and start <= c["day"] <= end:
            s = slot(t, c["day"], c["model"])
            s["cost"] = (s["cost"] or Decimal(0)) + c["cost_usd"]
    rows = []
    s0 = dt.datetime.combine(start, dt.time(), dt.UTC)
    e0 = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC)
    for t in tenants:
        rec = wh.reconcile_recorded(t, report.provider, s0, e0)
        recorded: dict[tuple[dt.date, str], dict[str, Any]] = {}
        for r in rec.iter_rows(named=True):
            agg = recorded.setdefault((r["day"], family(r["model"])), {"rounds": 0, "input": 0, "output": 0,
                                                                         "cost": Decimal(0), "unpriced": 0})
            agg["rounds"] += r["rounds"]
            agg["input"] += r["input_tokens"]
            agg["output"] += r["output_tokens"]
            agg["cost"] += r["cost_usd"]
            agg["unpriced"] += r["unpriced_rounds"]
        keys = set(recorded) | {(d, m) for (tt, d, m) in reported if tt == t}
        for day, model in sorted(keys):
            a = recorded.get((day, model), {"rounds": 0, "input": 0, "output": 0, "cost": Decimal(0), "unpriced": 0})
            b = reported.get((t, day, model), {"input": 0, "output": 0, "cost": None})
            row = {"tenant": t, "provider": report.provider, "day": day, "model": model,
                   "recorded_rounds": a["rounds"], "recorded_input_tokens": a["input"],
                   "recorded_output_tokens": a["output"], "recorded_cost_usd": a["cost"],
                   "recorded_unpriced_rounds": a["unpriced"], "reported_input_tokens": b["input"],
                   "reported_output_tokens": b["output"], "reported_cost_usd": b["cost"]}
            row["difference_usd"] = None if b["cost"] is None else b["cost"] - a["cost"]
            row["class"] = _classify(row, config.rounding_usd)
            rows.append(row)
    schema = {"tenant": pl.Utf8, "provider": pl.Utf8, "day": pl.Date, "model": pl.Utf8, "recorded_rounds": pl.Int64,
              "recorded_input_tokens": pl.Int64, "recorded_output_tokens": pl.Int64, "recorded_cost_usd": _COST,
              "recorded_unpriced_rounds": pl.Int64, "reported_input_tokens": pl.Int64,
              "reported_output_tokens": pl.Int64, "reported_cost_usd": _COST, "difference_usd": _COST,
              "class": pl.Utf8}
    return pl.DataFrame(rows, schema=schema, orient="row")


def runs_folder(tenant: str, provider: str) -> str:
    return meta_path(tenant, f"reconciliation/{provider}")


def save_run(lake: Lake, result: pl.DataFrame, start: dt.date, end: dt.date,
             now: dt.datetime | None = None) -> list[str]:
    """Keep each tenant's rows of a run in the lake; returns the objects written."""
    now = now or dt.datetime.now(dt.UTC)
    written = []
    for (tenant, provider), part in result.partition_by("tenant", "provider", as_dict=True).items():
        run_id = new_part_id()
        buf = io.BytesIO()
        part.with_columns(pl.lit(run_id).alias("run_id"), pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("run_at"),
                          pl.lit(start).alias("period_start"), pl.lit(end).alias("period_end")).write_parquet(buf)
        rel = f"{runs_folder(str(tenant), str(provider))}/{run_id}.parquet"
        lake.put(rel, buf.getvalue())
        written.append(rel)
    return written


def load_runs(lake: Lake, tenant: str) -> pl.DataFrame:
    """Every kept run of a tenant (all providers), oldest first; an empty frame if none."""
    frames = []
    for provider in ("openai", "anthropic"):
        folder = runs_folder(tenant, provider)
        for name in sorted(lake.names(folder)) if lake.exists(folder) else []:
            if name.endswith(".parquet"):
                frames.append(pl.read_parquet(io.BytesIO(lake.read(f"{folder}/{name}"))))
    return pl.concat(frames, how="vertical_relaxed").sort("run_at") if frames else pl.DataFrame()


def latest_per_day(runs: pl.DataFrame) -> pl.DataFrame:
    """For the trend: each provider's day as its newest run saw it."""
    if runs.height == 0:
        return runs
    newest = runs.group_by("provider", "day").agg(pl.col("run_at").max().alias("_newest"))
    return (runs.join(newest, on=["provider", "day"]).filter(pl.col("run_at") == pl.col("_newest"))
            .drop("_newest").sort("day", "provider", "model"))
