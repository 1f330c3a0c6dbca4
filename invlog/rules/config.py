"""The rules file: budgets and alerts in one TOML file, validated with errors that name the rule and field.

The file is ``INVLOG_RULES`` when set, else ``<lake>/_meta/rules.toml``. Money is exact: a
``limit_usd`` (and a cost alert's ``above``) is a decimal string like ``"5.00"`` or an integer,
never a float. Notification targets are apprise URLs, which often carry credentials (a Slack
token, an SMTP password), so a rules file stored in the lake only *names* them: ``env:NAME``
(an environment variable of the checker) or ``secret:NAME`` (a key of the secrets file,
``INVLOG_SECRETS``, kept outside the lake); a literal URL is accepted only in a rules file
outside the lake. The URL itself is resolved when a notification is sent and never written
to the lake.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from invlog.lake import Lake, validate_tenant
from invlog.rules.periods import PERIODS

ENV_RULES = "INVLOG_RULES"
ENV_SECRETS = "INVLOG_SECRETS"
LAKE_RULES = "_meta/rules.toml"
METRICS = ("cost", "runs", "errors", "error_rate", "p95_latency_ms", "unpriced_runs", "reconciliation_difference_usd")
_REF = re.compile(r"(env|secret):([A-Za-z_][A-Za-z0-9_.-]{0,127})")
_SCOPE = ("agent", "model", "user_id")
_BUDGET_KEYS = {"name", "tenant", *_SCOPE, "period", "hours", "limit_usd", "warn_at", "enforce", "notify"}
_ALERT_KEYS = {"name", "tenant", *_SCOPE, "metric", "window_minutes", "above", "min_runs", "notify"}


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the file, the rule and the field."""


@dataclass(frozen=True)
class Scope:
    agent: str | None = None
    model: str | None = None
    user_id: str | None = None

    def matches(self, agent: str, model: str, user_id: str | None) -> bool:
        return ((self.agent is None or self.agent == agent) and (self.model is None or self.model == model)
                and (self.user_id is None or self.user_id == user_id))

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in (("agent", self.agent), ("model", self.model), ("user", self.user_id)) if v]
        return ", ".join(parts) or "all runs"

    def as_dict(self) -> dict[str, str | None]:
        return {"agent": self.agent, "model": self.model, "user_id": self.user_id}


@dataclass(frozen=True)
class Budget:
    name: str
    tenant: str
    scope: Scope
    period: str | None  # day | week | month, or None with hours
    hours: int | None
    limit_usd: Decimal
    warn_at: tuple[Decimal, ...] = (Decimal("0.5"), Decimal("0.8"))
    enforce: bool = False
    notify: tuple[str, ...] = ()

    @property
    def thresholds(self) -> tuple[Decimal, ...]:
        """The fractions of the limit that notify: the warnings, then the limit itself."""
        return (*self.warn_at, Decimal(1))


@dataclass(frozen=True)
class Alert:
    name: str
    tenant: str
    scope: Scope
    metric: str
    window_minutes: int
    above: Decimal
    min_runs: int = 0
    notify: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rules:
    budgets: tuple[Budget, ...] = ()
    alerts: tuple[Alert, ...] = ()
    source: str = ""
    in_lake: bool = False
    tenants: tuple[str, ...] = field(default=())

    def for_tenant(self, tenant: str) -> Rules:
        return Rules(tuple(b for b in self.budgets if b.tenant == tenant),
                     tuple(a for a in self.alerts if a.tenant == tenant), self.source, self.in_lake, (tenant,))


def rules_location(lake: Lake, path: str | os.PathLike[str] | None = None) -> tuple[str | None, bool]:
    """(a local path, or None for the lake's own file; whether the file lives in the lake)."""
    explicit = os.fspath(path) if path else os.environ.get(ENV_RULES)
    if not explicit:
        return None, True
    full = os.path.abspath(explicit)
    inside = lake.is_local and os.path.commonpath([full, os.path.abspath(lake.root)]) == os.path.abspath(lake.root)
    return full, inside


