"""``python -m warehouse``: keep the lake healthy and produce spend reports.

Commands (each takes ``--lake``, default ``INVLOG_LAKE`` or ``./data/lake``):

* ``summary``: one line per tenant: runs, runs today, errors in 24 h, cost today.
* ``compact [--tenant T] [--before DATE] [--grace-seconds S]``: commit what dead recorders left
  pending, merge small part files (Delta transactions), write the rollups that long-range queries
  read, and vacuum files replaced more than S seconds ago (default 7 days: how far time travel reaches).
* ``commit [--all]``: commit the pending records of recorders that died (``--all``: every record).
* ``migrate``: turn a lake of plain part files (written before the Delta log) into Delta tables.
* ``retention --tenant T --keep-days N [--dry-run]``: remove partitions older than N days.
* ``delete-tenant T [--dry-run]``: delete everything stored for a tenant, at once.
* ``report --tenant T --from DATE --to DATE --format csv|parquet|html --out PATH [--restated
  [--prices FILE] [--price-date DATE]] [--as-of TIME|VERSION]``: a spend report, optionally
  restated, optionally as the lake stood at a past moment. ``--engine spark [--spark-master URL]``
  runs it on Apache Spark (local mode by default) over the Delta tables (docs/spark.md).
* ``reprice --tenant T --from DATE --to DATE [--prices FILE] [--price-date DATE] --out PATH``: recorded
  vs restated cost per day and model (CSV, Parquet or HTML by the extension).
* ``verify [--tenant T] [--quarantine]``: read every part file in full (page checksums); exit 1 naming bad files.
* ``reconcile --provider openai|anthropic --from DATE --to DATE [--config FILE] [--base-url URL] [--tenant T]
  [--out PATH]``: compare recorded with the provider's own usage and cost reports (``warehouse.reconcile``).
* ``alerts check|watch [--rules FILE] [--secrets FILE] [--every S]``: evaluate the budgets and alerts
  (``warehouse.alerts``) once (exit 1 when one is firing or a budget is at its limit) or every S seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from typing import TYPE_CHECKING

import polars as pl

from invlog.lake import Lake, validate_tenant
from invlog.process import exit_now
from warehouse.errors import WarehouseError

if TYPE_CHECKING:
    from warehouse import Warehouse

FORMATS = ("csv", "parquet", "html")


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-11-27, got {value!r}") from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m warehouse", description="Invocation Logs lake maintenance and "
                                 "reports.")
    ap.add_argument("--lake", default=None, help="lake location (default: INVLOG_LAKE or ./data/lake)")
    # --lake is accepted after the command too (`python -m warehouse verify --lake DIR`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lake", default=argparse.SUPPRESS,
                        help="lake location (default: INVLOG_LAKE or ./data/lake)")
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("summary", help="live totals per tenant", parents=[common])
    c = sub.add_parser("compact", help="merge small part files (safe while queries and writers run)",
                       parents=[common])
    c.add_argument("--tenant")
    c.add_argument("--before", type=_date, help="only partitions before this date (default: today, UTC)")
    c.add_argument("--grace-seconds", type=float, default=None,
                   help="vacuum replaced files older than this (default: 7 days, the time-travel window)")
    c.add_argument("--target-mb", type=int, default=128)
    cm = sub.add_parser("commit", help="commit parts that dead recorders left pending", parents=[common])
    cm.add_argument("--all", action="store_true", help="commit every pending record, not only stale ones")
    sub.add_parser("migrate", help="convert a lake of plain part files to Delta tables (idempotent)",
                   parents=[common])
    r = sub.add_parser("retention", help="delete a tenant's partitions older than N days", parents=[common])
    r.add_argument("--tenant", required=True)
    r.add_argument("--keep-days", type=int, required=True)
    r.add_argument("--dry-run", action="store_true")
    d = sub.add_parser("delete-tenant", help="delete everything stored for a tenant", parents=[common])
    d.add_argument("tenant")
    d.add_argument("--dry-run", action="store_true")
    v = sub.add_parser("verify", help="scrub part files (page checksums, schema); exit 1 if any is bad",
                       parents=[common])
    v.add_argument("--tenant")
    v.add_argument("--quarantine", action="store_true", help="move bad files under _quarantine/")
    p = sub.add_parser("report", help="a per-tenant spend report", parents=[common])
    p.add_argument("--tenant", required=True)
    p.add_argument("--from", dest="start", type=_date, required=True)
    p.add_argument("--to", dest="end", type=_date, required=True, help="last day included")
    p.add_argument("--format", choices=FORMATS, help="default: from --out's extension (.csv, .parquet, .html)")
    p.add_argument("--out", required=True)
    p.add_argument("--restated", action="store_true", help="recompute every cost from the stored usage")
    p.add_argument("--as-of", help="the lake as it stood at this ISO time (UTC) or Delta version")
    p.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb",
                   help="run the report's queries on DuckDB (default) or Apache Spark (docs/spark.md)")
    p.add_argument("--spark-master", default="local[*]", metavar="URL",
                   help="the Spark master with --engine spark (default local[*]: this machine)")
    rp = sub.add_parser("reprice", help="recorded vs restated cost per day and model", parents=[common])
    rp.add_argument("--tenant", required=True)
    rp.add_argument("--from", dest="start", type=_date, required=True)
    rp.add_argument("--to", dest="end", type=_date, required=True, help="last day included")
    rp.add_argument("--format", choices=FORMATS, help="default: from --out's extension (.csv, .parquet, .html)")
    rp.add_argument("--out", required=True)
    rc = sub.add_parser("reconcile", help="recorded cost vs the provider's own usage and cost reports",
                        parents=[common])
    rc.add_argument("--provider", choices=("openai", "anthropic"), required=True)
    rc.add_argument("--from", dest="start", type=_date, required=True)
    rc.add_argument("--to", dest="end", type=_date, required=True, help="last day included")
    rc.add_argument("--config", help="keys to tenants (default: INVLOG_RECONCILE or <lake>/_meta/reconcile.toml)")
    rc.add_argument("--base-url", help="another endpoint of the admin API (a proxy, a test server)")
    rc.add_argument("--tenant", help="only this tenant (default: every tenant the config maps)")
    rc.add_argument("--out", help="also write the rows to this file (.csv or .parquet)")
    al = sub.add_parser("alerts", help="evaluate budgets and alerts (docs/budgets.md)", parents=[common])
    al.add_argument("action", choices=("check", "watch"), help="check: once (cron); watch: every --every seconds")
    al.add_argument("--rules", help="the rules file (default: INVLOG_RULES or <lake>/_meta/rules.toml)")
    al.add_argument("--secrets", help="the notification secrets file (default: INVLOG_SECRETS)")
    al.add_argument("--every", type=float, default=60.0, help="seconds between checks with watch (default 60)")
    for q in (p, rp):
        q.add_argument("--prices", help="a price overrides file (TOML) to restate with")
        q.add_argument("--price-date", type=_date, help="restate with the prices in force on this date")
    args = ap.parse_args(argv)
    try:
        return _run(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except WarehouseError as exc:  # Spark missing or failing, an unreadable part: one line
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # an unreadable lake, an unwritable --out: one line, not a traceback
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from warehouse import compact as maint
    from warehouse import retention as keep

    lake = Lake(args.lake)
    if lake.is_local and not os.path.isdir(lake.root):
        print(f"error: the lake {lake.url} does not exist (give --lake or set INVLOG_LAKE)", file=sys.stderr)
        return 1
    if args.command in ("report", "reprice"):
        args.format = _report_format(args)
        if args.command == "report" and (args.prices or args.price_date) and not args.restated:
            raise ValueError("--prices and --price-date restate the report: add --restated")
        if args.prices and not os.path.isfile(args.prices):
            raise ValueError(f"--prices {args.prices!r}: no such file")
    if args.command == "compact":
        grace = maint.DEFAULT_GRACE if args.grace_seconds is None else args.grace_seconds
        res = maint.compact(lake, tenant=args.tenant, before=args.before, target_bytes=args.target_mb << 20,
                            grace_seconds=grace, progress=True)
        print(f"{res.partitions} partitions: merged {res.files_merged} files into {res.files_written}, "
              f"wrote {res.rollups_written} rollups, vacuumed {res.files_deleted} replaced files")
        return 0
    if args.command == "commit":
        from invlog.lake.commit import STALE_SECONDS, commit_pending

        done = commit_pending(lake, older_than=0 if args.all else STALE_SECONDS)
        print(f"committed {done.files} files of {done.records} pending records ({done.skipped} skipped: gone or "
              "merged)" + "".join(f"\nerror: {e}" for e in done.errors))
        return 1 if done.errors else 0
    if args.command == "migrate":
        return _migrate(lake)
    if args.command == "retention":
        gone = keep.retention(lake, args.tenant, args.keep_days, dry_run=args.dry_run)
        verb = "would remove" if args.dry_run else "removed"
        print(f"{verb} {len(gone)} partitions" + "".join(f"\n  {g}" for g in gone))
        return 0
    if args.command == "delete-tenant":
        rep = keep.delete_tenant(lake, args.tenant, dry_run=args.dry_run)
        verb = "would delete" if args.dry_run else "deleted"
        print(f"{verb} {len(rep.removed)} folders" + "".join(f"\n  {g}" for g in rep.removed))
        for r in rep.remains:
            print(f"remains: {r}")
        return 0
    if args.command == "alerts":
        return _alerts(lake, args)
    if args.command == "reconcile":
        return _reconcile(lake, args)
    if args.command == "verify":
        from warehouse.verify import verify

        res = verify(lake, tenant=args.tenant, quarantine=args.quarantine, progress=True)
        for path, reason in res.bad:
            print(f"BAD {path}: {reason}")
        for path in res.quarantined:
            print(f"quarantined -> {path}")
        unchecked = f", {len(res.unchecked)} without a recorded checksum" if res.unchecked else ""
        print(f"checked {res.checked} part files: {len(res.bad)} bad{unchecked}")
        return 1 if res.bad else 0
    from warehouse import Warehouse, report

    if getattr(args, "engine", "duckdb") == "spark":
        from warehouse import spark

        if args.restated:
            raise ValueError("--restated runs on DuckDB only: drop --engine spark")
        validate_tenant(args.tenant)
        print(f"starting Spark ({args.spark_master}) ...", file=sys.stderr, flush=True)
        session = spark.session(args.spark_master)
        try:
            return _spend_report(Warehouse(args.lake, as_of=args.as_of, engine="spark", spark=session), lake, args)
        finally:
            session.stop()
    wh = Warehouse(args.lake, as_of=getattr(args, "as_of", None))
    if args.command == "summary":
        tenants = wh.tenants()
        if not tenants:
            print(f"lake {lake.url} is empty")
        for t in tenants:
            row = wh.tenant_totals(t).row(0, named=True)
            unpriced = f" (+{row['unpriced_today']:,} unpriced)" if row["unpriced_today"] else ""
            print(f"{t:24} runs {row['total_runs']:>8,}  today {row['runs_today']:>6,}  "
                  f"errors 24h {row['errors_24h']:>5,}  cost today {report.money(row['cost_today_usd'])}{unpriced}")
        return 0
    validate_tenant(args.tenant)  # a malformed id is bad input (exit 2), not an unknown tenant
    if args.command == "reprice":
        if args.tenant not in wh.tenants():
            print(f"error: the lake {lake.url} has no tenant {args.tenant!r}", file=sys.stderr)
            return 1
        return _reprice(wh, args)
    return _spend_report(wh, lake, args)


def _spend_report(wh: Warehouse, lake: Lake, args: argparse.Namespace) -> int:
    from warehouse import report

    if args.tenant not in wh.tenants():
        print(f"error: the lake {lake.url} has no tenant {args.tenant!r}", file=sys.stderr)
        return 1
    rep = wh.spend_report(args.tenant, args.start, args.end, restated=args.restated, prices=args.prices,
                          price_date=args.price_date, caching=args.format == "html" and wh.engine == "duckdb")
    if rep.runs == 0:
        print(f"error: tenant {args.tenant!r} has no runs from {args.start} to {args.end}; no report written",
              file=sys.stderr)
        return 1
    if args.format == "csv":
        data = report.to_csv(rep)
    elif args.format == "parquet":
        data = report.to_parquet(rep)
    else:
        trend = wh.cost_trend(args.tenant, args.start, args.end, grain="day", split_by="agent")
        data = report.to_html(rep, trend)
    with open(args.out, "wb") as f:
        f.write(data)
    what = "restated spend report" if args.restated else "spend report"
    what += " (on Spark)" if wh.engine == "spark" else ""
    print(f"wrote {args.format} {what} for {args.tenant} ({args.start}..{args.end}): "
          f"total {report.money(rep.total_cost_usd)}, {rep.runs:,} runs -> {args.out}")
    return 0


def _reprice(wh: object, args: argparse.Namespace) -> int:
    from warehouse import report, reprice

    rounds = wh.restatement(args.tenant, args.start, args.end, prices=args.prices,  # type: ignore[attr-defined]
                            price_date=args.price_date)
    if rounds.height == 0:
        print(f"error: tenant {args.tenant!r} has no rounds from {args.start} to {args.end}; nothing restated",
              file=sys.stderr)
        return 1
    diff = reprice.difference(rounds)
    basis = (f"prices in force on {args.price_date}" if args.price_date else "prices at each call's instant") + (
        f", overrides {os.path.basename(args.prices)}" if args.prices else "")
    data = report.restatement(diff, args.format, tenant=args.tenant, start=args.start, end=args.end, basis=basis)
    with open(args.out, "wb") as f:
        f.write(data)
    total = diff.row(-1, named=True)
    changed = int((rounds["restated_cost_usd"] != rounds["recorded_cost_usd"]).sum())
    print(f"wrote {args.format} restatement for {args.tenant} ({args.start}..{args.end}, {basis}): recorded "
          f"{report.money(total['recorded_cost_usd'])}, restated {report.money(total['restated_cost_usd'])}, "
          f"difference {report.money(total['difference_usd'])}; {changed:,} of {rounds.height:,} rounds changed "
          f"-> {args.out}")
    return 0


def _reconcile(lake: Lake, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from warehouse import Warehouse, reconcile
    from warehouse.provider_reports import FETCHERS, ReportError

    if args.end < args.start:
        raise ValueError(f"--to {args.end} is before --from {args.start}")
    config = reconcile.load_config(lake, args.config)
    mapping = config.providers.get(args.provider)
    if mapping is None:
        raise ValueError(f"{config.source}: no [{args.provider}] table mapping its keys to tenants")
    bar = tqdm(desc=f"reading {args.provider} usage and cost reports", unit=" pages", file=sys.stderr)
    try:
        rep = FETCHERS[args.provider](args.start, args.end, mapping.key, base_url=args.base_url,
                                      progress=lambda n: bar.update(n - bar.n))
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        bar.close()
    result = reconcile.reconcile(Warehouse(lake), rep, config, args.start, args.end, tenant=args.tenant)
    reconcile.save_run(lake, result, args.start, args.end)
    if args.out:
        ext = os.path.splitext(args.out)[1].lower()
        if ext == ".parquet":
            result.write_parquet(args.out)
        else:
            result.with_columns(pl.col(pl.Decimal).cast(pl.Utf8)).write_csv(args.out)
    for cls in reconcile.CLASSES:
        part = result.filter(pl.col("class") == cls)
        if part.height:
            diff = part["difference_usd"].drop_nulls().sum() if part["difference_usd"].null_count() < part.height \
                else None
            shown = "" if diff is None else f", difference {'+' if diff > 0 else ''}{diff.normalize():f} USD"
            print(f"{cls:24} {part.height:5,} day-model rows{shown}")
    print(f"reconciled {args.provider} {args.start}..{args.end}: {result.height:,} rows for "
          f"{result['tenant'].n_unique() if result.height else 0} tenants ({rep.pages} report pages read); "
          f"kept in the lake" + (f", written to {args.out}" if args.out else ""))
    return 0


def _alerts(lake: Lake, args: argparse.Namespace) -> int:
    import time

    from warehouse import Warehouse

    if args.every <= 0:
        raise ValueError(f"--every: expected a positive number of seconds, got {args.every}")
    wh = Warehouse(lake, refresh_interval=0.0)
    if args.action == "check":
        return 1 if _check_once(wh, lake, args) else 0
    print(f"checking every {args.every:g} s (Ctrl-C stops)", file=sys.stderr)
    try:
        while True:
            try:
                _check_once(wh, lake, args)
            except (ValueError, OSError, WarehouseError) as exc:  # a bad edit or an outage: say so, keep watching
                print(f"error: {exc}", file=sys.stderr, flush=True)
            time.sleep(args.every)
    except KeyboardInterrupt:
        return 0


def _check_once(wh: Warehouse, lake: Lake, args: argparse.Namespace) -> bool:
    """One evaluation, one line per rule; whether anything is firing."""
    from invlog.rules import load_rules
    from warehouse import alerts

    rules = load_rules(lake, args.rules)  # read each time: an edit applies at the next check
    if not rules.budgets and not rules.alerts:
        print(f"no budgets or alerts in {rules.source}")
    outcomes = alerts.check(wh, rules, secrets=args.secrets)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    for o in outcomes:
        print(f"{stamp} {'FIRING' if o.firing else 'ok    '} {o.kind} {o.tenant}/{o.name}: {o.summary}")
        for s in o.sent:
            how = "sent" if s["delivered"] else f"NOT sent ({s['error']})"
            print(f"    {how}: {s['title']}")
    sys.stdout.flush()
    return any(o.firing for o in outcomes)


def _migrate(lake: Lake) -> int:
    from tqdm import tqdm

    from invlog.lake import convert, delta

    for table in delta.NAMES:
        if delta.exists(lake, table):
            print(f"{table}: already a Delta table")
        else:
            bar = tqdm(desc=f"registering {table} parts", unit="file")

            def step(done: int, total: int, bar: tqdm = bar) -> None:
                bar.total = total
                bar.update(done - bar.n)

            n = convert.convert(lake, table, progress=step)
            bar.close()
            print(f"{table}: registered {n} part files in a new Delta table")
        left = convert.unregistered(lake, table)
        if left:
            print(f"{table}: {len(left)} plain part files are neither committed nor pending (written by a recorder "
                  "older than the Delta log after the conversion?):" + "".join(f"\n  {p}" for p in left[:20]))
    return 0


def _report_format(args: argparse.Namespace) -> str:
    if args.format:
        return args.format
    ext = os.path.splitext(args.out)[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise ValueError(f"--out {args.out!r}: cannot tell the format from its extension; give --format "
                         f"({', '.join(FORMATS)})")
    print(f"format: {ext} (from --out)", file=sys.stderr)
    return ext


if __name__ == "__main__":
    exit_now(main())
