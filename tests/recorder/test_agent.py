"""agent.run(): every run is an invocation with its rounds, on by default."""

import asyncio
import datetime as dt
import json
import os
from decimal import Decimal

import pytest

from recorder import Agent, LLMFile, PromptTemplate, Recorder
from recorder.clock import SimClock
from recorder.demo import record_demo
from recorder.providers import Completion, OfflineProvider
from tests.support.lakeread import rows


class Scripted:
    """A provider that plays back completions (a test double of the provider protocol)."""

    name = "scripted"

    def __init__(self, turns, delay=0.0):
        self.turns, self.delay, self.seen = list(turns), delay, []

    def vendor(self, model):
        return "openai"

    def request_params(self, model, tools):
        return {"model": model, "temperature": 0, "headers": {"Authorization": "Bearer sk-SECRETSECRETSECRET00"}}

    def complete(self, *, model, messages, tools, files, timeout, on_first_token, clock):
        self.seen.append([dict(m) for m in messages])
        turn = self.turns.pop(0)
        if isinstance(turn, BaseException):
            raise turn
        if clock is not None:
            if timeout is not None and self.delay > timeout:
                clock.advance(timeout)
                raise TimeoutError("model too slow")
            clock.advance(self.delay / 2)
        on_first_token()
        if clock is not None:
            clock.advance(self.delay / 2)
        return turn

    async def acomplete(self, **kw):
        await asyncio.sleep(0)
        return self.complete(**kw)


def tool_turn(name, args, call_id="c1", usage=None):
    return Completion(text=None, tool_calls=[{"id": call_id, "name": name, "arguments": args}],
                      stop_reason="tool_calls", usage=usage or {"input_tokens": 1000, "output_tokens": 20})


def text_turn(text, usage=None):
    return Completion(text=text, stop_reason="stop",
                      usage=usage or {"input_tokens": 1100, "output_tokens": 40, "cache_read_tokens": 1000})


def lookup_order(order_id: int) -> dict:
    """Look up an order."""
    return {"order_id": order_id, "status": "shipped"}


def broken(order_id: int) -> dict:
    """Always fails."""
    raise KeyError(f"order {order_id} not found")


def weird() -> object:
    """Returns something that is not JSON."""
    return object()


PROMPT = PromptTemplate(name="support", version="3", system="You help {customer} on {date}.", user="{question}")


def trace(rec, resp_or_id):
    iid = getattr(resp_or_id, "invocation_id", resp_or_id)
    inv = {r["invocation_id"]: r for r in rows(rec.lake, "invocations")}[iid]
    rs = sorted((r for r in rows(rec.lake, "rounds") if r["invocation_id"] == iid), key=lambda r: r["round_index"])
    return inv, rs


