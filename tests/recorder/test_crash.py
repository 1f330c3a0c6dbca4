"""Durability: SIGKILL at random moments loses nothing acknowledged; replay never duplicates."""

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from recorder import Recorder, parts
from recorder.spool import encode_frame
from tests.support import ROOT
from tests.support.lakeread import rows
from tests.support.records import segment_with_batch


def _check_exactly_once(lake, spool, acked, rounds_per=2):
    rec = Recorder(lake=lake, spool_dir=spool)
    assert rec.flush(timeout=60)
    inv = rows(rec.lake, "invocations")
    ids = Counter(r["invocation_id"] for r in inv)
    dupes = [i for i, c in ids.items() if c > 1]
    assert not dupes, f"duplicated invocations: {dupes[:5]}"
    missing = acked - set(ids)
    assert not missing, f"{len(missing)} acknowledged invocations lost"
    rnd = Counter((r["invocation_id"], r["round_index"]) for r in rows(rec.lake, "rounds"))
    assert all(c == 1 for c in rnd.values())
    # every invocation that reached the lake has both its rounds
    per_inv = Counter(i for i, _ in rnd)
    assert all(per_inv[i] == rounds_per for i in ids)
    rec.shutdown()
    return len(ids), rec.stats()


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_acknowledged(tmp_path):
    lake, spool = str(tmp_path / "lake"), str(tmp_path / "spool")
    rng = random.Random(1234)
    acked: set[str] = set()
    kills = 12
    for _ in range(kills):
        proc = subprocess.Popen([sys.executable, "-m", "tests.support.crashee", lake, spool], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
        lines: list[str] = []
        reader = threading.Thread(target=lambda p=proc, out=lines: out.extend(p.stdout), daemon=True)
        reader.start()
        time.sleep(rng.uniform(0.8, 2.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reader.join(5)
        proc.stdout.close()
        for line in lines:
            if line.startswith("ACK ") and line.endswith("\n"):  # a line cut by the kill was not acknowledged
                acked.update(line.split()[1:])
    assert len(acked) > 100, "the crash loop acknowledged too little to prove anything"
    stored, _ = _check_exactly_once(lake, spool, acked)
    assert stored >= len(acked)


def test_crash_between_publishing_and_retiring_the_segment_does_not_duplicate(tmp_path):
    lake, spool = str(tmp_path / "lake"), str(tmp_path / "spool")
    seg, inv_t, rnd_t = segment_with_batch(spool, 5)
    rec0 = Recorder(lake=lake, spool_dir=str(tmp_path / "other"))
    parts.publish(rec0.lake, seg.id, [inv_t], [rnd_t])  # published ...
    seg.close()  # ... then the process died before deleting the segment (its lock goes with it)
    rec0.shutdown()
    assert len(rows(rec0.lake, "invocations")) == 5
    stored, _ = _check_exactly_once(lake, spool, set(inv_t.column("invocation_id").to_pylist()), 1)
    assert stored == 5 and not os.listdir(spool)


def test_orphan_is_replayed_but_a_live_writers_segment_is_not(tmp_path):
    lake, spool = str(tmp_path / "lake"), str(tmp_path / "spool")
    live, _, _ = segment_with_batch(spool, 3)  # still locked: its writer is alive
    dead, _, _ = segment_with_batch(spool, 4)
    dead.close()
    rec = Recorder(lake=lake, spool_dir=spool)
    assert rec.flush(timeout=30)
    assert len(rows(rec.lake, "invocations")) == 4
    assert os.path.exists(live.path) and not os.path.exists(dead.path)
    assert rec.stats()["replayed_invocations"] == 4
    live.close()
    rec.shutdown()


def test_torn_tail_and_bad_frame_recover_intact_batches(tmp_path):
    lake, spool = str(tmp_path / "lake"), str(tmp_path / "spool")
    seg, inv_t, rnd_t = segment_with_batch(spool, 3)
    frame = encode_frame(inv_t, rnd_t)
    bad = bytearray(frame)
    bad[len(bad) // 2] ^= 0xFF  # a flipped byte: CRC mismatch
    seg.append(bytes(bad))
    seg.append(frame[: len(frame) // 3])  # a torn tail
    seg.close()
    rec = Recorder(lake=lake, spool_dir=spool)
    assert rec.flush(timeout=30)
    # only the intact first frame is published (the damaged copies of it are counted, not stored)
    assert len(rows(rec.lake, "invocations")) == 3
    stats = rec.stats()
    assert stats["spool_bad_frames"] == 2 and stats["spool_lost_bytes"] == len(frame) + len(frame) // 3
    rec.shutdown()


def test_many_processes_write_the_same_tenant_and_day(tmp_path):
    lake = str(tmp_path / "lake")
    code = (
        "import sys\nfrom recorder import Recorder\n"
        "rec = Recorder(lake=sys.argv[1], spool_interval=0.01, publish_interval=0.05)\n"
        "for k in range(150):\n"
        "    with rec.invocation(tenant='acme', agent='a', provider='openai', model='gpt-4o',\n"
        "                        user_id=f'{sys.argv[2]}-{k}') as inv, inv.round() as r:\n"
        "        r.set_response('x', usage={'input_tokens': 10, 'output_tokens': 1})\n"
        "sys.exit(0 if rec.flush(timeout=60) else 3)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, lake, f"p{n}"], cwd=ROOT) for n in range(4)]
    assert [p.wait(120) for p in procs] == [0, 0, 0, 0]
    rec = Recorder(lake=lake)  # the shared default spool: nothing left in it
    assert rec.flush()
    users = [r["user_id"] for r in rows(rec.lake, "invocations")]
    assert len(users) == 600 and len(set(users)) == 600
    assert len(rows(rec.lake, "rounds")) == 600
    assert not [n for n in os.listdir(rec.spool_dir) if n.endswith(".spool")]
    rec.shutdown()
