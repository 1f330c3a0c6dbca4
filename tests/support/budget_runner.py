"""A separate process that runs an agent until an enforced budget refuses it (tests/recorder/test_budget.py).

``python -m tests.support.budget_runner LAKE TENANT RUNS PACE_S``: up to RUNS runs of a model whose
every call costs exactly $0.01 (4,000 gpt-4o input tokens), one every PACE_S seconds; prints one JSON
line: runs done, refusals, and the BudgetExceeded fields of the first refusal.
"""

from __future__ import annotations

import json
import sys
import time

from recorder import Agent, BudgetExceeded, Recorder
from recorder.providers.base import Completion


class CentProvider:
    """Every call: 4,000 input tokens of gpt-4o = $0.01 exactly."""

    name = "openai"

    def vendor(self, model):
        return "openai"

    def request_params(self, model, tools):
        return {"model": model}

    def complete(self, **kw):
        return Completion("ok", stop_reason="stop", usage={"input_tokens": 4000, "output_tokens": 0})

    async def acomplete(self, **kw):
        return self.complete(**kw)


def main() -> None:
    lake, tenant, runs, pace = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    rec = Recorder(lake=lake, publish_interval=0.2, spool_interval=0.05, budget_refresh=0.2)
    agent = Agent("spender", CentProvider(), "gpt-4o", recorder=rec)
    done = refused = 0
    first = None
    started = time.monotonic()
    for _ in range(runs):
        try:
            agent.run("spend", tenant=tenant)
            done += 1
        except BudgetExceeded as exc:
            refused += 1
            if first is None:
                first = {"budget": exc.budget, "spent_usd": str(exc.spent_usd), "limit_usd": str(exc.limit_usd),
                         "invocation_id": exc.invocation_id}  # type: ignore[attr-defined]
        time.sleep(pace)
    rec.shutdown()
    print(json.dumps({"ran": done, "refused": refused, "first": first, "seconds": time.monotonic() - started}))


if __name__ == "__main__":
    main()
