"""Agent-side cost of recording one invocation of 3 rounds, against OpenTelemetry spans.

Interleaves, in the same process and run, (a) recording one invocation with 3
rounds of ~2 KB of messages each (``bench/workload.py``) through ``Recorder`` and (b) 4 OpenTelemetry SDK
spans (``start_as_current_span``, a ``BatchSpanProcessor``, a no-op exporter)
carrying the same attributes. Prints median and p99 in microseconds and the
ratios. Run: ``.venv/bin/python -m bench.record_overhead [--n 20000] [--encoder-process]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from bench.workload import PARAMS, USAGE, rounds, user_message
from recorder import Recorder

WORK = [rounds(k) for k in range(500)]  # prebuilt so that building messages is not timed


class NoopExporter(SpanExporter):
    def export(self, spans):
        return SpanExportResult.SUCCESS

    def shutdown(self):
        pass


def record_one(rec: Recorder, k: int) -> None:
    with rec.invocation(tenant="acme", agent="support-bot", provider="openai", model="gpt-4o", trigger="user",
                        user_id="u-1", session_id="s-1", user_message=WORK[k][0][0][1]["content"]) as inv:
        for i, (msgs, text, calls) in enumerate(WORK[k]):
            with inv.round(msgs, request_params=PARAMS) as r:
                r.set_response(text, tool_calls=calls, stop_reason="tool_calls" if calls else "stop",
                               usage=USAGE[i])
                if calls:
                    r.set_tool_result(0, {"status": "in transit"})
        inv.response = text


def otel_one(tracer, k: int) -> None:
    with tracer.start_as_current_span("invocation") as s:
        s.set_attributes({"tenant": "acme", "agent": "support-bot", "provider": "openai", "model": "gpt-4o",
                          "trigger": "user", "user_id": "u-1", "session_id": "s-1",
                          "user_message": user_message(k)})
        for i, (msgs, text, calls) in enumerate(WORK[k]):
            with tracer.start_as_current_span("round") as r:
                r.set_attributes({"messages": [str(m["content"]) for m in msgs], "response": text or "",
                                  "stop_reason": "tool_calls" if calls else "stop",
                                  "tool_calls": [c["name"] for c in calls or []], **USAGE[i],
                                  "temperature": 0, "max_tokens": 512})
        s.set_attribute("response", text or "")


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--encoder-process", action=argparse.BooleanOptionalAction, default=False,
                    help="Recorder(encoder_process=True): the agent's thread also yields the GIL every 64 runs")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="invlog-bench-")
    rec = Recorder(lake=f"{tmp}/lake", max_queue=1_000_000, encoder_process=args.encoder_process)
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NoopExporter()))
    tracer = provider.get_tracer("bench")
    for k in range(2000):  # warm both paths (price cache, imports)
        record_one(rec, k % 500)
        otel_one(tracer, k % 500)
    ours, otel = [], []
    clock = time.perf_counter_ns
    for n in range(args.n):
        k = n % 500
        t0 = clock()
        record_one(rec, k)
        t1 = clock()
        otel_one(tracer, k)
        t2 = clock()
        ours.append((t1 - t0) / 1000)
        otel.append((t2 - t1) / 1000)
    rec.flush(timeout=120)
    stats = rec.stats()
    rec.shutdown()
    provider.shutdown()
    m_o, m_t = statistics.median(ours), statistics.median(otel)
    p_o, p_t = pct(ours, 0.99), pct(otel, 0.99)
    print(f"Recording overhead, {args.n} interleaved iterations (1 invocation x 3 rounds vs 4 OTel spans), "
          f"encoder process {'on' if args.encoder_process else 'off'}")
    print(f"{'':34} {'median us':>10} {'p99 us':>10}")
    print(f"{'invocation-logs (3 rounds)':34} {m_o:10.1f} {p_o:10.1f}")
    print(f"{'OpenTelemetry SDK (4 spans)':34} {m_t:10.1f} {p_t:10.1f}")
    print(f"{'ratio (ours / OTel)':34} {m_o / m_t:10.3f} {p_o / p_t:10.3f}   target <= 0.25 / < 0.5")
    print(f"recorded {stats['written_invocations']} invocations, dropped "
          f"{stats['dropped_queue_full'] + stats['dropped_spool']}")


if __name__ == "__main__":
    main()
