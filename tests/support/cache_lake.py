"""A lake with known prompt-cache reads and writes, recorded through the Anthropic SDK against the loopback
server (tests/warehouse/test_caching.py works out every figure by hand; the dashboard test draws it).

Claude Sonnet 4.5 per million tokens: input $3, cache read $0.30, 5-minute write $3.75, 1-hour write
$6, output $15.
"""

from __future__ import annotations

import datetime as dt

from recorder import Agent, PromptTemplate, Recorder
from recorder.clock import SimClock
from recorder.providers import AnthropicProvider
from tests.support.fake_llm import FakeLLM


def turn(write5=0, write1h=0, read=0):
    return {"text": "ok", "usage": {"input": 100, "output": 50, "cache_creation": write5 + write1h, "cache_read": read},
            "usage_extra": {"cache_creation": {"ephemeral_5m_input_tokens": write5,
                                               "ephemeral_1h_input_tokens": write1h}}}


# (minutes after t0, prompt version, usage): v1 writes, reads back within 5 minutes, writes again and is
# only read 70 minutes later (wasted); v2 writes for an hour and is read back 40 minutes later.
RUNS = [(0, "1", turn(write5=10_000)), (2, "1", turn(read=10_000)), (20, "1", turn(write5=10_000)),
        (30, "2", turn(write1h=8_000)), (70, "2", turn(read=8_000)), (90, "1", turn(read=10_000))]


def record_cache_lake(lake: str, t0: dt.datetime, tenant: str = "acme") -> None:
    fake = FakeLLM()
    try:
        fake.script = [u for _, _, u in RUNS]
        with Recorder(lake=lake) as rec:
            for minutes, version, _ in RUNS:
                agent = Agent("support-bot", AnthropicProvider(api_key="sk-ant-test", base_url=fake.url),
                              "claude-sonnet-4-5", recorder=rec,
                              prompt=PromptTemplate("support", version, system="You help.", user="{message}"))
                agent.run("hi", tenant=tenant, clock=SimClock(t0 + dt.timedelta(minutes=minutes)))
            assert rec.flush()
    finally:
        fake.close()
