"""Contracts the codebase keeps: dependency direction, SQL files, documented commands."""

import ast
import os
import re
import subprocess
import sys

from tests.support import ROOT
from warehouse import sqlfiles


def test_import_recorder_loads_neither_duckdb_nor_streamlit():
    code = ("import sys, recorder\nfrom recorder import Recorder, Agent, LLMFile, PromptTemplate\n"
            "from recorder.providers import OfflineProvider\n"
            "bad = [m for m in ('duckdb', 'streamlit', 'polars', 'warehouse') if m in sys.modules]\n"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _imports(folder):
    """Every module imported under ``folder``, as dotted names."""
    found = set()
    for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
        for f in files:
            if f.endswith(".py"):
                with open(os.path.join(dirpath, f), encoding="utf-8") as fh:
                    tree = ast.parse(fh.read())
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        found.update(a.name for a in node.names)
                    elif isinstance(node, ast.ImportFrom) and node.module:
                        found.add(node.module)
    return found


def _uses(folder, *forbidden):
    return sorted(m for m in _imports(folder) if any(m == f or m.startswith(f + ".") for f in forbidden))


def test_dependency_direction():
    # pages/, app.py -> invlog.dashboard -> warehouse -> invlog.lake <- recorder
    assert not _uses("recorder", "warehouse", "streamlit", "duckdb", "invlog.dashboard", "invlog.cli")
    assert not _uses("warehouse", "recorder", "streamlit", "invlog.dashboard", "invlog.cli")
    assert not _uses("invlog/lake", "recorder", "warehouse", "streamlit", "duckdb", "invlog.dashboard", "invlog.cli")
    assert not _uses("invlog/dashboard", "recorder", "invlog.cli") and not _uses("pages", "recorder")


def _code_files(*folders, skip=()):
    for folder in folders:
        top = os.path.join(ROOT, folder)
        if os.path.isfile(top):
            yield folder, top
            continue
        for dirpath, _, files in os.walk(top):
            rel = os.path.relpath(dirpath, ROOT)
            if any(rel == s or rel.startswith(s + os.sep) for s in skip):
                continue
            for f in sorted(files):
                if f.endswith(".py"):
                    yield os.path.join(rel, f), os.path.join(dirpath, f)


def _docstrings(tree):
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def test_only_the_lake_package_touches_storage_and_builds_lake_paths():
    """Outside invlog/lake: no filesystem calls (``lake.fs.<method>``), no fsspec or s3fs, no partition
    path spelled out (``tenant=...``), and no Parquet writer options of its own (``invlog.lake.files``;
    the benchmarks' lean baselines write files outside the lake as a plain writer would)."""
    bad = []
    for rel, path in _code_files("recorder", "warehouse", "invlog", "pages", "bench", "app.py",
                                 skip=(os.path.join("invlog", "lake"),)):
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            where = f"{rel}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "fs":
                bad.append(f"{where}: storage call .fs.{node.attr} (use a Lake method)")
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                bad.extend(f"{where}: imports {n}" for n in names if n.split(".")[0] in ("fsspec", "s3fs"))
            elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
                  and re.search(r"(?<![?&\w])tenant=", node.value)):
                bad.append(f"{where}: a lake path built by hand ({node.value!r}; use invlog.lake.layout)")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "write_table" and any(k.arg == "compression" for k in node.keywords)
                  and not rel.startswith("bench")):
                bad.append(f"{where}: Parquet writer options of its own (use invlog.lake.files.parquet_bytes)")
    assert not bad, "\n".join(bad)


def test_the_hot_path_does_not_import_the_recorder():
    """Invocation and Round depend on the narrow sink interface (recorder.sink), not on Recorder."""
    with open(os.path.join(ROOT, "recorder", "invocation.py"), encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "recorder.core" not in imported and "recorder" not in imported


def test_the_write_path_is_split_by_job():
    """The batch worker composes the jobs; it does not run the helper, spool, publish or mirror itself."""
    # a name each job's module imports to do its job, and the batch worker must not
    jobs = {"helper": "EncoderProcess", "spool_writer": "Segment", "publisher": "parts", "mirror": "hashlib",
            "ledger": "redact_text", "lifecycle": "atexit"}
    imported = {}
    for name in ("flusher", *jobs):
        with open(os.path.join(ROOT, "recorder", f"{name}.py"), encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
        doc = ast.get_docstring(tree) or ""
        assert "\n\n" in doc, f"recorder/{name}.py needs a summary line and one paragraph on its job"
        imported[name] = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)
                          for a in n.names}
    for name, marker in jobs.items():
        assert marker in imported[name], f"recorder/{name}.py no longer does its job ({marker})"
        assert marker not in imported["flusher"], f"the flusher does {name}'s job itself ({marker})"


