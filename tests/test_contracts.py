"""Contracts the codebase keeps: dependency direction, SQL files, documented commands."""

import ast
import os
import re
import subprocess
import sys

from warehouse import sqlfiles

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_import_recorder_loads_neither_duckdb_nor_streamlit():
    code = ("import sys, recorder\nfrom recorder import Recorder, Agent, LLMFile, PromptTemplate\n"
            "from recorder.providers import OfflineProvider\n"
            "bad = [m for m in ('duckdb', 'streamlit', 'polars', 'warehouse') if m in sys.modules]\n"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _imports(folder):
    found = set()
    for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
        for f in files:
            if f.endswith(".py"):
                with open(os.path.join(dirpath, f), encoding="utf-8") as fh:
                    tree = ast.parse(fh.read())
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        found.update(a.name.split(".")[0] for a in node.names)
                    elif isinstance(node, ast.ImportFrom) and node.module:
                        found.add(node.module.split(".")[0])
    return found


def test_dependency_direction():
    assert not {"warehouse", "streamlit", "ui", "duckdb"} & _imports("recorder")
    assert not {"recorder", "streamlit", "ui"} & _imports("warehouse")
    assert not {"recorder", "warehouse", "streamlit", "duckdb", "ui"} & _imports("schema")
    assert "recorder" not in _imports("ui") | _imports("pages")


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
    for cmd in ("summary", "compact", "retention", "delete-tenant", "report"):
        assert "python -m warehouse" in readme and cmd in readme, f"warehouse {cmd} is not in the README"
    out = subprocess.run([sys.executable, "-m", "warehouse", "--help"], cwd=ROOT, capture_output=True, text=True)
    listed = re.search(r"\{([\w,-]+)\}", out.stdout).group(1).split(",")
    for cmd in listed:
        assert f"warehouse {cmd}" in readme or f"`{cmd}" in readme, f"`{cmd}` is missing from the README"
    assert "python -m recorder.demo" in readme
