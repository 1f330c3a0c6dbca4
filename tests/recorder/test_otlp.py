"""OTLP ingestion: real emitters (the OpenAI SDK instrumented by OpenTelemetry's openai-v2 and by
OpenInference) against the loopback model stub, exported by the official OTLP/HTTP exporter to the
receiver and through the in-process exporter; hand-built protobuf and JSON bodies for order, retries,
keys and bad input."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import json
import os
import time
import urllib.error
import urllib.request
from decimal import Decimal

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan

from recorder import Recorder
from recorder.otlp.keys import Keys, hash_key
from recorder.otlp.server import Receiver
from tests.support.fake_llm import FakeLLM
from tests.support.lakeread import rows
from warehouse import Warehouse

KEY_A, KEY_B = "key-acme-0123456789", "key-globex-0123456789"


@pytest.fixture
def keys_file(tmp_path):
    path = tmp_path / "keys.toml"
    path.write_text(f'[keys]\n"{KEY_A}" = "acme"\n"{hash_key(KEY_B)}" = "globex"\n')  # globex's: a hash only
    return str(path)


@pytest.fixture
def receiver(lake_dir, keys_file, tmp_path):
    rec = Recorder(lake=lake_dir)
    r = Receiver(rec, Keys.load(keys_file), str(tmp_path / "wal"), port=0, settle=0.1, max_body=1 << 20).start()
    yield r
    r.stop()
    rec.shutdown()


def post(r: Receiver, body: bytes, *, key: str | None = KEY_A, ctype: str = "application/x-protobuf",
         encoding: str | None = None) -> tuple[int, dict, bytes]:
    headers = {"Content-Type": ctype}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if encoding:
        headers["Content-Encoding"] = encoding
    req = urllib.request.Request(f"http://127.0.0.1:{r.port}/v1/traces", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        with exc:  # its connection is closed, not left to the garbage collector
            return exc.code, dict(exc.headers), exc.read()


def _kv(k: str, v) -> KeyValue:
    if isinstance(v, bool):
        return KeyValue(key=k, value=AnyValue(bool_value=v))
    if isinstance(v, int):
        return KeyValue(key=k, value=AnyValue(int_value=v))
    return KeyValue(key=k, value=AnyValue(string_value=str(v)))


T0 = int(dt.datetime.now(dt.UTC).replace(microsecond=0).timestamp() * 1e9) - 3_600 * 10**9


def pb_span(trace: str, span: str, parent: str | None, name: str, start_s: float, end_s: float, **attrs) -> PbSpan:
    return PbSpan(trace_id=bytes.fromhex(trace), span_id=bytes.fromhex(span),
                  parent_span_id=bytes.fromhex(parent) if parent else b"", name=name,
                  start_time_unix_nano=T0 + int(start_s * 1e9), end_time_unix_nano=T0 + int(end_s * 1e9),
                  attributes=[_kv(k.replace("__", "."), v) for k, v in attrs.items()])


def request(*spans: PbSpan, resource: dict | None = None) -> ExportTraceServiceRequest:
    rs = ResourceSpans(scope_spans=[ScopeSpans(spans=list(spans))])
    for k, v in (resource or {}).items():
        rs.resource.attributes.append(_kv(k, v))
    return ExportTraceServiceRequest(resource_spans=[rs])


TRACE = "5b8efff798038103d269b633813fc60c"


def agent_trace(trace: str = TRACE) -> list[PbSpan]:
    """An agent span, two model calls (gpt-4o-mini) and a tool call between them."""
    model = {"gen_ai__operation__name": "chat", "gen_ai__provider__name": "openai",
             "gen_ai__request__model": "gpt-4o-mini"}
    return [
        pb_span(trace, "a000000000000001", None, "invoke_agent support", 0, 3, gen_ai__operation__name="invoke_agent",
                gen_ai__agent__name="support", user__id="u-7", gen_ai__conversation__id="s-1",
                invlog__trigger="task", invlog__task_id="t-9",
                gen_ai__usage__input_tokens=999_999),  # agent-level totals: never added on top
        pb_span(trace, "b000000000000001", "a000000000000001", "chat gpt-4o-mini", 0.1, 1.1, **model,
                gen_ai__usage__input_tokens=1200, gen_ai__usage__output_tokens=30,
                gen_ai__usage__cache_read__input_tokens=1000,
                gen_ai__input__messages=json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}]),
                gen_ai__output__messages=json.dumps([{"role": "assistant", "parts": [
                    {"type": "tool_call", "id": "call_1", "name": "lookup", "arguments": {"q": "x"}}]}])),
        pb_span(trace, "c000000000000001", "a000000000000001", "execute_tool lookup", 1.2, 1.5,
                gen_ai__operation__name="execute_tool", gen_ai__tool__name="lookup", gen_ai__tool__call__id="call_1",
                gen_ai__tool__call__result='{"found": 3}'),
        pb_span(trace, "b000000000000002", "a000000000000001", "chat gpt-4o-mini", 1.6, 2.9, **model,
                gen_ai__usage__input_tokens=1300, gen_ai__usage__output_tokens=20,
                gen_ai__usage__cost="0.00099",
                gen_ai__output__messages=json.dumps([{"role": "assistant", "parts": [
                    {"type": "text", "content": "Three found."}]}])),
    ]


# gpt-4o-mini: $0.15/M input, $0.075/M cached input, $0.60/M output
ROUND0 = Decimal(200 * 15 + 1000 * 75 // 10 + 30 * 60) / Decimal(10**8)  # 0.000123
ROUND1 = Decimal(1300 * 15 + 20 * 60) / Decimal(10**8)  # 0.000207


def wait_for(lake: str, tenant: str, n: int, timeout: float = 20.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        today = dt.datetime.now(dt.UTC).date()
        df, total = Warehouse(lake, refresh_interval=0).invocations(tenant, today - dt.timedelta(days=1), today,
                                                                  limit=50)
        if total >= n or time.monotonic() > deadline:
            return df.to_dicts()
        time.sleep(0.2)


def flushed(r: Receiver) -> None:
    r.assembler.tick(force=True)
    assert r.recorder.flush(30)


def test_an_agent_trace_is_one_invocation_priced_by_us(receiver, lake_dir):
    status, headers, body = post(receiver, request(*agent_trace()).SerializeToString())
    assert status == 200 and headers["Content-Type"] == "application/x-protobuf"
    assert not ExportTraceServiceResponse.FromString(body).HasField("partial_success")
    flushed(receiver)
    [inv] = wait_for(lake_dir, "acme", 1)
    assert (inv["agent"], inv["model"], inv["provider"], inv["trigger"], inv["user_id"], inv["session_id"]) == (
        "support", "gpt-4o-mini", "openai", "task", "u-7", "s-1")
    assert (inv["input_tokens"], inv["output_tokens"], inv["cache_read_tokens"]) == (2500, 50, 1000)
    assert inv["cost_usd"] == ROUND0 + ROUND1 and inv["round_count"] == 2
    assert inv["latency_ms"] == 3000.0
    full = Warehouse(lake_dir).trace("acme", inv["invocation_id"])
    r0, r1 = full["rounds"].to_dicts()
    calls = json.loads(r0["tool_calls"])
    assert calls == [{"id": "call_1", "name": "lookup", "arguments": {"q": "x"}, "result": {"found": 3},
                      "started_us": 1_100_000, "duration_us": 300_000}]
    assert r1["reported_cost_usd"] == Decimal("0.00099") and r1["cost_usd"] == ROUND1  # theirs beside ours
    assert [m["content"] for m in json.loads(r0["messages"])] == ["Hi"]
    stored = rows(receiver.recorder.lake, "invocations")[0]
    assert stored["task_id"] == "t-9" and stored["response"] == "Three found."


def test_json_retries_and_reverse_order_across_batches(receiver, lake_dir):
    spans = agent_trace()
    as_json = json_format.MessageToDict(request(*spans[::-1][:2]))
    for rs in as_json["resourceSpans"]:  # OTLP/JSON: ids in hex
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                for k in ("traceId", "spanId", "parentSpanId"):
                    if k in s:
                        s[k] = __import__("base64").b64decode(s[k]).hex()
    body = json.dumps(as_json).encode()
    for _ in range(3):  # the exporter retries the same batch
        status, headers, answer = post(receiver, body, ctype="application/json")
        assert status == 200 and headers["Content-Type"] == "application/json" and json.loads(answer) == {}
    later = request(*spans[::-1][2:]).SerializeToString()  # the root comes last, in another batch
    assert post(receiver, later)[0] == 200
    assert post(receiver, gzip.compress(later), encoding="gzip")[0] == 200  # again, gzipped
    flushed(receiver)
    invs = wait_for(lake_dir, "acme", 1)
    assert len(invs) == 1 and invs[0]["round_count"] == 2 and invs[0]["cost_usd"] == ROUND0 + ROUND1
    assert receiver.assembler.duplicates == 2 * 2 + 2


def test_the_tenant_is_the_keys_whatever_the_attributes_say(receiver, lake_dir):
    spans = agent_trace()
    spans[0].attributes.append(_kv("tenant", "globex"))
    status, _, body = post(receiver, request(*spans, resource={"invlog.tenant": "globex", "tenant": "globex"})
                           .SerializeToString())
    assert status == 200
    for key in (None, "wrong-key-0123456789"):  # no key or an unknown one: 401 and nothing stored
        status, _, body = post(receiver, request(*agent_trace("6b8efff798038103d269b633813fc60c"))
                               .SerializeToString(), key=key)
        assert status == 401 and b"API key" in body
    assert post(receiver, request(*agent_trace("7b8efff798038103d269b633813fc60c")).SerializeToString(),
                key=KEY_B)[0] == 200  # globex's own key (written hashed in the file)
    flushed(receiver)
    assert len(wait_for(lake_dir, "acme", 1)) == 1
    assert len(wait_for(lake_dir, "globex", 1)) == 1
    lake = os.listdir(os.path.join(lake_dir, "invocations"))
    assert sorted(lake) == ["tenant=acme", "tenant=globex"]


def test_bad_input_is_refused_clearly_and_the_server_keeps_serving(receiver, lake_dir):
    assert post(receiver, b"\xff\xff\xff not protobuf")[0] == 400
    status, _, body = post(receiver, b"{not json", ctype="application/json")
    assert status == 400 and b"JSON" in body
    assert post(receiver, b"{}", ctype="text/plain")[0] == 415
    bomb = gzip.compress(b"\0" * (50 << 20))  # 50 MB of zeros in ~50 kB
    status, _, body = post(receiver, bomb, encoding="gzip")
    assert status == 413 and b"inflates" in body
    status, _, _ = post(receiver, b"x" * ((1 << 20) + 1))
    assert status == 413
    no_ids = pb_span(TRACE, "d000000000000001", None, "chat", 0, 1, gen_ai__operation__name="chat")
    no_ids.span_id = b""
    absurd = pb_span(TRACE, "d000000000000002", None, "chat", 0, 1, gen_ai__operation__name="chat",
                     gen_ai__request__model="gpt-4o-mini", gen_ai__usage__input_tokens=10**15)
    bad_trigger = pb_span(TRACE, "d000000000000003", None, "chat", 0, 1, gen_ai__operation__name="chat",
                          invlog__trigger="cron")
    status, _, body = post(receiver, request(no_ids, absurd, bad_trigger).SerializeToString())
    partial = ExportTraceServiceResponse.FromString(body).partial_success
    assert status == 200 and partial.rejected_spans == 3
    assert "span_id" in partial.error_message and "d000000000000002" in partial.error_message
    # still answering, and a good trace goes in whole
    assert post(receiver, request(*agent_trace("8b8efff798038103d269b633813fc60c")).SerializeToString())[0] == 200
    flushed(receiver)
    [inv] = wait_for(lake_dir, "acme", 1)
    assert inv["round_count"] == 2


def test_an_acknowledged_batch_survives_a_crash_of_the_receiver(lake_dir, keys_file, tmp_path):
    rec = Recorder(lake=lake_dir)
    first = Receiver(rec, Keys.load(keys_file), str(tmp_path / "wal"), port=0, settle=60)  # never settles
    first.httpd_thread = first.start()
    assert post(first, request(*agent_trace()).SerializeToString())[0] == 200
    first.httpd.shutdown()  # the process dies here: nothing recorded yet, the batch is only in the log
    first.httpd.server_close()
    assert rows(rec.lake, "invocations") == []
    again = Receiver(rec, Keys.load(keys_file), str(tmp_path / "wal"), port=0, settle=0.1).start()
    flushed(again)
    [inv] = wait_for(lake_dir, "acme", 1)
    assert inv["cost_usd"] == ROUND0 + ROUND1
    again.stop()
    assert os.listdir(tmp_path / "wal") == []  # recorded and flushed: the log is cleaned
    rec.shutdown()


# ---- real emitters ---------------------------------------------------------------------------------------

SCRIPT = [{"usage": {"prompt": 1200, "completion": 30, "cached": 1000},
           "tool": {"id": "call_1", "name": "lookup", "args": {"q": "x"}}},
          {"usage": {"prompt": 1300, "completion": 20, "cached": 1000}, "text": "Three found."}]


def _run_agent(tp, instrumentor) -> None:
    """An app's agent: an invoke_agent span, a model call asking for a tool, the tool, a streamed answer."""
    import openai

    fake = FakeLLM()
    fake.script = [dict(t) for t in SCRIPT]
    instrumentor.instrument(tracer_provider=tp)
    client = openai.OpenAI(base_url=fake.url + "/v1", api_key="sk-test", max_retries=0)
    try:
        tracer = tp.get_tracer("app")
        with tracer.start_as_current_span("invoke_agent support", attributes={
                "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support", "user.id": "u-1"}):
            client.chat.completions.create(model="gpt-4o-mini", messages=[
                {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Find x"}])
            with tracer.start_as_current_span("execute_tool lookup", attributes={
                    "gen_ai.operation.name": "execute_tool", "gen_ai.tool.call.id": "call_1",
                    "gen_ai.tool.name": "lookup", "gen_ai.tool.call.result": '{"found": 3}'}):
                time.sleep(0.01)
            for _ in client.chat.completions.create(model="gpt-4o-mini", messages=[
                    {"role": "user", "content": "Find x"}], stream=True, stream_options={"include_usage": True}):
                pass
    finally:
        client.close()  # its connections, not left to the garbage collector
        instrumentor.uninstrument()
        fake.close()


def _run_pydantic_ai(tp) -> None:
    """pydantic-ai's own instrumentation: an agent with a tool, on an OpenAI-compatible model (the stub)."""
    from pydantic_ai import Agent
    from pydantic_ai.models.instrumented import InstrumentationSettings
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    fake = FakeLLM()
    fake.script = [dict(t) for t in SCRIPT]
    before = Agent._instrument_default
    Agent.instrument_all(InstrumentationSettings(tracer_provider=tp, include_content=True))
    try:
        provider = OpenAIProvider(base_url=fake.url + "/v1", api_key="sk-test")
        agent = Agent(OpenAIChatModel("gpt-4o-mini", provider=provider), name="support", instructions="Be brief.")

        @agent.tool_plain
        def lookup(q: str) -> dict:
            return {"found": 3}

        async def run() -> str:
            try:
                return (await agent.run("Find x")).output
            finally:
                await provider.client.close()  # its connections, in the loop that opened them

        assert asyncio.run(run()) == "Three found."
    finally:
        Agent.instrument_all(before)
        fake.close()


def _emit(which: str, tp, monkeypatch) -> None:
    if which == "pydantic-ai":
        _run_pydantic_ai(tp)
    else:
        _run_agent(tp, _instrumentor(which, monkeypatch))


def _instrumentor(which: str, monkeypatch):
    if which == "openai-v2":
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
        monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    else:
        from openinference.instrumentation.openai import OpenAIInstrumentor
    return OpenAIInstrumentor()


# openai-v2 reports no cached tokens (it does not read prompt_tokens_details): every input token at the full
# price; OpenInference reports them. Each emitter's own data, priced exactly.
EXPECTED = {"openai-v2": (0, Decimal("0.000405"), "u-1"), "openinference": (2000, Decimal("0.000255"), "u-1"),
            "pydantic-ai": (2000, Decimal("0.000255"), None)}


def _comparable(lake: str, tenant: str) -> dict:
    [inv] = wait_for(lake, tenant, 1)
    rounds = Warehouse(lake).trace(tenant, inv["invocation_id"])["rounds"].to_dicts()
    for r in rounds:
        calls = json.loads(r["tool_calls"]) if r["tool_calls"] else None
        r["tool_calls"] = [{k: v for k, v in c.items() if k not in ("started_us", "duration_us")}
                           for c in calls] if calls else None
    keep = ("model", "input_tokens", "output_tokens", "cache_read_tokens", "cost_usd", "stop_reason", "messages",
            "response", "tool_calls", "status")
    return {"invocation": {k: inv[k] for k in ("agent", "provider", "model", "input_tokens", "output_tokens",
                                               "cache_read_tokens", "cost_usd", "round_count", "user_id", "status")},
            "rounds": [{k: r[k] for k in keep} for r in rounds]}


@pytest.mark.parametrize("which", ["openai-v2", "openinference", "pydantic-ai"])
def test_real_emitters_over_otlp_and_in_process_record_the_same(which, receiver, lake_dir, tmp_path, monkeypatch):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from recorder.otel import InvocationExporter

    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(
        endpoint=f"http://127.0.0.1:{receiver.port}/v1/traces", headers={"Authorization": f"Bearer {KEY_A}"})))
    _emit(which, tp, monkeypatch)
    tp.shutdown()
    flushed(receiver)
    over_otlp = _comparable(lake_dir, "acme")

    lake2 = str(tmp_path / "lake2")
    rec2 = Recorder(lake=lake2)
    exporter = InvocationExporter(recorder=rec2, tenant="acme", settle=0.1)
    tp2 = TracerProvider()
    tp2.add_span_processor(BatchSpanProcessor(exporter))
    _emit(which, tp2, monkeypatch)
    tp2.shutdown()
    rec2.flush(30)
    in_process = _comparable(lake2, "acme")
    rec2.shutdown()

    assert over_otlp == in_process
    inv = over_otlp["invocation"]
    cached, cost, user = EXPECTED[which]
    assert (inv["agent"], inv["model"], inv["round_count"], inv["user_id"], inv["status"]) == (
        "support", "gpt-4o-mini", 2, user, "Success")
    assert (inv["input_tokens"], inv["output_tokens"], inv["cache_read_tokens"]) == (2500, 50, cached)
    assert inv["cost_usd"] == cost
    r0, r1 = over_otlp["rounds"]
    assert r0["tool_calls"] == [{"id": "call_1", "name": "lookup", "arguments": {"q": "x"}, "result": {"found": 3}}]
    assert r1["response"] == "Three found." and r0["stop_reason"] in ("tool_calls", "tool_call")  # as each sent it
    assert json.loads(r0["messages"])[-1] == {"role": "user", "content": "Find x"}


def test_the_trace_page_shows_an_ingested_run_like_a_native_one(receiver, lake_dir, monkeypatch):
    from tests.support.apptest import app

    assert post(receiver, request(*agent_trace()).SerializeToString())[0] == 200
    flushed(receiver)
    [inv] = wait_for(lake_dir, "acme", 1)
    at = app(lake_dir, monkeypatch, page="pages/trace.py", tenant="acme", id=inv["invocation_id"])
    assert at.title[0].value.startswith("Trace · ")
    assert [t.label for t in at.tabs[:4]] == ["Request / Response", "Prompt", "Cost breakdown", "Metadata"]
    assert any(m.label == "Cost" and m.value == "$0.00033" for m in at.metric), [(m.label, m.value) for m in at.metric]
    assert any("`lookup` · 300 ms" in md.value for md in at.markdown)  # the tool call, with its duration
    meta = [j.value for j in at.json if "opentelemetry_trace_id" in str(j.value)]
    assert meta and json.loads(meta[0])["opentelemetry_trace_id"] == TRACE
    timeline = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [str(n) for t in timeline["data"] for n in (t.get("y") or [])]
    assert any("lookup" in n for n in names), names  # nested under its round in the timeline


def test_the_receiver_command_line(lake_dir, keys_file, tmp_path):
    """``python -m recorder.otlp`` as documented: serves, takes a batch, records it on SIGTERM; a bad keys
    file is one line and exit 2; ``hash-key`` prints the form the keys file takes."""
    import signal
    import subprocess
    import sys

    from tests.support import ROOT
    from tests.support.servers import free_port

    bad = tmp_path / "bad.toml"
    bad.write_text('[keys]\n"short" = "acme"\n')
    out = subprocess.run([sys.executable, "-m", "recorder.otlp", "--lake", lake_dir, "--keys", str(bad)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0 and "too short" in out.stderr
    out = subprocess.run([sys.executable, "-m", "recorder.otlp", "hash-key"], input=KEY_B + "\n", cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == hash_key(KEY_B)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "invlog", "otlp", "--lake", lake_dir, "--keys", keys_file,
                             "--port", str(port), "--wal", str(tmp_path / "wal")], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert "OTLP receiver on http://127.0.0.1:" in proc.stdout.readline()

        class At:  # post() needs only the port
            pass

        at = At()
        at.port = port
        assert post(at, request(*agent_trace()).SerializeToString())[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        proc.stdout.close()
    [inv] = wait_for(lake_dir, "acme", 1)
    assert inv["cost_usd"] == ROUND0 + ROUND1


def test_late_spans_are_a_follow_up_and_a_rootless_trace_is_incomplete(lake_dir, keys_file, tmp_path):
    """A span that arrives after its trace was recorded is kept (a follow-up invocation of the same trace_id,
    marked incomplete) so that every total is exact; a retry of recorded spans adds nothing; a trace whose
    root never comes is recorded after max_wait, marked incomplete."""
    rec = Recorder(lake=lake_dir)
    clock = [0.0]
    r = Receiver(rec, Keys.load(keys_file), str(tmp_path / "wal"), port=0, settle=1.0, max_wait=10.0)
    r.assembler._clock = lambda: clock[0]  # the assembler's time, moved by hand; ticked by hand (no ticker)
    import threading

    threading.Thread(target=r.httpd.serve_forever, daemon=True).start()
    try:
        agent, first, tool, second = agent_trace()
        assert post(r, request(agent, first, tool).SerializeToString())[0] == 200
        clock[0] = 2.0
        assert r.assembler.tick() == 1  # root in, quiet for settle: recorded without the second call
        assert post(r, request(agent, first, second).SerializeToString())[0] == 200  # a retry, and a late span
        rootless = agent_trace("9b8efff798038103d269b633813fc60c")[1:2]  # a model call whose agent span is lost
        assert post(r, request(*rootless).SerializeToString())[0] == 200
        clock[0] = 3.5
        assert r.assembler.tick() == 1  # the follow-up; the rootless trace waits for its root
        clock[0] = 13.0
        assert r.assembler.tick() == 1  # max_wait: recorded with what came
        assert rec.flush(30)
        invs = sorted(wait_for(lake_dir, "acme", 3), key=lambda i: i["started_at"])
        stored = {i["invocation_id"]: i for i in rows(rec.lake, "invocations")}
        by_trace: dict = {}
        for i in invs:
            by_trace.setdefault(stored[i["invocation_id"]]["trace_id"], []).append(stored[i["invocation_id"]])
        main, follow = sorted(by_trace[TRACE], key=lambda i: bool(i["incomplete"]))
        assert len(by_trace[TRACE]) == 2 and not main["incomplete"] and follow["incomplete"]
        assert main["cost_usd"] + follow["cost_usd"] == ROUND0 + ROUND1  # nothing lost, nothing twice
        assert main["round_count"] + follow["round_count"] == 2 and r.assembler.duplicates == 2
        [lonely] = by_trace["9b8efff798038103d269b633813fc60c"]
        assert lonely["incomplete"] and lonely["cost_usd"] == ROUND0
    finally:
        r.stop()
        rec.shutdown()


def test_a_full_disk_is_503_with_retry_after_and_the_retry_goes_in_once(receiver, lake_dir, monkeypatch):
    """The write-ahead log cannot be written (ENOSPC): not acknowledged (503 + Retry-After), the exporter's
    retry after the disk recovers is taken, and the trace is recorded once."""
    import errno

    real = receiver.wal.append

    def full(*a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(receiver.wal, "append", full)
    body = request(*agent_trace()).SerializeToString()
    status, headers, answer = post(receiver, body)
    assert status == 503 and headers["Retry-After"] == "10" and b"retry later" in answer
    monkeypatch.setattr(receiver.wal, "append", real)
    assert post(receiver, body)[0] == 200
    flushed(receiver)
    [inv] = wait_for(lake_dir, "acme", 1)
    assert inv["cost_usd"] == ROUND0 + ROUND1 and inv["round_count"] == 2
    # too many traces waiting: 503 as well, before the body is parsed
    monkeypatch.setattr(receiver, "max_pending", 0)
    status, headers, _ = post(receiver, body)
    assert status == 503 and "Retry-After" in headers


def test_a_stalled_client_is_dropped_and_others_are_served(lake_dir, keys_file, tmp_path):
    import socket

    rec = Recorder(lake=lake_dir)
    r = Receiver(rec, Keys.load(keys_file), str(tmp_path / "wal"), port=0, read_timeout=0.5).start()
    try:
        slow = socket.create_connection(("127.0.0.1", r.port))
        slow.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n")  # and then nothing
        assert post(r, request(*agent_trace()).SerializeToString())[0] == 200  # served meanwhile
        slow.settimeout(5)
        assert slow.recv(100) == b""  # closed by the receiver after its read timeout
        slow.close()
    finally:
        r.stop()
        rec.shutdown()


def test_the_log_keeps_every_frame_when_writers_race_its_rotation(tmp_path):
    """Four writers, a segment sealed every millisecond: every acknowledged frame is on disk and replays
    (a sealed segment is fsynced before it is closed; a group commit never syncs a closed file)."""
    import threading

    from recorder.otel.spans import Span
    from recorder.otlp.wal import WAL

    wal = WAL(str(tmp_path / "wal"), rotate=0.001)
    spans = [Span(TRACE, "a000000000000001", None, "x", 1, 2)]
    errors: list = []

    def write() -> None:
        for _ in range(300):
            try:
                wal.append("acme", "application/x-protobuf", b"", spans)
            except Exception as exc:  # counted: none is expected
                errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wal.close()
    assert errors == [] and sum(1 for _ in WAL(str(tmp_path / "wal")).replay()) == 1200


def test_the_receiver_process_keeps_the_collector_out_of_the_way():
    """recorder/otlp/process.py: start-up objects frozen, a young generation of 20,000; cycles still collected."""
    import subprocess
    import sys

    code = ("import gc; from recorder.otlp.process import tune_gc, YOUNG; tune_gc(); "
            "a = []; a.append(a); import weakref\n"
            "class C: pass\n"
            "c = C(); c.self = c; r = weakref.ref(c); del c, a; gc.collect()\n"
            "print(gc.get_threshold()[0] == YOUNG, gc.get_freeze_count() > 1000, r() is None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert out.stdout.split() == ["True", "True", "True"], out.stdout + out.stderr
