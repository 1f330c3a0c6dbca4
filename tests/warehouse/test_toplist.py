"""Top lists: an unfiltered page over whole days read from the parts' top lists equals the page
read from the rows, for every sort order, at every depth the lists cover, ties included."""

import datetime as dt

import pytest

from recorder.clock import SimClock
from warehouse import Warehouse, toplist
from warehouse import compact as maint

DAY = dt.datetime(2026, 11, 18, 6, tzinfo=dt.UTC)


@pytest.mark.parametrize("sort", sorted(toplist.SORTS))
def test_pages_from_top_lists_equal_pages_from_rows(make_recorder, monkeypatch, sort):
    monkeypatch.setattr(toplist, "K", 6)  # short lists, so that pages reach their end
    rec = make_recorder()
    for d in range(3):
        for k in range(9):
            when = DAY + dt.timedelta(days=d, minutes=k * 7)
            usage = {"input_tokens": 100 * (k % 3), "output_tokens": 10}  # equal costs and tokens: ties
            with rec.invocation(tenant="acme", agent="a", provider="openai", model="gpt-4o",
                                clock=SimClock(when)) as inv, inv.round() as r:
                r.set_response("x", usage=usage)
            if k % 4 == 3:
                assert rec.flush()  # several parts a day
    assert rec.commit()
    maint.compact(rec.lake, tenant="acme", before=DAY.date() + dt.timedelta(days=2))  # two days get lists
    wh = Warehouse(rec.lake.url, refresh_interval=0)
    raw, tops = wh.index.files_with_tops("invocations", "acme", DAY.date(), DAY.date() + dt.timedelta(days=2))
    assert len(tops) == 2 and raw  # the third day (not compacted) is read from its rows
    start, end = DAY.date(), DAY.date() + dt.timedelta(days=2)
    for offset, limit in ((0, 2), (2, 2), (0, 6), (4, 2), (5, 1), (3, 3)):
        fast, total = wh.invocations("acme", start, end, sort=sort, limit=limit, offset=offset)
        slow, scanned = wh.invocations("acme", start, end, sort=sort, limit=limit, offset=offset, text="")
        assert fast.equals(slow) and fast.height == limit and total == scanned == 27, (sort, offset, limit)
    deep, _ = wh.invocations("acme", start, end, sort=sort, limit=5, offset=20)  # past the lists: rows
    assert deep.equals(wh.invocations("acme", start, end, sort=sort, limit=5, offset=20, text="")[0])
