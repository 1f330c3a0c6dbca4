"""``invlog``: one command for the dashboard, the demo and the lake's maintenance.

``invlog dashboard`` serves the dashboard (the ``app.py`` and ``pages/`` shipped in this
package, or the repository's in a checkout) on 127.0.0.1; ``invlog demo`` records demo
data through ``agent.run()``; ``invlog otlp`` runs the OTLP receiver (``python -m recorder.otlp``);
``invlog summary|compact|commit|migrate|retention|delete-tenant|report|reprice|verify|alerts|reconcile``
are the warehouse's commands (``python -m warehouse`` runs the same code). Every command
takes ``--lake`` before or after its name. Errors are one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

WAREHOUSE_COMMANDS = ("summary", "compact", "commit", "migrate", "retention", "delete-tenant", "report", "reprice",
                      "verify", "alerts", "reconcile")
_HERE = Path(__file__).resolve().parent


def dashboard_dir() -> Path:
    """Where ``app.py`` is: shipped inside the wheel (``invlog/_app``), or the checkout's root."""
    for candidate in (_HERE / "_app", _HERE.parent):
        if (candidate / "app.py").is_file() and (candidate / "pages").is_dir():
            return candidate
    raise FileNotFoundError("the dashboard's app.py is not installed with this package")


def _dashboard(argv: list[str]) -> int:
    from invlog.dashboard.access import UNSAFE_ENV

    ap = argparse.ArgumentParser(prog="invlog dashboard", description="Serve the dashboard (Streamlit).")
    ap.add_argument("--lake", default=None, help="lake location (default: INVLOG_LAKE or ./data/lake)")
    ap.add_argument("--port", type=int, default=8501)
    ap.add_argument("--address", default="127.0.0.1",
                    help="listen address (default 127.0.0.1; another one needs login or --unsafe-no-login)")
    ap.add_argument("--unsafe-no-login", action="store_true",
                    help=f"serve local mode (no login: every visitor sees local_user's tenants) on --address; "
                    f"sets {UNSAFE_ENV}=1")
    ap.add_argument("--dev", action="store_true", help="reload on file changes and show tracebacks")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    if args.lake:
        env["INVLOG_LAKE"] = args.lake
    if args.unsafe_no_login:
        env[UNSAFE_ENV] = "1"
        print(f"warning: serving without login on {args.address}: anyone who can reach it sees the local user's "
              "tenants", file=sys.stderr)
    where = dashboard_dir()
    cmd = [sys.executable, "-m", "streamlit", "run", str(where / "app.py"), "--server.port", str(args.port),
           "--server.address", args.address, "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--runner.postScriptGC", "false",  # .streamlit/config.toml says why
           "--server.fileWatcherType", "auto" if args.dev else "none",
           "--client.showErrorDetails", "full" if args.dev else "none"]
    os.execve(sys.executable, cmd, env)  # become the server: signals (Ctrl-C, SIGTERM) reach Streamlit directly
    return 0  # not reached


def _split_lake(argv: list[str]) -> tuple[str | None, list[str]]:
    """Take ``--lake X`` / ``--lake=X`` from anywhere in ``argv`` (before or after the command)."""
    lake, rest, i = None, [], 0
    while i < len(argv):
        a = argv[i]
        if a == "--lake" and i + 1 < len(argv):
            lake, i = argv[i + 1], i + 2
            continue
        if a.startswith("--lake="):
            lake = a.split("=", 1)[1]
        else:
            rest.append(a)
        i += 1
    return lake, rest


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    lake, rest = _split_lake(argv)
    commands = ("dashboard", "demo", "otlp", *WAREHOUSE_COMMANDS)
    if not rest or rest[0] in ("-h", "--help"):
        print("usage: invlog [--lake LAKE] {" + ",".join(commands) + "} ...\n\n"
              "Invocation Logs: observability and cost analytics for LLM agents, on a lake you own.\n\n"
              "  dashboard      serve the dashboard on 127.0.0.1 (invlog dashboard --help)\n"
              "  demo           record demo data through agent.run()\n"
              "  otlp           receive OpenTelemetry GenAI spans over OTLP/HTTP (invlog otlp --help)\n"
              "  alerts         check budgets and alerts (check | watch)\n"
              "  reconcile      compare recorded spend with a provider's usage and cost reports\n"
              "  summary        live totals per tenant\n"
              "  compact        merge small part files, write rollups, vacuum replaced files\n"
              "  commit         commit the parts that dead recorders left pending\n"
              "  migrate        convert a lake of plain part files to Delta tables\n"
              "  retention      keep a tenant's last N days\n"
              "  delete-tenant  delete everything stored for a tenant\n"
              "  report         a per-tenant spend report (csv, parquet, html; --restated)\n"
              "  reprice        a period's cost recomputed with other prices, recorded vs restated\n"
              "  verify         check every live file against its SHA-256\n\n"
              "Every command takes --lake (default: INVLOG_LAKE or ./data/lake).")
        return 0 if rest else 2
    command, tail = rest[0], rest[1:]
    lake_args = ["--lake", lake] if lake else []
    if command == "dashboard":
        return _dashboard(lake_args + tail)
    if command == "demo":
        from recorder.demo import main as demo_main

        return demo_main(lake_args + tail)
    if command == "otlp":
        from recorder.otlp.__main__ import main as otlp_main

        return otlp_main(lake_args + tail if tail[:1] != ["hash-key"] else tail)
    if command in WAREHOUSE_COMMANDS:
        from warehouse.__main__ import main as warehouse_main

        return warehouse_main([*lake_args, command, *tail])
    print(f"invlog: unknown command {command!r} (choose from {', '.join(commands)})", file=sys.stderr)
    return 2


def run() -> None:
    """The console script: ``main()``, then a hard exit (see ``invlog.process.exit_now``)."""
    from invlog.process import exit_now

    exit_now(main())


if __name__ == "__main__":
    run()
