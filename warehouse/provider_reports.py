"""The providers' own usage and cost reports, read through their admin APIs and normalised per day.

OpenAI: ``/v1/organization/usage/completions`` and ``/v1/organization/costs``; Anthropic:
``/v1/organizations/usage_report/messages`` and ``/v1/organizations/cost_report``. Requests go
through the providers' SDKs (``openai``, ``anthropic``: pip install 'invocation-logs[providers]'),
which send the admin key, retry on 429 and 5xx with backoff (honouring ``Retry-After``); this module
follows the ``next_page`` pagination and shows progress. Bodies are parsed with exact decimals
(``parse_float=Decimal``), so a cost is the digits the provider sent.

The admin key comes from the environment (``OPENAI_ADMIN_KEY``, ``ANTHROPIC_ADMIN_KEY``) and is
handed to the SDK only: never stored, never printed. Every row is normalised to the lake's token
convention (input counts cached and cache-write tokens) and keyed by day (UTC), the provider's
grouping key (project, workspace or API key) and model; costs are in USD.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

KEY_ENV = {"openai": "OPENAI_ADMIN_KEY", "anthropic": "ANTHROPIC_ADMIN_KEY"}
PAGE_LIMIT = 31  # daily buckets per page (the APIs' maximum for 1d buckets)


class ReportError(RuntimeError):
    """The provider's admin API could not be read (no key, refused, malformed answer)."""


@dataclass(frozen=True)
class ProviderReport:
    """Per day, key and model: ``usage`` rows (tokens, requests) and ``costs`` rows (USD)."""

    provider: str
    key_kind: str  # project_id | api_key_id | workspace_id
    usage: list[dict[str, Any]]
    costs: list[dict[str, Any]]
    pages: int


def admin_key(provider: str) -> str:
    key = os.environ.get(KEY_ENV[provider])
    if not key:
        raise ReportError(f"set {KEY_ENV[provider]} to an admin key of your {provider} organization (it is read from "
                          "the environment only and never stored)")
    return key


def _day(ts: int | str) -> dt.date:
    if isinstance(ts, int):
        return dt.datetime.fromtimestamp(ts, dt.UTC).date()
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(dt.UTC).date()