def test_multi_round_run_records_all_four_views(make_recorder):
    rec = make_recorder()
    provider = Scripted([tool_turn("lookup_order", {"order_id": 42}), text_turn("It shipped.")], delay=0.8)
    agent = Agent("support-bot", provider, "gpt-4o", tools=[lookup_order], prompt=PROMPT, recorder=rec)
    clock = SimClock(dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC))
    resp = agent.run("Where is my order?", tenant="acme", trigger="task", user_id="u-1", task_id="celery-9",
                     session_id="s-1", variables={"customer": "Ann"}, system_variables={"region": "eu"},
                     timeout=30, clock=clock)
    assert rec.flush()
    inv, (r0, r1) = trace(rec, resp)
    # Request / Response: full messages, tool name, arguments and the result our code returned
    m0, m1 = json.loads(r0["messages"]), json.loads(r1["messages"])
    assert [m["role"] for m in m0] == ["system", "user"] and m0[1]["content"] == "Where is my order?"
    assert [m["role"] for m in m1] == ["system", "user", "assistant", "tool"]
    # ... and when the tool ran: right after the model's answer (0.8 s into the round), taking no simulated time
    assert json.loads(r0["tool_calls"]) == [{"id": "c1", "name": "lookup_order", "arguments": {"order_id": 42},
                                             "result": {"order_id": 42, "status": "shipped"},
                                             "started_us": 800_000, "duration_us": 0}]
    assert r1["response"] == "It shipped." and inv["response"] == "It shipped."
    # Prompt: name, version, rendered system prompt, variables and system_variables
    assert (inv["prompt_name"], inv["prompt_version"]) == ("support", "3")
    assert inv["system_prompt"] == "You help Ann on 2026-11-20."
    assert json.loads(inv["variables"]) == {"customer": "Ann"}
    sv = json.loads(inv["system_variables"])
    assert sv["date"] == "2026-11-20" and sv["tenant"] == "acme" and sv["region"] == "eu"
    # Cost breakdown: stop reason, tokens incl. cache, cost, latency
    assert (r0["stop_reason"], r1["stop_reason"]) == ("tool_calls", "stop")
    assert (r1["input_tokens"], r1["cache_read_tokens"], r1["output_tokens"]) == (1100, 1000, 40)
    assert r0["latency_ms"] == pytest.approx(800, abs=1) and r0["ttft_ms"] == pytest.approx(400, abs=1)
    # gpt-4o: r0 = 1000 * 2.5 + 20 * 10 = 2700 per million; r1 = 100 * 2.5 + 1000 * 1.25 + 40 * 10 = 1900
    assert r0["cost_usd"] == Decimal("0.0027") and r1["cost_usd"] == Decimal("0.0019")
    # Metadata: trigger, user, task, model, status, timestamps, TTFT, raw request parameters (redacted)
    assert (inv["trigger"], inv["user_id"], inv["task_id"], inv["status"]) == ("task", "u-1", "celery-9", "Success")
    assert inv["started_at"] == dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)
    assert inv["date"] == dt.date(2026, 11, 20) and r1["date"] == inv["date"]
    assert json.loads(r0["request_params"]) == {"model": "gpt-4o", "temperature": 0,
                                                "headers": {"Authorization": "[REDACTED]"}}
    # totals: the response equals the lake equals the sum of rounds
    assert resp.cost_usd == inv["cost_usd"] == r0["cost_usd"] + r1["cost_usd"]
    assert resp.usage["input_tokens"] == inv["input_tokens"] == 2100 and resp.rounds == inv["round_count"] == 2


def test_timeout_failed_and_tool_errors_are_recorded(make_recorder):
    rec = make_recorder()
    clock = SimClock(dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC))
    slow = Agent("a", Scripted([tool_turn("lookup_order", {"order_id": 1}), text_turn("late")], delay=20),
                 "gpt-4o", tools=[lookup_order], recorder=rec)
    with pytest.raises(TimeoutError) as timed_out:
        slow.run("hi", tenant="acme", timeout=30, clock=clock)
    failing = Agent("b", Scripted([tool_turn("broken", {"order_id": 7}), RuntimeError("upstream 500")]),
                    "gpt-4o", tools=[broken], recorder=rec)
    with pytest.raises(RuntimeError) as failed:
        failing.run("hi", tenant="acme")
    odd = Agent("c", Scripted([tool_turn("weird", {}), text_turn("ok")]), "gpt-4o", tools=[weird], recorder=rec)
    odd_resp = odd.run("hi", tenant="acme")
    assert rec.flush()
    inv, rs = trace(rec, timed_out.value.invocation_id)
    assert inv["status"] == "Timeout" and inv["round_count"] == 2
    assert [r["status"] for r in rs] == ["Success", "Timeout"] and rs[0]["cost_usd"] > 0
    # The call that timed out reported no usage: what it cost is unknown, so the run is unpriced, not $0.
    assert rs[1]["cost_usd"] is None and rs[1]["unpriced_reason"] == "missing_usage"
    assert inv["cost_usd"] is None and inv["unpriced"] and inv["unpriced_reason"] == "missing_usage"
    assert timed_out.value.cost_usd is None
    inv, rs = trace(rec, failed.value.invocation_id)
    assert (inv["status"], inv["error_type"], inv["error_message"]) == ("Failed", "RuntimeError", "upstream 500")
    assert json.loads(rs[0]["tool_calls"])[0]["error"] == "KeyError: 'order 7 not found'"
    assert rs[1]["status"] == "Failed" and failed.value.cost_usd == inv["cost_usd"]
    sent_to_model = failing.provider.seen[1][-1]
    assert sent_to_model["role"] == "tool" and "KeyError" in sent_to_model["content"]
    _, rs = trace(rec, odd_resp)
    assert json.loads(rs[0]["tool_calls"])[0]["error"].startswith("UnserializableResult")


