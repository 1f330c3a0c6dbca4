"""What an enforced budget costs the agent: the hard-limit check, and ``agent.run()`` with and without it.

In one process and run: (a) ``BudgetGuard.check`` for a tenant with no budgets (the baseline: a
dictionary miss), a tenant whose one enforced budget does not match the run's scope, and one whose
budget matches and is below its limit; (b) a whole ``agent.run()`` (one model call to a local model
that answers at once) on a tenant without budgets and on one with an enforced budget, interleaved.
Prints medians and p99 in microseconds and the ratios. Run: ``python -m bench.budget_check [--n 20000]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time

from invlog.lake import Lake
from invlog.rules import load_rules
from recorder import Agent, Recorder
from recorder.providers.base import Completion

RULES = """
[[budget]]
name = "scoped"
tenant = "scoped"
agent = "somebody-else"
period = "day"
limit_usd = "1000000"
enforce = true

[[budget]]
name = "capped"
tenant = "capped"
period = "day"
limit_usd = "1000000"
enforce = true
"""


class Instant:
    name = "openai"

    def vendor(self, model: str) -> str:
        return "openai"

    def request_params(self, model: str, tools: list) -> dict:
        return {"model": model}

    def complete(self, **kw: object) -> Completion:
        return Completion("ok", stop_reason="stop", usage={"input_tokens": 400, "output_tokens": 20})

    async def acomplete(self, **kw: object) -> Completion:
        return self.complete(**kw)


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t) / 1000)
    return out


def row(name: str, us: list[float], base: float | None) -> str:
    us.sort()
    med, p99 = statistics.median(us), us[int(len(us) * 0.99)]
    ratio = f"{med / base:6.2f}x" if base else "  base "
    return f"{name:44} {med:9.2f} {p99:9.2f}   {ratio}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as lake:
        Lake(lake).put("_meta/rules.toml", RULES.encode())
        from warehouse import Warehouse, alerts

        alerts.check(Warehouse(lake), load_rules(Lake(lake)), now=dt.datetime.now(dt.UTC))
        rec = Recorder(lake=lake, budget_refresh=3600)
        guard = rec.budgets
        for t in ("free", "scoped", "capped"):
            guard.check(t, "bot", "gpt-4o", "u-1")  # the one synchronous read per tenant
        print(f"{'measure (microseconds)':44} {'median':>9} {'p99':>9}   ratio")
        free = timed(lambda: guard.check("free", "bot", "gpt-4o", "u-1"), args.n)
        base = statistics.median(sorted(free))
        print(row("check: tenant without budgets", free, None))
        print(row("check: enforced budget, other scope", timed(lambda: guard.check("scoped", "bot", "gpt-4o", "u-1"),
                                                                 args.n), base))
        print(row("check: enforced budget, in scope, below limit",
                  timed(lambda: guard.check("capped", "bot", "gpt-4o", "u-1"), args.n), base))
        agent = Agent("bot", Instant(), "gpt-4o", recorder=rec)
        plain, capped = [], []
        for _ in range(args.n // 4):  # interleaved: both see the same machine state
            plain += timed(lambda: agent.run("hi", tenant="free"), 1)
            capped += timed(lambda: agent.run("hi", tenant="capped"), 1)
        base_run = statistics.median(sorted(plain))
        print(row("agent.run(): tenant without budgets", plain, None))
        print(row("agent.run(): enforced budget in scope", capped, base_run))
        rec.shutdown()


if __name__ == "__main__":
    main()
