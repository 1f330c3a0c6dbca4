"""OpenAI and Anthropic through their real SDKs against a loopback server in each wire format."""

import json
from decimal import Decimal

import genai_prices
import pytest

from recorder import Agent, PromptTemplate
from recorder.providers import AnthropicProvider, OpenAIProvider
from tests.support.fake_llm import FakeLLM
from tests.support.lakeread import rows

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
    call = json.loads(r0["tool_calls"])[0]
    assert call["duration_us"] >= 0 and call["started_us"] >= 0  # when the tool ran (real clock)
    assert {k: v for k, v in call.items() if not k.endswith("_us")} == {
        "id": "call_1", "name": "lookup_order", "arguments": {"order_id": 42},
        "result": {"order_id": 42, "status": "shipped"}}
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


def _genai_price(provider_id, flavor, model, raw_usage, started_at, ctx=None):
    """genai-prices' own price of the raw body, at the round's instant and tier."""
    found = genai_prices.extract_usage({"model": model, "usage": raw_usage}, provider_id=provider_id,
                                       api_flavor=flavor)
    return found.calc_price(genai_request_timestamp=started_at, price_context=ctx).total_price.quantize(
        Decimal("1e-12"))


@pytest.mark.parametrize("stream", [True, False])
def test_openai_every_billed_field_and_tier_priced_as_genai_prices_prices_the_body(fake, make_recorder, stream):
    raw = {"prompt_tokens": 3000, "completion_tokens": 400, "total_tokens": 3400,
           "prompt_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 512, "audio_tokens": 300},
           "completion_tokens_details": {"reasoning_tokens": 100, "audio_tokens": 50}}
    fake.script = [{"text": "Done.", "raw_usage": raw, "service_tier": "priority"}]
    rec = make_recorder()
    agent = Agent("a", OpenAIProvider(api_key=API_KEY, base_url=fake.url + "/v1", stream=stream), "gpt-5",
                  recorder=rec)
    resp, inv, (r,) = _run(agent, rec)
    assert (r["input_tokens"], r["cache_read_tokens"], r["cache_write_tokens"], r["input_audio_tokens"],
            r["output_tokens"], r["reasoning_tokens"], r["output_audio_tokens"]) == (3000, 1024, 512, 300, 400, 100, 50)
    assert r["service_tier"] == "priority"
    expected = _genai_price("openai", "chat", "gpt-5", raw, r["started_at"], {"service_tier": "priority"})
    assert r["cost_usd"] == inv["cost_usd"] == resp.cost_usd == expected
    assert expected != _genai_price("openai", "chat", "gpt-5", raw, r["started_at"])  # the tier mattered


def test_openai_stream_without_usage_is_unpriced_with_its_reason(fake, make_recorder):
    fake.script = [{"text": "No usage from this server.", "raw_usage": None}]
    rec = make_recorder()
    agent = Agent("a", OpenAIProvider(api_key=API_KEY, base_url=fake.url + "/v1", vendor_id="groq"),
                  "llama-3.3-70b-versatile", recorder=rec)
    resp, inv, (r,) = _run(agent, rec)
    assert resp.cost_usd is None and resp.text == "No usage from this server."
    assert r["cost_usd"] is None and r["unpriced"] and r["unpriced_reason"] == "missing_usage"
    assert inv["cost_usd"] is None and inv["unpriced_reason"] == "missing_usage" and inv["provider"] == "groq"