def test_round_cap(make_recorder):
    rec = make_recorder()
    agent = Agent("a", Scripted([tool_turn("lookup_order", {"order_id": i}) for i in range(3)]), "gpt-4o",
                  tools=[lookup_order], recorder=rec, max_rounds=3)
    from recorder.agent import MaxRoundsExceeded

    with pytest.raises(MaxRoundsExceeded) as exc:
        agent.run("loop", tenant="acme")
    assert rec.flush()
    inv, rs = trace(rec, exc.value.invocation_id)
    assert inv["status"] == "Failed" and len(rs) == 3


def test_memory_is_injected_and_recorded_across_a_restart(tmp_path):
    lake = str(tmp_path / "lake")

    def agent(rec, answers):
        return Agent("bot", Scripted([text_turn(a) for a in answers]), "gpt-4o", memory=True, recorder=rec)

    rec1 = Recorder(lake=lake, spool_dir=str(tmp_path / "spool"))
    a1 = agent(rec1, ["Hi Ann!", "Your order shipped."])
    first = a1.run("Hello, I am Ann", tenant="acme", session_id="s-1")
    second = a1.run("Where is my order?", tenant="acme", session_id="s-1")
    assert [m["content"] for m in second.memory_context] == ["Hello, I am Ann", "Hi Ann!"]
    rec1.shutdown()
    rec2 = Recorder(lake=lake, spool_dir=str(tmp_path / "spool"))  # a new process, same session
    a2 = agent(rec2, ["You are Ann."])
    third = a2.run("Who am I?", tenant="acme", session_id="s-1")
    other = Agent("bot", Scripted([text_turn("?")]), "gpt-4o", memory=True, recorder=rec2).run(
        "Who am I?", tenant="acme", session_id="s-2")
    assert rec2.flush()
    inv, (r0,) = trace(rec2, third)
    ctx = json.loads(inv["memory_context"])
    assert [(m["role"], m["content"]) for m in ctx] == [
        ("user", "Hello, I am Ann"), ("assistant", "Hi Ann!"), ("user", "Where is my order?"),
        ("assistant", "Your order shipped.")]
    assert [m["invocation_id"] for m in ctx[::2]] == [first.invocation_id, second.invocation_id]
    sent = [m["content"] for m in json.loads(r0["messages"])]
    assert sent == ["Hello, I am Ann", "Hi Ann!", "Where is my order?", "Your order shipped.", "Who am I?"]
    assert trace(rec2, other)[0]["memory_context"] is None
    rec2.shutdown()


def test_costs_response_equals_lake_and_total_cost_is_cumulative(make_recorder):
    rec = make_recorder()
    agent = Agent("support-bot", OfflineProvider(seed=3, failure_rate=0, hang_rate=0), "gpt-4o",
                  tools=[lookup_order], recorder=rec)
    resps = [agent.run(f"question {i}", tenant="acme") for i in range(25)]
    assert rec.flush()
    for resp in resps:
        inv, rs = trace(rec, resp)
        assert resp.cost_usd == inv["cost_usd"] == sum((r["cost_usd"] for r in rs), Decimal(0))
    assert agent.total_cost_usd == sum((r.cost_usd for r in resps), Decimal(0)) > 0


def test_unknown_model_is_unpriced_and_not_in_total(make_recorder):
    rec = make_recorder()
    agent = Agent("t", OfflineProvider(seed=1, failure_rate=0, hang_rate=0), "acme-llm-7b", recorder=rec)
    resp = agent.run("x", tenant="acme")
    assert resp.cost_usd is None and agent.total_cost_usd == 0 and agent.unpriced_runs == 1
    assert rec.flush()
    inv, rs = trace(rec, resp)
    assert inv["unpriced"] and inv["cost_usd"] is None and all(r["unpriced"] for r in rs)


