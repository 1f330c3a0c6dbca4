"""Generate a large benchmark lake straight into Parquet (not through the recorder).

``python -m bench.gen_lake --out /tmp/bench-lake [--invocations 10000000] [--tenants 20] [--days 90]``

Tenant sizes are skewed (Zipf-like: tenant k gets weight 1/(k+1)^1.1), rounds per
invocation 1-5 (about 3 on average), token counts drawn from the Azure LLM trace
sample, short texts so that 10 million invocations stay a few GB. One part file per
partition and table (a compacted lake), registered in the two Delta tables; ``--fragment N`` splits the largest tenant's
last 30 days into N files per partition instead (a fragmented lake). Costs use the
gpt-4o / gpt-4o-mini prices, as exact decimals. Takes a few minutes for 10 million.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time

import numpy as np
import pyarrow as pa

from invlog.lake import INVOCATIONS, ROUNDS, Lake, conform, convert, file_schema, partition_path
from invlog.lake.files import parquet_bytes
from recorder.encode import picos_to_decimal
from recorder.providers.offline import _trace
from warehouse.compact import ROW_GROUP

AGENTS = np.array(["support-bot", "research-agent", "etl-summarizer", "router", "triage", "billing-bot"])
MODELS = np.array(["gpt-4o-mini", "gpt-4o", "gpt-4o", "gpt-4o-mini", "gpt-4o-mini", "gpt-4o"])
PRICES = {"gpt-4o-mini": (150_000, 75_000, 600_000), "gpt-4o": (2_500_000, 1_250_000, 10_000_000)}
TRIGGERS = np.array(["user", "system", "task"])
STATUSES = np.array(["Success", "Failed", "Timeout"])


def tenant_name(k: int) -> str:
    return f"tenant-{k:02d}"


def _strings(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype(object), pa.string())


def partition_tables(rng: np.random.Generator, tenant: str, day: dt.date, n: int) -> tuple[pa.Table, pa.Table]:
    trace = np.array(_trace())
    day_us = int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp() * 1e6)
    start = np.sort(day_us + rng.integers(0, 86_400_000_000, n))
    agent_idx = rng.choice(len(AGENTS), n, p=[0.4, 0.1, 0.15, 0.15, 0.1, 0.1])
    rounds_per = rng.integers(1, 6, n)
    nr = int(rounds_per.sum())
    inv_of_round = np.repeat(np.arange(n), rounds_per)
    round_index = np.arange(nr) - np.repeat(np.cumsum(rounds_per) - rounds_per, rounds_per)
    sample = trace[rng.integers(0, len(trace), nr)]
    r_in, r_out = sample[:, 0].astype(np.int64), np.minimum(sample[:, 1], 4000).astype(np.int64)
    r_cr = np.where(round_index > 0, (r_in * 0.7).astype(np.int64), 0)
    model_of_round = MODELS[agent_idx][inv_of_round]
    picos = np.zeros(nr, dtype=np.int64)
    for m, (p_in, p_cr, p_out) in PRICES.items():
        sel = model_of_round == m
        picos[sel] = (r_in[sel] - r_cr[sel]) * p_in + r_cr[sel] * p_cr + r_out[sel] * p_out
    lat = rng.gamma(2.0, 600.0, nr)
    r_start = start[inv_of_round] + (np.cumsum(lat * 1000).astype(np.int64) - np.repeat(
        np.cumsum(rounds_per * 0) , rounds_per)) % 60_000_000
    status = STATUSES[rng.choice(3, n, p=[0.95, 0.04, 0.01])]
    ids = np.char.add(np.char.mod("%014x", start), np.char.mod("%016x", rng.integers(0, 2**62, n)))
    inv_cost = np.bincount(inv_of_round, weights=picos, minlength=n).astype(np.int64)
    inv_lat = np.bincount(inv_of_round, weights=lat, minlength=n)
    sums = {k: np.bincount(inv_of_round, weights=v, minlength=n).astype(np.int64)
            for k, v in (("in", r_in), ("out", r_out), ("cr", r_cr))}
    users = np.char.add("u-", rng.integers(1, 500, n).astype(str))
    trig = TRIGGERS[rng.integers(0, 3, n)]
    # a user's runs (user trigger) within one clock hour are one chat session, as a chat front end would send
    sessions = np.where(trig == "user", np.char.add(np.char.add("s-", users), np.char.mod(
        "-%d", start // 3_600_000_000)), None)
    inv = {
        "invocation_id": _strings(ids), "agent": _strings(AGENTS[agent_idx]), "provider": pa.array(["openai"] * n),
        "model": _strings(MODELS[agent_idx]), "trigger": _strings(trig),
        "status": _strings(status), "error_type": pa.array(np.where(status == "Success", None, "ProviderError"),
                                                           pa.string()),
        "error_message": pa.nulls(n, pa.string()),
        "started_at": pa.array(start, pa.timestamp("us", tz="UTC")),
        "ended_at": pa.array(start + (inv_lat * 1000).astype(np.int64), pa.timestamp("us", tz="UTC")),
        "latency_ms": pa.array(inv_lat), "ttft_ms": pa.array(inv_lat * 0.2),
        "input_tokens": pa.array(sums["in"]), "output_tokens": pa.array(sums["out"]),
        "cache_read_tokens": pa.array(sums["cr"]), "cache_write_tokens": pa.array(np.zeros(n, np.int64)),
        "reasoning_tokens": pa.array(np.zeros(n, np.int64)), "cost_usd": picos_to_decimal(inv_cost.tolist()),
        "unpriced": pa.array(np.zeros(n, bool)), "round_count": pa.array(rounds_per.astype(np.int32)),
        "user_id": _strings(users), "task_id": pa.nulls(n, pa.string()), "session_id": pa.array(sessions, pa.string()),
        "prompt_name": pa.array(["default"] * n), "prompt_version": pa.array(["1"] * n),
        "system_prompt": pa.array(["You are a helpful agent."] * n),
        "user_message": _strings(np.char.add("Question about order ", rng.integers(1000, 9999, n).astype(str))),
        "variables": pa.nulls(n, pa.string()), "system_variables": pa.nulls(n, pa.string()),
        "response": pa.array(["Done."] * n), "attachments": pa.nulls(n, pa.string()),
        "memory_context": pa.nulls(n, pa.string()), "truncated": pa.nulls(n, pa.string()),
        "schema_version": pa.array(np.ones(n, np.int16)),
        "trace_id": pa.nulls(n, pa.string()), "incomplete": pa.nulls(n, pa.bool_()),
    }
    rnd = {
        "invocation_id": _strings(ids[inv_of_round]), "round_index": pa.array(round_index.astype(np.int32)),
        "agent": _strings(AGENTS[agent_idx][inv_of_round]), "provider": pa.array(["openai"] * nr),
        "model": _strings(model_of_round), "status": _strings(status[inv_of_round]),
        "error_type": pa.nulls(nr, pa.string()), "error_message": pa.nulls(nr, pa.string()),
        "started_at": pa.array(r_start, pa.timestamp("us", tz="UTC")),
        "ended_at": pa.array(r_start + (lat * 1000).astype(np.int64), pa.timestamp("us", tz="UTC")),
        "latency_ms": pa.array(lat), "ttft_ms": pa.array(lat * 0.2), "stop_reason": pa.array(["stop"] * nr),
        "input_tokens": pa.array(r_in), "output_tokens": pa.array(r_out), "cache_read_tokens": pa.array(r_cr),
        "cache_write_tokens": pa.array(np.zeros(nr, np.int64)), "reasoning_tokens": pa.array(np.zeros(nr, np.int64)),
        "cost_usd": picos_to_decimal(picos.tolist()), "unpriced": pa.array(np.zeros(nr, bool)),
        "price_source": pa.array(["genai-prices"] * nr), "messages": pa.array(['[{"role":"user","content":"q"}]'] * nr),
        "response": pa.array(["Done."] * nr), "tool_calls": pa.nulls(nr, pa.string()),
        "request_params": pa.array(['{"temperature":0}'] * nr), "raw_usage": pa.nulls(nr, pa.string()),
        "truncated": pa.nulls(nr, pa.string()), "schema_version": pa.array(np.ones(nr, np.int16)),
    }
    # conform: the billed-unit columns of schema version 2 are null here, as in a v1 part
    return conform(pa.Table.from_pydict(inv), file_schema(INVOCATIONS)), conform(pa.Table.from_pydict(rnd),
                                                                                  file_schema(ROUNDS))


def write_parts(out: str, table: str, tenant: str, day: dt.date, t: pa.Table, pieces: int) -> None:
    folder = os.path.join(out, partition_path(table, tenant, day))
    os.makedirs(folder, exist_ok=True)
    step = max(1, -(-t.num_rows // pieces))
    for k in range(pieces):
        part = t.slice(k * step, step)
        if part.num_rows or k == 0:
            with open(os.path.join(folder, f"{k:05d}-bench.parquet"), "wb") as f:
                f.write(parquet_bytes(part, row_group_size=ROW_GROUP))  # as compaction writes them


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--invocations", type=int, default=10_000_000)
    ap.add_argument("--tenants", type=int, default=20)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fragment", type=int, default=1, help="files per partition for the largest tenant's last 30 days")
    args = ap.parse_args()
    from tqdm import tqdm

    rng = np.random.default_rng(args.seed)
    weights = 1 / (np.arange(args.tenants) + 1) ** 1.1
    weights /= weights.sum()
    today = dt.datetime.now(dt.UTC).date()
    t0 = time.perf_counter()
    total_inv = total_rounds = 0
    with tqdm(total=args.tenants * args.days, desc="partitions", unit="day") as bar:
        for k in range(args.tenants):
            per_day = max(1, int(args.invocations * weights[k] / args.days))
            for d in range(args.days):
                day = today - dt.timedelta(days=d)
                inv, rnd = partition_tables(rng, tenant_name(k), day, per_day)
                pieces = args.fragment if (k == 0 and d < 30) else 1
                write_parts(args.out, "invocations", tenant_name(k), day, inv, pieces)
                write_parts(args.out, "rounds", tenant_name(k), day, rnd, pieces)
                total_inv += inv.num_rows
                total_rounds += rnd.num_rows
                bar.update(1)
    t1 = time.perf_counter()
    lake = Lake(args.out)
    for table in ("invocations", "rounds"):  # the Delta log over the files, as `python -m warehouse migrate`
        with tqdm(desc=f"registering {table}", unit="file") as bar:
            def step(done: int, total: int, bar: tqdm = bar) -> None:
                bar.total = total
                bar.update(done - bar.n)
            convert.convert(lake, table, progress=step)
    print(f"wrote {total_inv:,} invocations and {total_rounds:,} rounds in {t1 - t0:.0f} s, registered them in "
          f"the Delta tables in {time.perf_counter() - t1:.0f} s, to {args.out}")


if __name__ == "__main__":
    main()
