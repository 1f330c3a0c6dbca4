"""A recorder process for the multi-writer tests: records runs, prints each acknowledged id.

``python -m tests.support.delta_writer --lake L --spool S --runs N [--flaky P] [--storage JSON]``:
records N runs for tenant ``acme`` (flushing every 5), prints the ids of every flushed batch,
commits on its own schedule and at shutdown. With ``--flaky P`` every Delta commit of this
process fails with probability P (the records stay pending for a later committer).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys

from invlog.lake import delta
from recorder import Recorder


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lake", required=True)
    ap.add_argument("--spool", required=True)
    ap.add_argument("--runs", type=int, default=25)
    ap.add_argument("--flaky", type=float, default=0.0)
    ap.add_argument("--storage", default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    if args.flaky:
        real = delta.commit

        def flaky(*a, **k):
            if rng.random() < args.flaky:
                raise delta.CommitError("injected commit failure")
            return real(*a, **k)

        delta.commit = flaky
    opts = json.loads(args.storage) if args.storage else None
    rec = Recorder(lake=args.lake, storage_options=opts, spool_dir=args.spool, spool_interval=0.01,
                   publish_interval=0.05, commit_interval=rng.uniform(0.2, 1.5))
    batch: list[str] = []
    day = dt.datetime.now(dt.UTC)
    for n in range(args.runs):
        with rec.invocation(tenant="acme", agent=f"w{args.seed}", provider="openai", model="gpt-4o") as inv:
            with inv.round() as r:
                r.set_response("ok", usage={"input_tokens": 1000, "output_tokens": 100})
        batch.append(inv.invocation_id)
        if n % 5 == 4 and rec.flush(timeout=60):
            print("\n".join(batch), flush=True)
            batch = []
    if rec.flush(timeout=60) and batch:
        print("\n".join(batch), flush=True)
    rec.shutdown(timeout=60)
    s = rec.stats()
    print(f"# commits={s['commits']} uncommitted={s['uncommitted_records']} errors={s['commit_errors']} "
          f"day={day.date()}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