def test_arun_with_async_and_sync_tools(make_recorder):
    async def fetch(order_id: int) -> dict:
        """Async tool."""
        await asyncio.sleep(0)
        return {"order_id": order_id}

    rec = make_recorder()
    agent = Agent("a", Scripted([tool_turn("fetch", {"order_id": 5}), tool_turn("lookup_order", {"order_id": 6}),
                                 text_turn("done")]), "gpt-4o", tools=[fetch, lookup_order], recorder=rec)

    async def main():
        return await asyncio.gather(agent.arun("go", tenant="acme"))

    (resp,) = asyncio.run(main())
    assert rec.flush()
    inv, rs = trace(rec, resp)
    assert [json.loads(r["tool_calls"])[0]["result"] for r in rs[:2]] == [{"order_id": 5},
                                                                         {"order_id": 6, "status": "shipped"}]
    assert inv["status"] == "Success" and resp.text == "done"


def test_arun_timeout(make_recorder):
    class Hangs(Scripted):
        async def acomplete(self, **kw):
            await asyncio.sleep(10)

    rec = make_recorder()
    agent = Agent("a", Hangs([]), "gpt-4o", recorder=rec)
    with pytest.raises(TimeoutError) as exc:
        asyncio.run(agent.arun("x", tenant="acme", timeout=0.2))
    assert rec.flush()
    inv, rs = trace(rec, exc.value.invocation_id)
    assert inv["status"] == "Timeout" and rs[0]["status"] == "Timeout"


def test_files_are_passed_recorded_and_mirrored(make_recorder, tmp_path):
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(b"%PDF-1.4 x")
    rec = make_recorder()
    provider = Scripted([text_turn("read it")])
    agent = Agent("a", provider, "gpt-4o", recorder=rec)
    resp = agent.run("summarize", tenant="acme",
                     files=[LLMFile.from_path(pdf), LLMFile.from_url("https://example.com/a.png")])
    assert rec.flush()
    inv, (r0,) = trace(rec, resp)
    parts = json.loads(r0["messages"])[-1]["content"]
    assert [p["type"] for p in parts] == ["text", "file", "file"] and parts[2]["url"] == "https://example.com/a.png"
    att = json.loads(inv["attachments"])
    assert att[0]["sha256"] and att[0]["uri"] and att[1]["uri"] is None


def test_missing_prompt_variable_is_a_clear_error(make_recorder):
    agent = Agent("a", Scripted([]), "gpt-4o", prompt=PROMPT, recorder=make_recorder())
    with pytest.raises(ValueError, match="customer"):
        agent.run("x", tenant="acme")


def test_demo_covers_the_product_and_is_idempotent(make_recorder):
    rec = make_recorder()
    today = dt.date(2026, 11, 27)
    n = record_demo(rec, tenants=2, days=3, seed=5, runs_per_day=25, today=today, key="t", progress=False)
    assert rec.flush()
    inv = rows(rec.lake, "invocations")
    assert len(inv) == n > 50
    assert {r["trigger"] for r in inv} == {"user", "system", "task"}
    assert {r["status"] for r in inv} >= {"Success", "Failed"}
    assert {r["tenant"] for r in inv} == {"acme", "globex"}
    assert {r["date"] for r in inv} == {today - dt.timedelta(days=d) for d in range(3)}
    assert any(r["unpriced"] for r in inv) and any(r["memory_context"] for r in inv)
    assert any(r["attachments"] for r in inv) and len({r["agent"] for r in inv}) == 5
    sizes = {t: sum(r["tenant"] == t for r in inv) for t in ("acme", "globex")}
    assert sizes["acme"] > sizes["globex"]  # skewed tenant sizes
    again = record_demo(rec, tenants=2, days=3, seed=5, runs_per_day=25, today=today, key="t", progress=False)
    assert again == 0 and rec.flush() and len(rows(rec.lake, "invocations")) == n


