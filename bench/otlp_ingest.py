"""Sustained OTLP ingestion: model-call spans per second through the receiver, durable, on one core.

``python -m bench.otlp_ingest [--requests 40] [--traces 128]``

The receiver runs in its own process pinned to core 0 (``taskset``), over a fresh local
lake, with durability on (each batch fsynced in the write-ahead log before its 200, the
recorder's spool fsynced too). The client (this process, core 1) posts protobuf bodies of
512 spans: ``--traces`` traces of one ``invoke_agent`` span and three model calls, each
call with about 2 KB of messages, from ``--clients`` exporters at once (4; each with its own
keep-alive connection, one request at a time, as a ``BatchSpanProcessor`` sends). Timed
from the first request to the receiver having recorded every invocation and flushed it to
the lake. Baseline in the same run: the
recorder's own low-level API recording the same invocations (three rounds, same texts)
in a process pinned the same way. Prints spans/s, the ratio, and request latency p50/p99.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "bench-key-0123456789"
TEXT = ("Summarise the customer's last three orders and tell me which one is late, and why. " * 12)[:1000]


def build(requests: int, traces: int) -> list[bytes]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

    def kv(k: str, v: object) -> KeyValue:
        return KeyValue(key=k, value=AnyValue(int_value=v) if isinstance(v, int) else AnyValue(string_value=str(v)))

    t0 = time.time_ns() - 3_600 * 10**9
    msgs_in = json.dumps([{"role": "user", "parts": [{"type": "text", "content": TEXT}]}])
    msgs_out = json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": TEXT}]}])
    bodies = []
    n = 0
    for _ in range(requests):
        spans = []
        for _ in range(traces):
            n += 1
            trace = n.to_bytes(16, "big")
            root = (n * 4).to_bytes(8, "big")
            start = t0 + n * 1_000_000
            spans.append(Span(trace_id=trace, span_id=root, name="invoke_agent bench", start_time_unix_nano=start,
                              end_time_unix_nano=start + 900_000_000, attributes=[
                                  kv("gen_ai.operation.name", "invoke_agent"), kv("gen_ai.agent.name", "bench")]))
            for k in range(3):
                s = start + k * 300_000_000
                spans.append(Span(
                    trace_id=trace, span_id=(n * 4 + k + 1).to_bytes(8, "big"), parent_span_id=root,
                    name="chat gpt-4o-mini", start_time_unix_nano=s, end_time_unix_nano=s + 250_000_000,
                    attributes=[kv("gen_ai.operation.name", "chat"), kv("gen_ai.provider.name", "openai"),
                                kv("gen_ai.request.model", "gpt-4o-mini"), kv("gen_ai.usage.input_tokens", 1200),
                                kv("gen_ai.usage.output_tokens", 80), kv("gen_ai.usage.cache_read.input_tokens", 1000),
                                kv("gen_ai.input.messages", msgs_in), kv("gen_ai.output.messages", msgs_out)]))
        bodies.append(ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[
            ScopeSpans(spans=spans)])]).SerializeToString())
    return bodies


def serve(lake: str, keys: str, port_file: str) -> None:
    """The receiver process: serve until stdin says "done", then record what is pending, flush, print stats."""
    from recorder import Recorder
    from recorder.otlp.keys import Keys
    from recorder.otlp.process import tune_gc
    from recorder.otlp.server import Receiver

    rec = Recorder(lake=lake)
    r = Receiver(rec, Keys.load(keys), os.path.join(os.path.dirname(lake), "wal"), port=0, settle=0.2,
                 max_body=64 << 20).start()
    tune_gc()  # as python -m recorder.otlp does
    Path(port_file + ".tmp").write_text(str(r.port))
    os.replace(port_file + ".tmp", port_file)  # whole or absent: the client polls for it
    sys.stdin.readline()
    r.assembler.tick(force=True)
    ok = rec.flush(600)
    print(json.dumps({"recorded": r.assembler.recorded, "flushed": ok, "t": time.perf_counter()}), flush=True)
    r.stop()
    rec.shutdown()


def baseline(lake: str, invocations: int) -> None:
    """The recorder's low-level API: the same invocations (three rounds, the same texts)."""
    from recorder import Recorder

    rec = Recorder(lake=lake)
    msgs = [{"role": "user", "content": TEXT}]
    t0 = time.perf_counter()
    for _ in range(invocations):
        while rec.pending() > 2048:
            time.sleep(0.0005)
        with rec.invocation(tenant="acme", agent="bench", provider="openai", model="gpt-4o-mini") as inv:
            for _ in range(3):
                with inv.round(msgs) as r:
                    r.set_response(TEXT, usage={"input_tokens": 1200, "output_tokens": 80, "cache_read_tokens": 1000})
    ok = rec.flush(600)
    print(json.dumps({"seconds": time.perf_counter() - t0, "flushed": ok}), flush=True)
    rec.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--traces", type=int, default=128, help="traces per request (4 spans each)")
    ap.add_argument("--clients", type=int, default=4, help="exporters sending at once, one connection each")
    ap.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--baseline", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        return serve(*args.serve)
    if args.baseline:
        return baseline(args.baseline[0], int(args.baseline[1]))
    pin = ["taskset", "-c", "0"] if os.cpu_count() and os.cpu_count() > 1 else []
    if pin:
        os.sched_setaffinity(0, {1})
    bodies = build(args.requests, args.traces)
    model_spans = args.requests * args.traces * 3
    spans = args.requests * args.traces * 4
    with tempfile.TemporaryDirectory() as tmp:
        keys = os.path.join(tmp, "keys.toml")
        with open(keys, "w") as f:
            f.write(f'[keys]\n"{KEY}" = "acme"\n')
        port_file = os.path.join(tmp, "port")
        proc = subprocess.Popen([*pin, sys.executable, "-m", "bench.otlp_ingest", "--serve",
                                 os.path.join(tmp, "lake"), keys, port_file], cwd=ROOT, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        while not os.path.exists(port_file):
            if proc.poll() is not None:
                raise SystemExit("the receiver did not start")
            time.sleep(0.05)
        port = int(Path(port_file).read_text())
        headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {KEY}"}
        latencies: list[float] = []
        failures: list[int] = []

        def client(mine: list[bytes]) -> None:
            """One exporter: its own keep-alive connection, one request at a time (as BatchSpanProcessor sends)."""
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            for body in mine:
                s = time.perf_counter()
                conn.request("POST", "/v1/traces", body, headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    failures.append(resp.status)
                latencies.append(time.perf_counter() - s)
            conn.close()

        threads = [threading.Thread(target=client, args=(bodies[k::args.clients],)) for k in range(args.clients)]
        t0 = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        acked = time.perf_counter() - t0
        if failures:
            raise SystemExit(f"receiver answered {sorted(set(failures))}")
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("done\n")
        proc.stdin.flush()
        done = json.loads(proc.stdout.readline())
        total = time.perf_counter() - t0
        proc.wait(60)
        base = subprocess.run([*pin, sys.executable, "-m", "bench.otlp_ingest", "--baseline",
                               os.path.join(tmp, "lake-base"), str(args.requests * args.traces)], cwd=ROOT,
                              capture_output=True, text=True, check=True)
        b = json.loads(base.stdout.strip().splitlines()[-1])
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    base_rate = model_spans / b["seconds"]
    rate = model_spans / total
    print(f"OTLP ingestion: {args.requests} requests of {args.traces * 4} spans ({args.traces} traces: 1 agent + 3 "
          f"model calls, ~2 KB of messages each) from {args.clients} exporters, receiver on one core, fsync on")
    print(f"{'path':44}{'model-call spans/s':>20}{'ratio':>8}")
    print(f"{'baseline: recorder low-level API':44}{base_rate:20,.0f}{1:8.2f}")
    print(f"{'OTLP receiver, acknowledged (durable in WAL)':44}{model_spans / acked:20,.0f}"
          f"{model_spans / acked / base_rate:8.2f}")
    print(f"{'OTLP receiver, recorded and flushed':44}{rate:20,.0f}{rate / base_rate:8.2f}")
    print(f"all spans/s (incl. agent spans): {spans / total:,.0f}; invocations recorded {done['recorded']:,} "
          f"(expected {args.requests * args.traces:,}), flushed {done['flushed']}")
    print(f"request latency p50 {p50:.1f} ms, p99 {p99:.1f} ms (512-span protobuf bodies); target >= 10,000 "
          "model-call spans/s")


if __name__ == "__main__":
    main()
