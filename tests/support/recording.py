"""Test helper: record generated invocations and the rows we expect the lake to hold."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

text = st.text(max_size=200)
opt_text = st.none() | text
usage = st.tuples(st.integers(0, 10_000_000), st.integers(0, 100_000)).flatmap(
    lambda io: st.fixed_dictionaries({
        "input_tokens": st.just(io[0]), "output_tokens": st.just(io[1]),
        "cache_read_tokens": st.integers(0, io[0] // 2), "cache_write_tokens": st.integers(0, io[0] // 2),
        "reasoning_tokens": st.integers(0, io[1]),
    })
)
round_spec = st.fixed_dictionaries({
    "messages": st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "tool"]),
                                                "content": text}), max_size=3),
    "text": opt_text,
    "usage": usage,
    "stop_reason": st.sampled_from(["stop", "tool_calls", "length"]),
    "tool_calls": st.lists(st.fixed_dictionaries({"id": st.text("abc123", min_size=1, max_size=8),
                                                  "name": st.sampled_from(["lookup", "search"]),
                                                  "arguments": st.dictionaries(st.text(max_size=5), text,
                                                                               max_size=2)}), max_size=2),
    "request_params": st.fixed_dictionaries({"temperature": st.floats(0, 2), "max_tokens": st.integers(1, 4096)}),
})
invocation_spec = st.fixed_dictionaries({
    "tenant": st.sampled_from(["acme", "12", "012", "bigco-eu"]),
    "agent": st.sampled_from(["support-bot", "etl", "router"]),
    "model": st.sampled_from(["gpt-4o", "gpt-4o-mini", "unknown-model-1"]),
    "trigger": st.sampled_from(["user", "system", "task"]),
    "user_id": opt_text, "session_id": opt_text, "user_message": opt_text, "response": opt_text,
    "variables": st.none() | st.dictionaries(st.text(max_size=8), text, max_size=3),
    "rounds": st.lists(round_spec, max_size=3),
    "fail": st.sampled_from([None, None, "ValueError", "TimeoutError"]),
})


class Boom(Exception):
    pass


def record(rec, spec: dict[str, Any]) -> dict[str, Any]:
    """Record one invocation from ``spec``; return the rows we expect back."""
    exc = {"ValueError": ValueError("bad things"), "TimeoutError": TimeoutError("too slow")}.get(spec["fail"])
    try:
        with rec.invocation(tenant=spec["tenant"], agent=spec["agent"], provider="openai", model=spec["model"],
                            trigger=spec["trigger"], user_id=spec["user_id"], session_id=spec["session_id"],
                            user_message=spec["user_message"], variables=spec["variables"]) as inv:
            rounds = []
            for rs in spec["rounds"]:
                with inv.round(rs["messages"], request_params=rs["request_params"]) as r:
                    r.set_response(rs["text"], tool_calls=rs["tool_calls"], stop_reason=rs["stop_reason"],
                                   usage=rs["usage"])
                rounds.append(r)
            inv.response = spec["response"]
            if exc is not None:
                raise exc
    except (ValueError, TimeoutError) as e:
        assert e is exc
    status = {"ValueError": "Failed", "TimeoutError": "Timeout"}.get(spec["fail"], "Success")
    cost = inv.cost_usd
    inv_row = {
        "invocation_id": inv.invocation_id, "tenant": spec["tenant"], "agent": spec["agent"],
        "provider": "openai", "model": spec["model"], "trigger": spec["trigger"], "status": status,
        "error_type": spec["fail"], "user_id": spec["user_id"], "session_id": spec["session_id"],
        "user_message": spec["user_message"], "response": spec["response"],
        "variables": spec["variables"], "round_count": len(spec["rounds"]), "cost_usd": cost,
        "unpriced": spec["model"] == "unknown-model-1" and bool(spec["rounds"]),
    }
    for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"):
        inv_row[k] = sum(rs["usage"][k] for rs in spec["rounds"])
    round_rows = []
    for i, (rs, r) in enumerate(zip(spec["rounds"], rounds, strict=True)):
        round_rows.append({
            "invocation_id": inv.invocation_id, "round_index": i, "tenant": spec["tenant"], "model": spec["model"],
            "status": "Success", "messages": rs["messages"], "response": rs["text"],
            "tool_calls": rs["tool_calls"] or None, "request_params": rs["request_params"],
            "stop_reason": rs["stop_reason"], "cost_usd": r.cost_usd, **rs["usage"],
        })
    return {"invocation": inv_row, "rounds": round_rows, "day": inv._day}


def compare(expected: dict[str, Any], inv_rows: dict[str, dict], round_rows: dict[tuple, dict]) -> None:
    e = expected["invocation"]
    got = inv_rows[e["invocation_id"]]
    for k, v in e.items():
        g = got[k]
        if k == "variables":
            g = None if g is None else json.loads(g)
        assert g == v, (k, g, v)
    assert got["date"] == dt.date(1970, 1, 1) + dt.timedelta(days=expected["day"])
    assert got["ended_at"] >= got["started_at"]
    rounds_cost = [r["cost_usd"] for r in expected["rounds"]]
    if e["cost_usd"] is not None:
        assert e["cost_usd"] == sum(rounds_cost, Decimal(0))
    for r in expected["rounds"]:
        g = round_rows[(r["invocation_id"], r["round_index"])]
        for k, v in r.items():
            gv = g[k]
            if k in ("messages", "tool_calls", "request_params"):
                gv = None if gv is None else json.loads(gv)
            assert gv == v, (k, gv, v)
        assert g["date"] == got["date"]