def test_session_memory_is_redacted_like_the_tables(tmp_path):
    """A key a user types is masked in the stored memory and in the history injected later, as in the
    invocation tables; the recorder's own redact hook applies to memory too."""
    secret = "sk-CANARYmem0123456789abcdefXYZ"
    rec = Recorder(lake=str(tmp_path / "lake"), spool_dir=str(tmp_path / "spool"),
                   redact=lambda field, v: v.replace("Ann", "[name]") if isinstance(v, str) else v)
    bot = Agent("bot", Scripted([text_turn("Noted."), text_turn("Done.")]), "gpt-4o", memory=True, recorder=rec)
    bot.run(f"Hi, I am Ann, my key is {secret}", tenant="acme", session_id="s-1")
    second = bot.run("Use it", tenant="acme", session_id="s-1")
    assert rec.flush()
    stored = [rec.lake.read(p) for p in rec.lake.find("_memory")]
    assert stored and not any(secret.encode() in b or b"Ann" in b for b in stored)
    injected = second.memory_context[0]["content"]
    assert secret not in injected and "Ann" not in injected and "[name]" in injected
    inv, _ = trace(rec, second)
    assert secret not in inv["memory_context"] and "Ann" not in inv["memory_context"]
    assert rec.shutdown()
    import pathlib

    files = [f for f in pathlib.Path(tmp_path).rglob("*") if f.is_file()]  # lake, spool, everything
    assert any("_memory" in str(f) for f in files)
    assert not [str(f) for f in files if secret.encode() in f.read_bytes()]


def test_memory_with_a_stalled_storage_does_not_hold_the_run_and_is_stored_once_it_answers(tmp_path, monkeypatch):
    import threading

    rec = Recorder(lake=str(tmp_path / "lake"), spool_dir=str(tmp_path / "spool"))
    gate, entered, real_put = threading.Event(), threading.Event(), rec.lake.put

    def stalled(rel, data, **kw):
        if rel.startswith("_memory/"):
            entered.set()
            gate.wait(60)  # a bucket that does not answer
        return real_put(rel, data, **kw)

    monkeypatch.setattr(rec.lake, "put", stalled)
    bot = Agent("bot", Scripted([text_turn("Hi Ann!"), text_turn("Shipped.")]), "gpt-4o", memory=True,
                recorder=rec)
    bot.run("Hello, I am Ann", tenant="acme", session_id="s-1")
    second = bot.run("Where is my order?", tenant="acme", session_id="s-1")
    # both runs returned while the first turn's PUT is still held: nothing is in the lake yet
    assert entered.wait(10)  # the first turn's PUT is held by the bucket, the runs are done
    assert rec.stats()["memory_pending"] == 2 and not rec.lake.find("_memory")
    assert [m["content"] for m in second.memory_context] == ["Hello, I am Ann", "Hi Ann!"]  # from the cache
    gate.set()
    assert rec.flush()
    assert len(rec.lake.find("_memory")) == 2 and rec.stats()["memory_pending"] == 0
    rec.shutdown()


def test_memory_spooled_during_an_outage_is_stored_by_the_next_recorder(tmp_path, monkeypatch):
    lake, spool = str(tmp_path / "lake"), str(tmp_path / "spool")
    rec = Recorder(lake=lake, spool_dir=spool)
    real_put = rec.lake.put

    def down(rel, data, **kw):
        if rel.startswith("_memory/"):
            raise OSError("storage unavailable")
        return real_put(rel, data, **kw)

    monkeypatch.setattr(rec.lake, "put", down)
    Agent("bot", Scripted([text_turn("Hi Ann!")]), "gpt-4o", memory=True, recorder=rec).run(
        "Hello, I am Ann", tenant="acme", session_id="s-1")
    assert not rec.flush(timeout=5)  # the turn is not in the lake: flush says so
    assert rec.stats()["memory_errors"] >= 1 and rec.stats()["memory_pending"] == 1
    rec.shutdown(timeout=2)
    assert not rec.lake.find("_memory") and os.listdir(os.path.join(spool, "memory"))
    rec2 = Recorder(lake=lake, spool_dir=spool)  # a new process, storage back
    third = Agent("bot", Scripted([text_turn("You are Ann.")]), "gpt-4o", memory=True, recorder=rec2)
    assert rec2.flush()
    assert len(rec2.lake.find("_memory")) == 1 and not os.listdir(os.path.join(spool, "memory"))
    reply = third.run("Who am I?", tenant="acme", session_id="s-1")
    assert [m["content"] for m in reply.memory_context] == ["Hello, I am Ann", "Hi Ann!"]
    rec2.shutdown()
