"""``python -m recorder.otlp --lake DIR --keys FILE [--host 127.0.0.1] [--port 4318]`` (also ``invlog otlp``).

Serves OTLP/HTTP ``POST /v1/traces`` until interrupted, then records what is pending and
flushes. ``python -m recorder.otlp hash-key`` reads a key on stdin and prints the
``sha256:`` form for the keys file. Exit 2 with one line for a bad keys file or port.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["hash-key"]:
        from recorder.otlp.keys import hash_key

        key = sys.stdin.readline().strip()
        if not key:
            print("error: give the key on stdin", file=sys.stderr)
            return 2
        print(hash_key(key))
        return 0
    ap = argparse.ArgumentParser(prog="python -m recorder.otlp", description=__doc__.splitlines()[0])
    ap.add_argument("--lake", default=os.environ.get("INVLOG_LAKE") or "./data/lake")
    ap.add_argument("--keys", required=True, help="TOML file: [keys] then \"<key>\" = \"<tenant>\" lines")
    ap.add_argument("--host", default="127.0.0.1", help="listen address (default loopback; put TLS in front)")
    ap.add_argument("--port", type=int, default=4318)
    ap.add_argument("--wal", default=None, help="write-ahead log folder (default: <spool>/otlp-wal)")
    ap.add_argument("--max-body", type=int, default=16 << 20, help="largest body, sent or inflated (bytes)")
    args = ap.parse_args(argv)
    from recorder import Recorder
    from recorder.otlp.keys import Keys
    from recorder.otlp.process import tune_gc
    from recorder.otlp.server import Receiver

    try:
        keys = Keys.load(args.keys)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rec = Recorder(lake=args.lake)
    try:
        receiver = Receiver(rec, keys, args.wal or os.path.join(rec.spool_dir, "otlp-wal"), host=args.host,
                            port=args.port, max_body=args.max_body)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        rec.shutdown()
        return 2
    receiver.start()
    tune_gc()
    print(f"OTLP receiver on http://{args.host}:{receiver.port}/v1/traces -> {args.lake}", flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    receiver.stop()
    rec.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