def load_rules(lake: Lake, path: str | os.PathLike[str] | None = None) -> Rules:
    """The rules in force: ``path``, else ``INVLOG_RULES``, else the lake's ``_meta/rules.toml``.
    A missing file means no rules; an unreadable or invalid one raises ``RulesError``."""
    local, in_lake = rules_location(lake, path)
    if local is None:
        source = lake.uri(LAKE_RULES)
        if not lake.exists(LAKE_RULES):
            return Rules(source=source, in_lake=True)
        data = lake.read(LAKE_RULES)
    else:
        source = local
        if path is None and not os.path.exists(local):
            raise RulesError(f"{ENV_RULES}={local}: no such file")
        try:
            with open(local, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise RulesError(f"{local}: {exc.strerror or exc}") from None
    return parse_rules(data, source=source, in_lake=in_lake)


def parse_rules(data: bytes | str, *, source: str = "rules.toml", in_lake: bool = True) -> Rules:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{source}: not valid TOML: {exc}") from None
    unknown = set(doc) - {"budget", "alert"}
    if unknown:
        raise RulesError(f"{source}: unknown section(s) {', '.join(sorted(unknown))}; expected [[budget]] and "
                         "[[alert]] tables")
    found: dict[str, list[Any]] = {"budget": [], "alert": []}
    for kind, make, keys in (("budget", _budget, _BUDGET_KEYS), ("alert", _alert, _ALERT_KEYS)):
        entries = doc.get(kind, [])
        if not isinstance(entries, list):
            raise RulesError(f"{source}: '{kind}' must be an array of tables ([[{kind}]])")
        for i, raw in enumerate(entries, 1):
            where = f"{source}: {kind} #{i}"
            if isinstance(raw, dict) and isinstance(raw.get("name"), str) and raw["name"]:
                where = f"{source}: {kind} {raw['name']!r}"
            f = _Fields(raw if isinstance(raw, dict) else {}, where, in_lake)
            extra = set(f.raw) - keys
            if extra:
                raise RulesError(f"{where}: unknown field(s) {', '.join(sorted(extra))}; expected "
                                 f"{', '.join(sorted(keys))}")
            found[kind].append(make(f))
    budgets: list[Budget] = found["budget"]
    alerts: list[Alert] = found["alert"]
    seen: set[tuple[str, str, str]] = set()
    tagged: list[tuple[str, Budget | Alert]] = [("budget", b) for b in budgets]
    tagged += [("alert", a) for a in alerts]
    for kind, rule in tagged:
        key = (kind, rule.tenant, rule.name)
        if key in seen:
            raise RulesError(f"{source}: {kind} {rule.name!r}: name: used twice for tenant {rule.tenant!r}")
        seen.add(key)
    tenants = tuple(sorted({r.tenant for _, r in tagged}))
    return Rules(tuple(budgets), tuple(alerts), source, in_lake, tenants)


class _Fields:
    def __init__(self, raw: dict[str, Any], where: str, in_lake: bool):
        self.raw, self.where, self.in_lake = raw, where, in_lake

    def fail(self, key: str, problem: str) -> RulesError:
        return RulesError(f"{self.where}: {key}: {problem}")

    def text(self, key: str, required: bool = True) -> str | None:
        v = self.raw.get(key)
        if v is None and not required:
            return None
        if not isinstance(v, str) or not v or len(v) > 200:
            raise self.fail(key, f"expected a non-empty string, got {v!r}")
        return v

    def tenant(self) -> str:
        v = self.text("tenant")
        try:
            return validate_tenant(v)
        except ValueError as exc:
            raise self.fail("tenant", str(exc).removeprefix("tenant: ")) from None

    def scope(self) -> Scope:
        return Scope(*(self.text(k, required=False) for k in _SCOPE))

    def integer(self, key: str, lo: int, hi: int, default: int | None = None) -> int:
        v = self.raw.get(key, default)
        if type(v) is not int or not lo <= v <= hi:
            raise self.fail(key, f"expected an integer from {lo} to {hi}, got {v!r}")
        return v

    def money(self, key: str) -> Decimal:
        v = self.raw.get(key)
        if isinstance(v, float):
            raise self.fail(key, f"expected a decimal string like \"5.00\" (money is exact; a float {v!r} is not), "
                            f"write {key} = \"{v}\"")
        if type(v) is not int and not isinstance(v, str):
            raise self.fail(key, f"expected a decimal string like \"5.00\", got {v!r}")
        try:
            d = Decimal(str(v).strip())
        except InvalidOperation:
            raise self.fail(key, f"expected a decimal string like \"5.00\", got {v!r}") from None
        if not d.is_finite() or d < 0:
            raise self.fail(key, f"expected a non-negative amount, got {v!r}")
        return d

    def number(self, key: str) -> Decimal:
        v = self.raw.get(key)
        if isinstance(v, bool) or not isinstance(v, int | float | str):
            raise self.fail(key, f"expected a number, got {v!r}")
        try:
            d = Decimal(str(v))
        except InvalidOperation:
            raise self.fail(key, f"expected a number, got {v!r}") from None
        if not d.is_finite() or d < 0:
            raise self.fail(key, f"expected a non-negative number, got {v!r}")
        return d

    def flag(self, key: str, default: bool) -> bool:
        v = self.raw.get(key, default)
        if type(v) is not bool:
            raise self.fail(key, f"expected true or false, got {v!r}")
        return v

    def notify(self) -> tuple[str, ...]:
        v = self.raw.get("notify", [])
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
            raise self.fail("notify", f"expected a list of targets, got {v!r}")
        for target in v:
            if _REF.fullmatch(target):
                continue
            if "://" not in target:
                raise self.fail("notify", f"{target!r} is neither env:NAME, secret:NAME nor an apprise URL")
            if self.in_lake:  # shown without the URL: it may hold a token
                raise self.fail("notify", f"a literal URL ({target.split('://')[0]}://...) in a rules file stored in "
                                "the lake; URLs carry credentials, so name them instead: env:NAME (an environment "
                                f"variable) or secret:NAME (a key of the {ENV_SECRETS} file)")
        return tuple(v)


def _budget(f: _Fields) -> Budget:
    name = f.text("name")
    assert name is not None
    tenant = f.tenant()
    period, hours = f.raw.get("period"), f.raw.get("hours")
    if (period is None) == (hours is None):
        raise f.fail("period", "give exactly one of period = \"day\" | \"week\" | \"month\" or hours = N (rolling)")
    if period is not None and period not in PERIODS:
        raise f.fail("period", f"expected one of {', '.join(PERIODS)}, got {period!r}")
    if hours is not None:
        hours = f.integer("hours", 1, 24 * 31)
    limit = f.money("limit_usd")
    if limit == 0:
        raise f.fail("limit_usd", "must be more than 0")
    raw_warn = f.raw.get("warn_at", [0.5, 0.8])
    if not isinstance(raw_warn, list):
        raise f.fail("warn_at", f"expected a list of fractions of the limit, like [0.5, 0.8], got {raw_warn!r}")
    warn = []
    for w in raw_warn:
        if isinstance(w, bool) or not isinstance(w, int | float) or not 0 < w < 1:
            raise f.fail("warn_at", f"each entry is a fraction between 0 and 1 (the limit itself always notifies), "
                         f"got {w!r}")
        warn.append(Decimal(str(w)))
    if warn != sorted(set(warn)):
        raise f.fail("warn_at", f"expected increasing fractions without repeats, got {raw_warn!r}")
    return Budget(name, tenant, f.scope(), period, hours, limit, tuple(warn), f.flag("enforce", False), f.notify())


def _alert(f: _Fields) -> Alert:
    name = f.text("name")
    assert name is not None
    tenant = f.tenant()
    metric = f.raw.get("metric")
    if metric not in METRICS:
        raise f.fail("metric", f"expected one of {', '.join(METRICS)}, got {metric!r}")
    above = f.money("above") if metric in ("cost", "reconciliation_difference_usd") else f.number("above")
    if metric == "error_rate" and above > 1:
        raise f.fail("above", f"an error rate is a fraction from 0 to 1, got {above}")
    return Alert(name, tenant, f.scope(), metric, f.integer("window_minutes", 1, 60 * 24 * 31), above,
                 f.integer("min_runs", 0, 10**9, default=0), f.notify())


def resolve_target(target: str, secrets_path: str | None = None) -> str:
    """The apprise URL a target names (``env:NAME``, ``secret:NAME`` or a literal URL); ``RulesError``
    names what is missing, never the URL."""
    m = _REF.fullmatch(target)
    if m is None:
        return target
    kind, name = m.groups()
    if kind == "env":
        value = os.environ.get(name)
        if not value:
            raise RulesError(f"notify {target}: the environment variable {name} is not set")
        return value
    path = secrets_path or os.environ.get(ENV_SECRETS)
    if not path:
        raise RulesError(f"notify {target}: no secrets file (set {ENV_SECRETS} to a TOML file with a [notify] table)")
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f).get("notify", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RulesError(f"notify {target}: cannot read the secrets file {path}: {exc}") from None
    value = table.get(name) if isinstance(table, dict) else None
    if not isinstance(value, str) or not value:
        raise RulesError(f"notify {target}: the secrets file {path} has no [notify] key {name!r}")
    return value
