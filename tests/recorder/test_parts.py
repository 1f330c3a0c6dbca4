"""Publishing a spooled batch: split by tenant and day, and light on the agent's process.

A batch can interleave tenants and days; each partition must get exactly its rows.
Publication runs in the agent's process, so it must not pull in heavy modules:
``Table.group_by`` imported Acero, the dataset module and pandas (60,000 objects
that every full garbage collection of the agent then walks).
"""

import datetime as dt
import io
import subprocess
import sys

import pyarrow.parquet as pq

from invlog.lake import Lake
from recorder.clock import SimClock
from recorder.encode import Encoder
from recorder.parts import publish
from recorder.sink import MemorySink
from recorder.spool import encode_frame
from tests.support.lakeread import part_files, read_table

USAGE = {"input_tokens": 100, "output_tokens": 10}


def _batch(make_recorder):
    sink = MemorySink()  # capture what the hot path queues
    rec = make_recorder(sink=sink)
    items = sink.items
    days = [dt.datetime(2026, 3, d, 12, tzinfo=dt.UTC) for d in (1, 2)]
    for k in range(60):
        clock = SimClock(days[k % 2])
        with rec.invocation(tenant=f"t{k % 3}", agent="a", provider="openai", model="gpt-4o", user_id=f"u{k}",
                            clock=clock) as inv, inv.round() as r:
            r.set_response("ok", usage=USAGE)
    enc = Encoder()
    return (enc.table("invocations", [i[0] for i in items]),
            enc.table("rounds", [row for i in items for row in i[1]]))


def test_a_mixed_batch_lands_in_its_partitions(make_recorder, tmp_path):
    invocations, rounds = _batch(make_recorder)
    lake = Lake(str(tmp_path / "out"))
    assert publish(lake, "part-1", [invocations], [rounds]) == (60, 60, 12, "part-1")
    files = part_files(lake, "invocations")
    assert len(files) == 6
    table = read_table(lake, "invocations")
    got = sorted(zip(table.column("tenant").to_pylist(), table.column("date").to_pylist(),
                     table.column("user_id").to_pylist(), strict=True))
    want = sorted((f"t{k % 3}", dt.date(2026, 3, 1 + k % 2), f"u{k}") for k in range(60))
    assert got == want  # every row once, in the partition of its own tenant and day
    for rel in files:  # each file holds exactly the rows of the tenant and day in its path
        keys = dict(seg.split("=", 1) for seg in rel.split("/") if "=" in seg)
        users = pq.read_table(io.BytesIO(lake.read(rel))).column("user_id").to_pylist()
        assert sorted(users) == sorted(u for t, d, u in want if t == keys["tenant"] and str(d) == keys["date"])
    assert publish(lake, "part-1", [invocations], [rounds])[:3] == (60, 60, 0)  # published again: skipped


def test_publication_imports_no_pandas(make_recorder, tmp_path):
    frame = encode_frame(*_batch(make_recorder))
    (tmp_path / "frame").write_bytes(frame)
    script = f"""
import sys
from recorder.parts import publish
from recorder.spool import read_frames
from invlog.lake import Lake
data = read_frames(open({str(tmp_path / 'frame')!r}, 'rb').read())
from invlog.lake.commit import commit_records
lake = Lake({str(tmp_path / 'lake')!r})
print(publish(lake, 'p', data.invocations, data.rounds)[:3])
commit_records(lake, ['p'])  # the recorder's committer runs in the agent's process too
data = read_frames(open({str(tmp_path / 'frame')!r}, 'rb').read())
print(publish(lake, 'q', data.invocations, data.rounds)[:3])
commit_records(lake, ['q'])  # into an existing table
print(sorted(m for m in ('pandas', 'pyarrow.dataset', 'pyarrow.acero') if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["(60, 60, 12)", "(60, 60, 12)", "[]"]
