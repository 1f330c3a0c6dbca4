"""OpenAI and Anthropic through their real SDKs against a loopback server in each wire format."""

import json
from decimal import Decimal

import pytest

from recorder import Agent, PromptTemplate
from recorder.providers import AnthropicProvider, OpenAIProvider
from tests.fake_llm import FakeLLM
from tests.lakeread import rows

API_KEY = "sk-TESTKEYCANARY0000000000000000"


def lookup_order(order_id: int) -> dict:
    """Look up an order."""
    return {"order_id": order_id, "status": "shipped"}


@pytest.fixture
def fake():
    server = FakeLLM()
    yield server
    server.close()


def _run(agent, rec):
    resp = agent.run("Where is order 42?", tenant="acme", user_id="u-1", variables={"customer": "Ann"}, timeout=30)
    assert rec.flush()
    inv = {r["invocation_id"]: r for r in rows(rec.lake, "invocations")}[resp.invocation_id]
    rounds = sorted((r for r in rows(rec.lake, "rounds") if r["invocation_id"] == resp.invocation_id),
                    key=lambda r: r["round_index"])
    return resp, inv, rounds


def _no_key_anywhere(rec):
    text = json.dumps([rows(rec.lake, "invocations"), rows(rec.lake, "rounds")], default=str)
    assert "TESTKEYCANARY" not in text


@pytest.mark.parametrize("stream", [True, False])
def test_openai_tool_turn_cached_prompt_and_tokens(fake, make_recorder, stream):
    fake.script = [
        {"tool": {"id": "call_1", "name": "lookup_order", "args": {"order_id": 42}},
         "usage": {"prompt": 1200, "completion": 30, "cached": 0}},
        {"text": "Order 42 has shipped.", "usage": {"prompt": 1300, "completion": 25, "cached": 1024,
                                                    "reasoning": 10}},
    ]
    rec = make_recorder()
    agent = Agent("support-bot", OpenAIProvider(api_key=API_KEY, base_url=fake.url + "/v1", stream=stream),
                  "gpt-4o", tools=[lookup_order], recorder=rec,
                  prompt=PromptTemplate("support", "3", system="You help {customer}.", user="{question}"))
    resp, inv, rounds = _run(agent, rec)
    assert resp.text == "Order 42 has shipped." and resp.status == "Success" and resp.rounds == 2
    # the key went over the wire, and nowhere else
    assert fake.requests[0]["headers"]["authorization"] == f"Bearer {API_KEY}"
    _no_key_anywhere(rec)
    r0, r1 = rounds
    assert json.loads(r0["tool_calls"]) == [{"id": "call_1", "name": "lookup_order", "arguments": {"order_id": 42},
                                             "result": {"order_id": 42, "status": "shipped"}}]
    assert (r1["input_tokens"], r1["cache_read_tokens"], r1["output_tokens"], r1["reasoning_tokens"]) == (
        1300, 1024, 25, 10)
    raw = json.loads(r1["raw_usage"])
    # the buckets add up against the raw usage: OpenAI's prompt_tokens already include the cached ones
    assert r1["input_tokens"] == raw["prompt_tokens"] and r1["cache_read_tokens"] == raw["prompt_tokens_details"][
        "cached_tokens"]
    assert r1["output_tokens"] == raw["completion_tokens"]
    # gpt-4o: (276 * 2.5 + 1024 * 1.25 + 25 * 10) / 1e6 = (690 + 1280 + 250) / 1e6
    assert r1["cost_usd"] == Decimal("0.00222")
    assert inv["cost_usd"] == r0["cost_usd"] + r1["cost_usd"] == resp.cost_usd
    assert inv["provider"] == "openai" and inv["system_prompt"] == "You help Ann."
    assert inv["user_message"] == "Where is order 42?"
    sent = fake.requests[1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool"]
    if stream:
        assert r0["ttft_ms"] >= 40 and r1["ttft_ms"] >= 40  # the server waits 50 ms before the first delta
        assert fake.requests[0]["body"]["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("stream", [True, False])
def test_anthropic_tool_turn_cache_write_and_read(fake, make_recorder, stream):
    fake.script = [
        {"tool": {"id": "toolu_1", "name": "lookup_order", "args": {"order_id": 42}},
         "usage": {"input": 200, "output": 40, "cache_creation": 2000, "cache_read": 0}},
        {"text": "It shipped.", "usage": {"input": 150, "output": 12, "cache_creation": 0, "cache_read": 2000}},
    ]
    rec = make_recorder()
    agent = Agent("support-bot", AnthropicProvider(api_key=API_KEY, base_url=fake.url, stream=stream),
                  "claude-sonnet-4-5", tools=[lookup_order], recorder=rec,
                  prompt=PromptTemplate("support", "3", system="You help {customer}.", user="{question}"))
    resp, inv, rounds = _run(agent, rec)
    assert resp.text == "It shipped." and resp.rounds == 2
    h = fake.requests[0]["headers"]
    assert API_KEY in h.get("x-api-key", "") + h.get("authorization", "")  # SDK versions differ on the header
    _no_key_anywhere(rec)
    r0, r1 = rounds
    # Anthropic reports input without the cache: ours includes creation and read
    assert (r0["input_tokens"], r0["cache_write_tokens"], r0["cache_read_tokens"]) == (2200, 2000, 0)
    assert (r1["input_tokens"], r1["cache_write_tokens"], r1["cache_read_tokens"]) == (2150, 0, 2000)
    raw = json.loads(r0["raw_usage"])
    assert r0["input_tokens"] == raw["input_tokens"] + raw["cache_creation_input_tokens"] + raw[
        "cache_read_input_tokens"]
    # claude-sonnet-4-5: 200 * 3 + 2000 * 3.75 + 40 * 15 = 8700 per million
    assert r0["cost_usd"] == Decimal("0.0087")
    assert inv["cost_usd"] == resp.cost_usd == r0["cost_usd"] + r1["cost_usd"]
    second = fake.requests[1]["body"]
    assert second["system"] == "You help Ann."
    assert second["messages"][-1]["content"][0]["type"] == "tool_result"
    if stream:
        assert r0["ttft_ms"] >= 40


def test_async_openai_run(fake, make_recorder):
    import asyncio

    fake.script = [{"text": "Hello!", "usage": {"prompt": 10, "completion": 2}}]
    rec = make_recorder()
    agent = Agent("a", OpenAIProvider(api_key=API_KEY, base_url=fake.url + "/v1"), "gpt-4o-mini", recorder=rec)
    resp = asyncio.run(agent.arun("hi", tenant="acme"))
    assert resp.text == "Hello!" and rec.flush()
    (inv,) = rows(rec.lake, "invocations")
    assert inv["status"] == "Success" and inv["input_tokens"] == 10