def test_every_sql_file_has_its_function_and_is_used():
    sources = ""
    for f in os.listdir(os.path.join(ROOT, "warehouse")):
        if f.endswith(".py"):
            with open(os.path.join(ROOT, "warehouse", f), encoding="utf-8") as fh:
                sources += fh.read()
    for name in sqlfiles.names():
        text = sqlfiles.load(name)
        assert text.startswith(f"-- name: {name}\n--"), f"{name}.sql needs a name line and a description"
        assert f'"{name}"' in sources, f"{name}.sql is not used by any warehouse function"
        # values only through named parameters: no quotes around a {slot}, no %s / format markers
        assert not re.search(r"'\{\w+\}'|%s|\{\}", text), f"{name}.sql formats values into SQL"


def test_every_cli_command_is_documented():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        readme = fh.read()
    out = subprocess.run([sys.executable, "-m", "invlog", "--help"], cwd=ROOT, capture_output=True, text=True)
    listed = re.search(r"\{([\w,-]+)\}", out.stdout).group(1).split(",")
    assert {"dashboard", "demo", "summary", "compact", "retention", "delete-tenant", "report", "verify"} <= set(listed)
    for cmd in listed:
        assert f"| `invlog {cmd}" in readme, f"`invlog {cmd}` is missing from the README's command table"
    out = subprocess.run([sys.executable, "-m", "warehouse", "--help"], cwd=ROOT, capture_output=True, text=True)
    for cmd in re.search(r"\{([\w,-]+)\}", out.stdout).group(1).split(","):
        assert cmd in listed, f"warehouse {cmd} is not reachable through invlog"
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `invlog ([\w-]+)[^\n]*", readme, re.M)}
    for cmd in listed:  # every option of every command is in that command's row of the table
        out = subprocess.run([sys.executable, "-m", "invlog", cmd, "--help"], cwd=ROOT, capture_output=True,
                             text=True)
        options = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", out.stdout)) - {"--help", "--lake"}
        missing = sorted(o for o in options if o not in rows[cmd])
        assert not missing, f"`invlog {cmd}`: options {missing} are not in its README row"


def test_no_sync_async_near_copies_in_the_agent_or_the_providers():
    """The agent loop is written once (``Agent._loop``), the SDK call path once (``SDKProvider``): the sync
    and async runners only drive it, and a provider adapter only says how to send a request."""
    with open(os.path.join(ROOT, "recorder", "agent.py"), encoding="utf-8") as fh:
        agent = ast.parse(fh.read())
    methods = {n.name: n for n in ast.walk(agent) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    loop_logic = {"_after_model", "_tool_message", "max_rounds", "tool_calls", "tools"}
    for runner in ("run", "arun"):
        used = {n.attr for n in ast.walk(methods[runner]) if isinstance(n, ast.Attribute)}
        assert "_loop" in used and not used & loop_logic, f"Agent.{runner} does the loop's work: {used & loop_logic}"
    folder = os.path.join(ROOT, "recorder", "providers")
    call_logic = {"_kwargs", "_event", "_from_response", "_finish", "_plan", "_timed_out", "_new_state"}
    for f in ("sdk.py", "offline.py"):  # the call path is one generator (_call); the runners only do I/O
        with open(os.path.join(folder, f), encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
        for n in ast.walk(tree):
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name in ("complete", "acomplete"):
                used = {a.attr for a in ast.walk(n) if isinstance(a, ast.Attribute)}
                assert "_call" in used and not used & call_logic, f"providers/{f}: {n.name} has call logic"
    for f in sorted(os.listdir(folder)):
        if not f.endswith(".py") or f in ("sdk.py", "base.py", "offline.py", "__init__.py"):
            continue
        with open(os.path.join(folder, f), encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            defs = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
            for sync, asyn in (("complete", "acomplete"), ("_send", "_asend")):
                if sync in defs and asyn in defs:  # a pair: each side one SDK call, no logic to drift
                    for n in (defs[sync], defs[asyn]):
                        size = len([s for s in n.body if not (isinstance(s, ast.Expr)
                                                              and isinstance(s.value, ast.Constant))])
                        assert size <= 2, f"providers/{f}: {cls.name}.{n.name} is {size} statements"
                elif asyn in defs:  # async only: it must delegate to the sync path (as Bedrock's thread does)
                    assert len(defs[asyn].body) == 1, f"providers/{f}: {cls.name}.{asyn} is more than a delegation"
