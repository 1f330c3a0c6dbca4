"""Record realistic demo data through ``Agent.run()`` with the offline provider.

``python -m recorder.demo --lake DIR --tenants N --days D --seed S [--runs-per-day R] [--if-empty]``

Several agents per tenant with distinct cost profiles (a cheap support bot with
tools and memory, an expensive research agent, a nightly ETL summariser run as a
task, a reasoning router, a triage agent on an unpriced self-hosted model), all
three triggers, users and sessions, mirrored attachments and URLs, failures and
timeouts, spread over the last D days on a simulated clock. Tenant sizes are
skewed. A progress bar shows the work. Each (tenant, day) is marked done under
``<lake>/_demo/``, so re-running with the same arguments records nothing twice.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import sys
import zlib
from typing import Any

from tqdm import tqdm

from invlog.lake import partition_path
from recorder import Agent, LLMFile, PromptTemplate, Recorder
from recorder.clock import SimClock
from recorder.providers import OfflineProvider

TENANTS = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell", "cyberdyne", "wonka"]


_CLOCK: list[SimClock | None] = [None]  # the run's simulated clock, which the demo tools spend time on


def _work(seconds: float) -> None:
    """A tool's own time (a database call, a search) on the simulated clock, so traces show tool durations."""
    if _CLOCK[0] is not None:
        _CLOCK[0].advance(seconds)


def lookup_order(order_id: int) -> dict[str, Any]:
    """Look up an order's status."""
    _work(0.05 + random.Random(order_id).random() * 0.3)
    return {"order_id": order_id, "status": random.Random(order_id).choice(["shipped", "packed", "delayed"])}


def search_docs(query: str) -> list[str]:
    """Search the knowledge base."""
    h = zlib.crc32(query.encode())  # not hash(): the same demo data in every process
    _work(0.3 + (h % 100) / 100)
    return [f"doc-{h % 97}: notes about {query}"]


def refund(order_id: int, amount: float) -> dict[str, Any]:
    """Issue a refund."""
    _work(0.2)
    if amount > 400:
        raise PermissionError("refunds above $400 need a human")
    return {"refund_id": f"rf-{order_id}", "amount": amount}


def fetch_report(name: str) -> object:
    """Fetch a report (returns a non-JSON object now and then, like real code)."""
    _work(0.5 + len(name) / 50)
    return {"name": name, "rows": 120} if len(name) % 3 else object()


PROFILES = [  # agent, model, tools, memory, trigger, share of runs, message template
    ("support-bot", "gpt-4o-mini", [lookup_order, refund], True, "user", 0.45,
     "Hi, where is my order {n}? Also can I get a refund of ${amt}?"),
    ("research-agent", "claude-sonnet-4-5", [search_docs], False, "user", 0.15,
     "Write a detailed brief on {topic} with sources."),
    ("etl-summarizer", "gpt-4o", [fetch_report], False, "task", 0.2, "Summarize the nightly report {topic}."),
    ("router", "o3-mini", [], False, "system", 0.1, "Classify this ticket: {topic}"),
    ("triage", "acme-llm-7b", [], False, "system", 0.1, "Triage alert {n}: {topic}"),
]
TOPICS = ["billing", "latency spikes", "GDPR export", "churn", "Q3 revenue", "onboarding", "SSO outage"]


def _arg_key(args: argparse.Namespace) -> str:
    return hashlib.sha256(f"{args.tenants}|{args.days}|{args.seed}|{args.runs_per_day}".encode()).hexdigest()[:16]


def lake_is_empty(rec: Recorder) -> bool:
    return not any(p.endswith(".parquet") for p in rec.lake.find("invocations"))


