"""Recording what tests need: a run at a given time, a spool segment a dead process left, and
everything a recorder stored as text (to look for secrets in)."""

from __future__ import annotations

import json
import os

from recorder import Recorder
from recorder.clock import SimClock
from recorder.encode import Encoder
from recorder.sink import MemorySink
from recorder.spool import Segment, encode_frame
from tests.support.lakeread import rows


def record_inv(rec, tenant, when, agent, model, rounds, *, trigger="user", user=None, status=None, message="hi",
               provider="openai"):
    """One run at ``when`` (a SimClock): one round per usage in ``rounds``, failed or timed out on request."""
    clock = SimClock(when)
    try:
        with rec.invocation(tenant=tenant, agent=agent, provider=provider, model=model, trigger=trigger,
                            user_id=user, user_message=message, clock=clock) as inv:
            for usage in rounds:
                with inv.round([{"role": "user", "content": message}]) as r:
                    clock.advance(0.5)
                    r.set_response("ok", usage=usage)
            clock.advance(0.5)
            if status == "Failed":
                raise RuntimeError("boom")
            if status == "Timeout":
                raise TimeoutError("slow")
    except (RuntimeError, TimeoutError):
        pass
    return inv


def segment_with_batch(spool, n, tenant="acme"):
    """Spool one batch the way the flusher does, as a dead process would have left it."""
    os.makedirs(spool, exist_ok=True)
    sink = MemorySink()  # capture rows instead of queueing them
    rec = Recorder(lake=spool + "-unused-lake", spool_dir=spool + "-unused-spool", sink=sink)
    items = sink.items
    for k in range(n):
        with rec.invocation(tenant=tenant, agent="a", provider="openai", model="gpt-4o", user_id=f"u{k}") as inv:
            with inv.round() as r:
                r.set_response("x", usage={"input_tokens": 10, "output_tokens": 1})
    rec.shutdown()
    enc = Encoder()
    inv_t = enc.table("invocations", [row for row, _ in items])
    rnd_t = enc.table("rounds", [r for _, rs in items for r in rs])
    seg = Segment.create(spool)
    seg.append(encode_frame(inv_t, rnd_t))
    return seg, inv_t, rnd_t


CANARY = "sk-CANARYCANARYCANARY0123456789"


def all_text(rec):
    out = []
    for table in ("invocations", "rounds"):
        out.append(json.dumps(rows(rec.lake, table), default=str))
    for rel in rec.lake.find("attachments"):
        out.append(rec.lake.read(rel).decode("latin-1"))
    return "\n".join(out)
