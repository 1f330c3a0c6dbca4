"""The Lake interface that every caller outside invlog/lake uses, on a local folder and on S3 (moto)."""

import datetime as dt
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from invlog.lake import Lake
from invlog.lake.files import parquet_bytes
from invlog.lake.layout import (
    attachment_path,
    file_path,
    log_path,
    meta_path,
    partition_path,
    placeholder_partition,
    tenant_path,
)


@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path):
    if request.param == "local":
        return Lake(str(tmp_path / "lake"))
    url, options = request.getfixturevalue("s3_lake")
    return Lake(url, options)


def test_listing_reading_and_removing(lake):
    data = parquet_bytes(pa.table({"x": list(range(1000))}))
    rel = file_path("invocations", "acme", dt.date(2026, 3, 1), "p1.parquet")
    lake.put(rel, data)
    lake.put(f"{partition_path('invocations', 'acme', '2026-03-01')}/p2.parquet", b"two")
    lake.put(f"{tenant_path('invocations', 'acme')}/date=2026-03-02/p3.parquet", b"three")

    assert lake.names(tenant_path("invocations", "acme")) == ["date=2026-03-01", "date=2026-03-02"]
    assert lake.names("invocations/tenant=acme/date=2026-03-01") == ["p1.parquet", "p2.parquet"]
    assert lake.names("invocations/tenant=nobody") == [] and lake.entries("nowhere") == []
    entries = lake.entries(partition_path("invocations", "acme", dt.date(2026, 3, 1)))
    assert [(e.name, e.is_dir, e.size) for e in entries] == [("p1.parquet", False, len(data)), ("p2.parquet", False, 3)]
    assert all(e.mtime is not None and abs(e.mtime - dt.datetime.now().timestamp()) < 3600 for e in entries)
    assert [e.is_dir for e in lake.entries(tenant_path("invocations", "acme"))] == [True, True]
    with lake.open(rel) as f:  # seekable: the footer alone gives the row count
        assert pq.ParquetFile(f).metadata.num_rows == 1000
    assert pq.read_table(io.BytesIO(lake.read(rel))).column("x").to_pylist()[-1] == 999

    lake.remove(f"{partition_path('invocations', 'acme', '2026-03-01')}/p2.parquet")
    lake.remove(f"{partition_path('invocations', 'acme', '2026-03-01')}/p2.parquet")  # gone already: fine
    assert lake.names("invocations/tenant=acme/date=2026-03-01") == ["p1.parquet"]
    lake.remove_tree(tenant_path("invocations", "acme"))
    lake.remove_tree(tenant_path("invocations", "acme"))  # gone already: fine
    assert lake.find("invocations") == [] and not lake.exists(rel)


def test_every_path_helper_refuses_a_tenant_that_could_escape_its_folder():
    day = dt.date(2026, 3, 1)
    assert file_path("rounds", "012", day, "a.parquet") == "rounds/tenant=012/date=2026-03-01/a.parquet"
    assert log_path("012", "2026-03-01", "a.parquet") == "tenant=012/date=2026-03-01/a.parquet"
    assert meta_path("acme", "generation") == "_meta/tenant=acme/generation"
    assert attachment_path("acme", "ab" + "0" * 62) == f"attachments/tenant=acme/ab/ab{'0' * 62}"
    assert placeholder_partition("rounds") == "rounds/tenant=-/date=1970-01-01"
    for bad in ("../x", "a/b", "A", "", "a=b", "-"):
        for build in (lambda t: tenant_path("invocations", t), lambda t: partition_path("rounds", t, day),
                      lambda t: log_path(t, day, "a"), lambda t: file_path("rounds", t, day, "a"),
                      lambda t: meta_path(t, "x"), lambda t: attachment_path(t, "ab")):
            with pytest.raises(ValueError):
                build(bad)