def record_demo(rec: Recorder, *, tenants: int, days: int, seed: int, runs_per_day: int,
                today: dt.date | None = None, key: str = "manual", progress: bool = True) -> int:
    """Record the demo; returns the number of runs recorded (0 for chunks already done)."""
    today = today or dt.datetime.now(dt.UTC).date()
    provider = OfflineProvider(seed=seed, failure_rate=0.02, hang_rate=0.015)  # some failures to look at
    prompt = PromptTemplate(name="default", version="1", system="You are {agent} for {tenant}. Today is {date}.",
                            user="{message}")
    agents = {p[0]: Agent(name=p[0], provider=provider, model=p[1], tools=p[2], memory=p[3], prompt=prompt,
                          recorder=rec, max_rounds=4) for p in PROFILES}
    chunks = [(TENANTS[t % len(TENANTS)] + ("" if t < len(TENANTS) else f"-{t}"), t, today - dt.timedelta(days=d))
              for t in range(tenants) for d in range(days - 1, -1, -1)]
    rng = random.Random(seed)
    plan = []
    for tenant, t, day in chunks:
        n = max(2, int(runs_per_day / (1 + t) * rng.uniform(0.7, 1.3)))  # skewed tenant sizes
        plan.append((tenant, day, n))
    done = 0
    bar = tqdm(total=sum(n for _, _, n in plan), desc="recording demo runs", unit="run", disable=not progress)
    for tenant, day, n in plan:
        marker = f"{partition_path(f'_demo/{key}', tenant, day)}.done"
        if rec.lake.exists(marker):
            bar.update(n)
            continue
        crng = random.Random(f"{seed}|{tenant}|{day}")
        now = dt.datetime.now(dt.UTC)
        for _ in range(n):
            # business-hours-heavy arrivals, never in the future
            secs = min(86_399, max(0, int(crng.gauss(14 * 3600, 4 * 3600))))
            start = dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(seconds=secs)
            if start > now:  # today's runs happen between midnight and now (UTC), never in the future
                day_start = dt.datetime.combine(day, dt.time(), dt.UTC)
                start = day_start + (now - day_start) * crng.random()
            clock = _CLOCK[0] = SimClock(start)
            name, _, _, _, trigger, _, template = crng.choices(PROFILES, weights=[p[5] for p in PROFILES])[0]
            msg = template.format(n=crng.randint(1000, 9999), amt=crng.choice([20, 75, 450]),
                                  topic=crng.choice(TOPICS))
            files = None
            if name == "research-agent" and crng.random() < 0.3:
                files = [LLMFile.from_bytes(f"%PDF-1.4 brief {crng.randint(1, 5)}".encode(), filename="brief.pdf"),
                         LLMFile.from_url("https://files.example.com/reports/q3.csv")]
            try:
                agents[name].run(msg, tenant=tenant, trigger=trigger, user_id=f"u-{crng.randint(1, 12)}",
                                 task_id=f"celery-{crng.getrandbits(32):08x}" if trigger == "task" else None,
                                 session_id=f"s-{crng.randint(1, 6)}" if name == "support-bot" else None,
                                 files=files, timeout=60, clock=clock)
            except Exception:  # failures and timeouts are part of the demo; they are recorded
                pass
            done += 1
            bar.update(1)
        if rec.flush(timeout=120):
            rec.lake.put(marker, b"")
    bar.close()
    return done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m recorder.demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--lake", default=None, help="lake location (default: INVLOG_LAKE or ./data/lake)")
    ap.add_argument("--tenants", type=int, default=3)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs-per-day", type=int, default=60, help="runs per day of the largest tenant")
    ap.add_argument("--if-empty", action="store_true", help="do nothing if the lake already has invocations")
    args = ap.parse_args(argv)
    if not 1 <= args.tenants <= 1000 or not 1 <= args.days <= 3660 or args.runs_per_day < 1:
        ap.error("--tenants must be 1-1000, --days 1-3660, --runs-per-day at least 1")
    from invlog.lake import Lake

    lake = Lake(args.lake)
    reason = lake.unwritable_reason()
    if reason:
        print(f"error: cannot record the demo: the lake {lake.url} cannot be written ({reason})", file=sys.stderr)
        return 1
    rec = Recorder(lake=args.lake)
    if args.if_empty and not lake_is_empty(rec):
        print(f"lake {rec.lake.url} already has data; not recording the demo")
        return 0
    n = record_demo(rec, tenants=args.tenants, days=args.days, seed=args.seed, runs_per_day=args.runs_per_day,
                    key=_arg_key(args), progress=sys.stderr.isatty() or True)
    ok = rec.shutdown()
    stats = rec.stats()
    print(f"recorded {n} runs into {rec.lake.url}: {stats['written_invocations']} invocations, "
          f"{stats['written_rounds']} rounds, {stats['attachments_mirrored']} attachments mirrored")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