def _pages(fetch: Callable[[str | None], Any], progress: Callable[[int], None]) -> Iterator[dict[str, Any]]:
    """Each page's JSON until ``has_more`` is false."""
    page: str | None = None
    n = 0
    while True:
        raw = fetch(page)
        try:
            doc = json.loads(raw, parse_float=Decimal)
        except ValueError as exc:
            raise ReportError(f"the admin API answered with something that is not JSON: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
            raise ReportError("the admin API answered without a 'data' list (not a usage or cost report page)")
        n += 1
        progress(n)
        yield doc
        page = doc.get("next_page")
        if not doc.get("has_more") or not page:
            return


def _int(v: Any) -> int:
    return int(v or 0)


def fetch_openai(start: dt.date, end: dt.date, key_kind: str, *, base_url: str | None = None,
                 progress: Callable[[int], None] = lambda n: None) -> ProviderReport:
    """OpenAI's completions usage and costs from ``start`` to ``end`` (inclusive), per day, key and model."""
    try:
        from openai import APIError, OpenAI
    except ImportError:
        raise ReportError("reconciling with OpenAI needs the openai SDK: pip install 'invocation-logs[providers]'") \
            from None
    client = OpenAI(admin_api_key=admin_key("openai"), api_key="", base_url=base_url or "https://api.openai.com/v1",
                    max_retries=6)
    usage_api = client.admin.organization.usage.with_raw_response
    t0 = int(dt.datetime.combine(start, dt.time(), dt.UTC).timestamp())
    t1 = int(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp())
    usage: list[dict[str, Any]] = []
    costs: list[dict[str, Any]] = []
    count = [0]

    def step(n: int) -> None:
        count[0] += 1
        progress(count[0])

    try:
        for doc in _pages(lambda p: usage_api.completions(
                start_time=t0, end_time=t1, bucket_width="1d", group_by=[key_kind, "model"], limit=PAGE_LIMIT,
                **({"page": p} if p else {})).text, step):
            for bucket in doc["data"]:
                for r in bucket.get("results", []):
                    usage.append({"day": _day(bucket["start_time"]), "key": r.get(key_kind), "model": r.get("model"),
                                  "input_tokens": _int(r.get("input_tokens")),
                                  "output_tokens": _int(r.get("output_tokens")),
                                  "cache_read_tokens": _int(r.get("input_cached_tokens")),
                                  "cache_write_tokens": _int(r.get("input_cache_write_tokens")),
                                  "requests": _int(r.get("num_model_requests"))})
        for doc in _pages(lambda p: usage_api.costs(
                start_time=t0, end_time=t1, bucket_width="1d", group_by=[key_kind, "line_item"], limit=PAGE_LIMIT,
                **({"page": p} if p else {})).text, step):
            for bucket in doc["data"]:
                for r in bucket.get("results", []):
                    amount = r.get("amount") or {}
                    if str(amount.get("currency", "usd")).lower() != "usd":
                        raise ReportError(f"OpenAI reported a cost in {amount.get('currency')!r}; only USD is handled")
                    # a line item names the model and the billed unit: "gpt-4o-2024-08-06, input"
                    item = str(r.get("line_item") or "")
                    costs.append({"day": _day(bucket["start_time"]), "key": r.get(key_kind),
                                  "model": item.split(",")[0].strip() or None,
                                  "cost_usd": Decimal(str(amount.get("value") or 0))})
    except APIError as exc:  # the SDK's message: status and the API's error text, never the key
        raise ReportError(f"OpenAI admin API: {type(exc).__name__}: {exc}") from None
    return ProviderReport("openai", key_kind, usage, costs, count[0])


def fetch_anthropic(start: dt.date, end: dt.date, key_kind: str, *, base_url: str | None = None,
                    progress: Callable[[int], None] = lambda n: None) -> ProviderReport:
    """Anthropic's Messages usage report and cost report, per day, key and model. Amounts in the cost report
    are decimal strings in cents."""
    try:
        from anthropic import Anthropic, APIError
    except ImportError:
        raise ReportError("reconciling with Anthropic needs the anthropic SDK: pip install "
                          "'invocation-logs[providers]'") from None
    key = admin_key("anthropic")
    # The admin API documents the key in X-Api-Key (this SDK's own scheme is a Bearer header: both are sent).
    client = Anthropic(api_key=key, base_url=base_url or "https://api.anthropic.com", max_retries=6,
                       default_headers={"X-Api-Key": key})
    since = dt.datetime.combine(start, dt.time(), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    usage: list[dict[str, Any]] = []
    costs: list[dict[str, Any]] = []
    count = [0]

    def step(n: int) -> None:
        count[0] += 1
        progress(count[0])

    def get(path: str, params: dict[str, Any]) -> Callable[[str | None], str]:
        def fetch(page: str | None) -> str:  # arrays go out as group_by[]=... (the SDK's bracket format)
            q = {**params, **({"page": page} if page else {})}
            text: str = client.get(path, cast_to=str, options={"params": q})  # the body as sent: exact decimals
            return text

        return fetch

    try:
        group = [key_kind, "model"]
        for doc in _pages(get("/v1/organizations/usage_report/messages",
                              {"starting_at": since, "ending_at": until, "bucket_width": "1d", "limit": PAGE_LIMIT,
                               "group_by": group}), step):
            for bucket in doc["data"]:
                for r in bucket.get("results", []):
                    created = r.get("cache_creation") or {}
                    write = _int(created.get("ephemeral_5m_input_tokens")) + _int(
                        created.get("ephemeral_1h_input_tokens"))
                    read = _int(r.get("cache_read_input_tokens"))
                    usage.append({"day": _day(bucket["starting_at"]), "key": r.get(key_kind), "model": r.get("model"),
                                  # the lake's convention: input counts cached and cache-write tokens
                                  "input_tokens": _int(r.get("uncached_input_tokens")) + read + write,
                                  "output_tokens": _int(r.get("output_tokens")), "cache_read_tokens": read,
                                  "cache_write_tokens": write, "requests": None})
        cost_key = "workspace_id" if key_kind == "workspace_id" else None
        for doc in _pages(get("/v1/organizations/cost_report",
                              {"starting_at": since, "ending_at": until, "limit": PAGE_LIMIT,
                               "group_by": [*([cost_key] if cost_key else []), "description"]}), step):
            for bucket in doc["data"]:
                for r in bucket.get("results", []):
                    if str(r.get("currency", "USD")).upper() != "USD":
                        raise ReportError(f"Anthropic reported a cost in {r.get('currency')!r}; only USD is handled")
                    costs.append({"day": _day(bucket["starting_at"]), "key": r.get(cost_key) if cost_key else None,
                                  "model": r.get("model"),
                                  "cost_usd": Decimal(str(r.get("amount") or "0")) / 100})  # cents, as a string
    except APIError as exc:
        raise ReportError(f"Anthropic admin API: {type(exc).__name__}: {exc}") from None
    return ProviderReport("anthropic", key_kind, usage, costs, count[0])


FETCHERS = {"openai": fetch_openai, "anthropic": fetch_anthropic}