@pytest.mark.parametrize("stream", [True, False])
def test_openrouter_is_priced_as_itself_and_its_reported_cost_kept_beside_ours(fake, make_recorder, stream):
    raw = {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200, "cost": 0.00123,
           "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}
    fake.script = [{"text": "Hi.", "raw_usage": raw}]
    rec = make_recorder()
    model = "anthropic/claude-sonnet-4.5"
    agent = Agent("a", OpenAIProvider(api_key=API_KEY, base_url=fake.url + "/v1", vendor_id="openrouter",
                                      stream=stream), model, recorder=rec)
    resp, inv, (r,) = _run(agent, rec)
    assert r["provider"] == "openrouter"
    assert r["cost_usd"] == resp.cost_usd == _genai_price("openrouter", "chat", model, raw, r["started_at"])
    assert r["reported_cost_usd"] == inv["reported_cost_usd"] == Decimal("0.00123")
    assert r["reported_cost_usd"] != r["cost_usd"]  # a difference is visible, not hidden


@pytest.mark.parametrize("stream", [True, False])
def test_anthropic_1h_writes_web_searches_and_batch_tier_priced_as_billed(fake, make_recorder, stream):
    extra = {"cache_creation": {"ephemeral_5m_input_tokens": 500, "ephemeral_1h_input_tokens": 1500},
             "server_tool_use": {"web_search_requests": 3}}
    fake.script = [{"text": "Found it.", "usage": {"input": 300, "output": 80, "cache_creation": 2000,
                                                   "cache_read": 4000}, "usage_extra": extra}]
    rec = make_recorder()
    agent = Agent("a", AnthropicProvider(api_key=API_KEY, base_url=fake.url, stream=stream), "claude-sonnet-4-5",
                  recorder=rec)
    resp, inv, (r,) = _run(agent, rec)
    assert (r["input_tokens"], r["cache_read_tokens"], r["cache_write_tokens"], r["cache_write_5m_tokens"],
            r["cache_write_1h_tokens"], r["web_search_requests"]) == (6300, 4000, 2000, 500, 1500, 3)
    raw = json.loads(r["raw_usage"])
    expected = _genai_price("anthropic", "default", "claude-sonnet-4-5", raw, r["started_at"])
    assert r["cost_usd"] == inv["cost_usd"] == resp.cost_usd == expected
    # by hand: 300*3 + 4000*0.3 + 500*3.75 + 1500*6 + 80*15 per million, plus 3 searches at $10 per 1,000
    assert expected == Decimal(900 + 1200 + 1875 + 9000 + 1200) / 10**6 + Decimal("0.03")


RESPONSES_USAGE = {"input_tokens": 2500, "output_tokens": 300, "total_tokens": 2800,
                   "input_tokens_details": {"cached_tokens": 2048}, "output_tokens_details": {"reasoning_tokens": 120}}


@pytest.mark.parametrize("stream", [True, False])
def test_openai_responses_tool_turn_priced_as_genai_prices_prices_the_body(fake, make_recorder, stream):
    from recorder.providers import OpenAIResponsesProvider

    first = {"input_tokens": 900, "output_tokens": 20, "total_tokens": 920,
             "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}
    fake.script = [{"tool": {"id": "call_9", "name": "lookup_order", "args": {"order_id": 42}}, "raw_usage": first},
                   {"text": "Order 42 has shipped.", "raw_usage": RESPONSES_USAGE, "service_tier": "flex"}]
    rec = make_recorder()
    agent = Agent("support-bot", OpenAIResponsesProvider(api_key=API_KEY, base_url=fake.url + "/v1", stream=stream),
                  "gpt-5", tools=[lookup_order], recorder=rec,
                  prompt=PromptTemplate("support", "3", system="You help {customer}.", user="{question}"))
    resp, inv, (r0, r1) = _run(agent, rec)
    assert resp.text == "Order 42 has shipped." and resp.rounds == 2
    assert fake.requests[0]["path"].endswith("/responses")
    assert fake.requests[0]["headers"]["authorization"] == f"Bearer {API_KEY}"
    _no_key_anywhere(rec)
    sent = fake.requests[1]["body"]
    assert sent["instructions"] == "You help Ann."
    assert [i.get("type", i.get("role")) for i in sent["input"]] == ["user", "function_call", "function_call_output"]
    assert sent["input"][2]["type"] == "function_call_output" and sent["input"][2]["call_id"] == "call_9"
    assert json.loads(sent["input"][2]["output"]) == {"result": {"order_id": 42, "status": "shipped"}}
    assert json.loads(r0["tool_calls"])[0]["arguments"] == {"order_id": 42}
    assert (r1["input_tokens"], r1["cache_read_tokens"], r1["output_tokens"], r1["reasoning_tokens"]) == (
        2500, 2048, 300, 120)
    assert r1["service_tier"] == "flex"
    assert r0["cost_usd"] == _genai_price("openai", "responses", "gpt-5", first, r0["started_at"])
    assert r1["cost_usd"] == _genai_price("openai", "responses", "gpt-5", RESPONSES_USAGE, r1["started_at"],
                                          {"service_tier": "flex"})
    assert inv["cost_usd"] == resp.cost_usd == r0["cost_usd"] + r1["cost_usd"]
    if stream:
        assert r0["ttft_ms"] >= 40 and r1["ttft_ms"] >= 40


def test_openai_responses_async_and_no_usage(fake, make_recorder):
    import asyncio

    from recorder.providers import OpenAIResponsesProvider

    fake.script = [{"text": "Hello!", "raw_usage": None}]
    rec = make_recorder()
    agent = Agent("a", OpenAIResponsesProvider(api_key=API_KEY, base_url=fake.url + "/v1"), "gpt-5", recorder=rec)
    resp = asyncio.run(agent.arun("hi", tenant="acme"))
    assert resp.text == "Hello!" and resp.cost_usd is None
    assert rec.flush()
    (r,) = rows(rec.lake, "rounds")
    assert r["unpriced_reason"] == "missing_usage" and r["cost_usd"] is None


GEMINI_USAGE = {"promptTokenCount": 5000, "cachedContentTokenCount": 4096, "candidatesTokenCount": 200,
                "thoughtsTokenCount": 150, "totalTokenCount": 5350,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 4200}, {"modality": "AUDIO",
                                                                                    "tokenCount": 800}],
                "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 3296}, {"modality": "AUDIO",
                                                                                   "tokenCount": 800}]}


