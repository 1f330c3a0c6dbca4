"""The span-to-invocation mapping on its own (recorder.otel.mapping): the shapes the emitter tests do not
produce: older per-message events, OpenLLMetry's flat attributes, Anthropic's token convention, traces
without an agent span, errors and timeouts, provider names."""

import json

import pytest

from recorder.otel.mapping import check_span, map_trace
from recorder.otel.spans import ERROR, Span

TRACE = "0af7651916cd43dd8448eb211c80319c"
T = 1_796_000_000_000_000_000


def span(sid: str, parent: str | None = None, start: float = 0, end: float = 1, status: str = "unset",
         events=(), name: str = "chat", **attrs) -> Span:
    return Span(TRACE, sid.ljust(16, "0"), parent.ljust(16, "0") if parent else None, name, T + int(start * 1e9),
                T + int(end * 1e9), status, "boom" if status == ERROR else None,
                {k.replace("__", "."): v for k, v in attrs.items()}, tuple(events))


MODEL = {"gen_ai__operation__name": "chat", "gen_ai__request__model": "claude-sonnet-4-5",
         "gen_ai__provider__name": "anthropic"}


def test_older_per_message_events_are_read():
    s = span("1", **MODEL, gen_ai__usage__input_tokens=10, gen_ai__usage__output_tokens=2, events=[
        ("gen_ai.system.message", T, {"content": "Be brief."}),
        ("gen_ai.user.message", T, {"content": "Hi"}),
        ("gen_ai.choice", T, {"message": json.dumps({"role": "assistant", "content": "Hello"}),
                              "finish_reason": "stop"})])
    [inv] = map_trace([s])
    assert inv.rounds[0].messages == [{"content": "Be brief.", "role": "system"}, {"content": "Hi", "role": "user"}]
    assert inv.rounds[0].text == "Hello" and inv.system_prompt == "Be brief." and inv.user_message == "Hi"
    old = span("2", **MODEL, events=[("gen_ai.content.prompt", T, {"gen_ai.prompt": json.dumps(
        [{"role": "user", "content": "Yo"}])}), ("gen_ai.content.completion", T, {"gen_ai.completion": json.dumps(
            [{"role": "assistant", "content": "Hey"}])})])
    [inv] = map_trace([old])
    assert inv.user_message == "Yo" and inv.response == "Hey"


def test_openllmetry_flat_attributes_are_read():
    s = span("1", **MODEL, gen_ai__prompt__0__role="user", gen_ai__prompt__0__content="Hi",
             gen_ai__completion__0__role="assistant", gen_ai__completion__0__content="Hello",
             gen_ai__prompt__name="greeting", gen_ai__prompt__version="3")
    [inv] = map_trace([s])
    assert inv.rounds[0].messages == [{"role": "user", "content": "Hi"}] and inv.response == "Hello"
    assert (inv.prompt_name, inv.prompt_version) == ("greeting", "3")


def test_token_convention_holds_whatever_the_source():
    anthropic_way = span("1", **MODEL, gen_ai__usage__input_tokens=200, gen_ai__usage__output_tokens=5,
                         gen_ai__usage__cache_read__input_tokens=1000,
                         gen_ai__usage__cache_creation__input_tokens=300)  # the older name
    [inv] = map_trace([anthropic_way])
    assert inv.rounds[0].usage == {"input_tokens": 1500, "output_tokens": 5, "cache_read_tokens": 1000,
                                   "cache_write_tokens": 300}
    oi = span("2", openinference__span__kind="LLM", llm__model_name="gpt-4o", llm__provider="openai",
              llm__token_count__prompt=1200, llm__token_count__completion=80,
              llm__token_count__prompt_details__cache_read=1000,
              llm__token_count__completion_details__reasoning=30)
    [inv] = map_trace([oi])
    assert inv.rounds[0].usage == {"input_tokens": 1200, "output_tokens": 80, "cache_read_tokens": 1000,
                                   "reasoning_tokens": 30}
    assert (inv.provider, inv.model) == ("openai", "gpt-4o")


def test_agent_usage_is_not_added_and_roots_without_an_agent_are_invocations():
    agent = span("a", name="invoke_agent x", gen_ai__operation__name="invoke_agent", gen_ai__agent__name="x",
                 gen_ai__usage__input_tokens=999)
    call = span("b", "a", **MODEL, gen_ai__usage__input_tokens=10, gen_ai__usage__output_tokens=1)
    [inv] = map_trace([call, agent])
    assert inv.agent == "x" and [r.usage["input_tokens"] for r in inv.rounds] == [10]
    # no agent span: one invocation per root span (a web request root with a model call under it, and another)
    web = span("c", name="POST /chat")
    under = span("d", "c", start=0.2, end=0.8, **MODEL, gen_ai__usage__input_tokens=5)
    lone = span("e", start=2, end=3, **MODEL, gen_ai__usage__input_tokens=7)
    invs = map_trace([lone, under, web])
    assert sorted((i.agent, [r.usage["input_tokens"] for r in i.rounds]) for i in invs) == [
        ("POST /chat", [5]), ("chat", [7])]


def test_status_error_type_and_provider_names():
    failed = span("1", status=ERROR, **{**MODEL, "error__type": "RateLimitError"})
    [inv] = map_trace([failed])
    assert (inv.status, inv.error_type, inv.rounds[0].status) == ("Failed", "RateLimitError", "Failed")
    slow = span("2", **{**MODEL, "error__type": "httpx.ReadTimeout"})
    assert map_trace([slow])[0].status == "Timeout"
    gem = span("3", gen_ai__operation__name="generate_content", gen_ai__provider__name="gcp.gemini",
               gen_ai__request__model="gemini-2.5-flash")
    assert map_trace([gem])[0].provider == "google"
    assert map_trace([span("4", gen_ai__system="openai", gen_ai__operation__name="chat")])[0].provider == "openai"


@pytest.mark.parametrize("bad,why", [
    (span("1", **MODEL, gen_ai__usage__input_tokens=-5), "input_tokens"),
    (span("1", **MODEL, gen_ai__usage__input_tokens="lots"), "token count"),
    (span("1", start=2, end=1), "out of order"),
    (Span(TRACE, "", None, "chat", T, T + 1), "span_id"),
    (Span("0" * 32, "1" * 16, None, "chat", T, T + 1), "trace_id"),
])
def test_bad_spans_are_refused_with_the_reason(bad, why):
    with pytest.raises(ValueError, match=why):
        check_span(bad)


def test_tool_definitions_are_kept_with_the_request_parameters():
    tools = [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]
    s = span("1", **MODEL, gen_ai__request__temperature=0.2, gen_ai__tool__definitions=json.dumps(tools))
    assert map_trace([s])[0].rounds[0].request_params == {"model": "claude-sonnet-4-5", "temperature": 0.2,
                                                            "tools": tools}
    oi = span("2", openinference__span__kind="LLM", llm__model_name="gpt-4o",
              llm__invocation_parameters=json.dumps({"temperature": 0}),
              **{"llm.tools.0.tool.json_schema": json.dumps(tools[0])})
    assert map_trace([oi])[0].rounds[0].request_params == {"temperature": 0, "tools": tools}