@pytest.mark.parametrize("stream", [True, False])
def test_gemini_tool_turn_audio_and_thoughts_priced_as_genai_prices_prices_the_body(fake, make_recorder, stream):
    from recorder.providers import GeminiProvider

    first = {"promptTokenCount": 700, "candidatesTokenCount": 15, "totalTokenCount": 715}
    fake.script = [{"tool": {"name": "lookup_order", "args": {"order_id": 42}}, "raw_usage": first},
                   {"text": "Order 42 has shipped.", "raw_usage": GEMINI_USAGE}]
    rec = make_recorder()
    agent = Agent("support-bot", GeminiProvider(api_key=API_KEY, base_url=fake.url, stream=stream),
                  "gemini-2.5-flash", tools=[lookup_order], recorder=rec,
                  prompt=PromptTemplate("support", "3", system="You help {customer}.", user="{question}"))
    resp, inv, (r0, r1) = _run(agent, rec)
    assert resp.text == "Order 42 has shipped." and resp.rounds == 2 and inv["provider"] == "google"
    assert fake.requests[0]["headers"]["x-goog-api-key"] == API_KEY
    _no_key_anywhere(rec)
    sent = fake.requests[1]["body"]
    assert sent["systemInstruction"]["parts"][0]["text"] == "You help Ann."
    call = json.loads(r0["tool_calls"])[0]
    assert call["name"] == "lookup_order" and call["arguments"] == {"order_id": 42} and call["id"]
    fr = sent["contents"][-1]["parts"][0]["functionResponse"]
    assert fr["name"] == "lookup_order" and fr["id"] == call["id"]  # the result pairs with its call
    assert (r1["input_tokens"], r1["cache_read_tokens"], r1["input_audio_tokens"], r1["output_tokens"],
            r1["reasoning_tokens"]) == (5000, 4096, 800, 350, 150)
    for r, raw in ((r0, first), (r1, GEMINI_USAGE)):
        found = genai_prices.extract_usage({"modelVersion": "gemini-2.5-flash", "usageMetadata": raw},
                                           provider_id="google")
        assert r["cost_usd"] == found.calc_price(genai_request_timestamp=r["started_at"]).total_price.quantize(
            Decimal("1e-12"))
    assert inv["cost_usd"] == resp.cost_usd == r0["cost_usd"] + r1["cost_usd"]
    if stream:  # the first chunk holds the first half of the text; the server waits 50 ms before the second
        assert 0 < r1["ttft_ms"] <= r1["latency_ms"] - 40


def test_gemini_async(fake, make_recorder):
    import asyncio

    from recorder.providers import GeminiProvider

    fake.script = [{"text": "Hello!", "raw_usage": {"promptTokenCount": 10, "candidatesTokenCount": 2}}]
    rec = make_recorder()
    agent = Agent("a", GeminiProvider(api_key=API_KEY, base_url=fake.url), "gemini-2.5-flash", recorder=rec)
    resp = asyncio.run(agent.arun("hi", tenant="acme"))
    assert resp.text == "Hello!" and resp.cost_usd > 0


@pytest.fixture
def aws_env(monkeypatch):
    # boto3 signs every request; the loopback server ignores the signature. No real credentials exist here.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTKEYCANARY000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "TESTKEYCANARYsecret0000000000000000000000")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


BEDROCK_USAGE = {"inputTokens": 400, "outputTokens": 90, "totalTokens": 6490, "cacheReadInputTokens": 4000,
                 "cacheWriteInputTokens": 2000,
                 "cacheDetails": [{"ttl": "5m", "inputTokens": 500}, {"ttl": "1h", "inputTokens": 1500}]}


@pytest.mark.parametrize("stream", [True, False])
def test_bedrock_converse_tool_turn_and_cache_writes_priced_as_genai_prices_prices_the_body(
        fake, make_recorder, aws_env, stream):
    from recorder.providers import BedrockProvider

    first = {"inputTokens": 800, "outputTokens": 25, "totalTokens": 825}
    fake.script = [{"tool": {"id": "tooluse_1", "name": "lookup_order", "args": {"order_id": 42}}, "raw_usage": first},
                   {"text": "Order 42 has shipped.", "raw_usage": BEDROCK_USAGE}]
    rec = make_recorder()
    model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    agent = Agent("support-bot", BedrockProvider(endpoint_url=fake.url, stream=stream), model,
                  tools=[lookup_order], recorder=rec,
                  prompt=PromptTemplate("support", "3", system="You help {customer}.", user="{question}"))
    resp, inv, (r0, r1) = _run(agent, rec)
    assert resp.text == "Order 42 has shipped." and resp.rounds == 2 and inv["provider"] == "aws"
    assert fake.requests[0]["path"].endswith("/converse-stream" if stream else "/converse")
    assert "AWS4-HMAC-SHA256" in fake.requests[0]["headers"]["authorization"]
    text = json.dumps([rows(rec.lake, "invocations"), rows(rec.lake, "rounds")], default=str)
    assert "TESTKEYCANARY" not in text
    sent = fake.requests[1]["body"]
    assert sent["system"] == [{"text": "You help Ann."}]
    assert sent["messages"][-1]["content"][0]["toolResult"]["toolUseId"] == "tooluse_1"
    assert json.loads(r0["tool_calls"])[0]["arguments"] == {"order_id": 42}
    assert (r1["input_tokens"], r1["cache_read_tokens"], r1["cache_write_tokens"], r1["cache_write_5m_tokens"],
            r1["cache_write_1h_tokens"], r1["output_tokens"]) == (6400, 4000, 2000, 500, 1500, 90)
    for r, raw in ((r0, first), (r1, BEDROCK_USAGE)):
        assert r["cost_usd"] == _genai_price("aws", "default", model, raw, r["started_at"])
    assert inv["cost_usd"] == resp.cost_usd == r0["cost_usd"] + r1["cost_usd"]
    if stream:
        assert r1["ttft_ms"] >= 40


def test_bedrock_async_runs_the_same_path(fake, make_recorder, aws_env):
    import asyncio

    from recorder.providers import BedrockProvider

    fake.script = [{"text": "Hello!", "raw_usage": {"inputTokens": 10, "outputTokens": 2, "totalTokens": 12}}]
    rec = make_recorder()
    agent = Agent("a", BedrockProvider(endpoint_url=fake.url), "amazon.nova-lite-v1:0", recorder=rec)
    resp = asyncio.run(agent.arun("hi", tenant="acme"))
    assert resp.text == "Hello!" and resp.cost_usd > 0


def test_anthropic_batch_result_is_priced_at_batch_prices(fake, make_recorder):
    fake.script = [{"text": "Done.", "usage": {"input": 10_000, "output": 2_000}, "usage_extra": {
        "service_tier": "batch"}}]
    rec = make_recorder()
    agent = Agent("a", AnthropicProvider(api_key=API_KEY, base_url=fake.url, stream=False), "claude-sonnet-4-5",
                  recorder=rec)
    resp, _inv, (r,) = _run(agent, rec)
    assert r["batch"] is True and r["service_tier"] is None
    raw = json.loads(r["raw_usage"])
    batch = _genai_price("anthropic", "default", "claude-sonnet-4-5", raw, r["started_at"], {"processing": "batch"})
    assert r["cost_usd"] == resp.cost_usd == batch
    assert batch < _genai_price("anthropic", "default", "claude-sonnet-4-5", raw, r["started_at"])
