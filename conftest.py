"""Root conftest: the README's and docs' code blocks run as tests (pytest-markdown-docs); a clean exit code.

The blocks of one Markdown file run, in order, in one temporary directory of their own
with no ``INVLOG_*`` variables, so ``Recorder(lake="./data/lake")`` as written records into
a throwaway lake, never into the checkout's ``./data/lake``, and a later block of the same
file (fenced ``python continuation``) sees what an earlier one recorded. Blocks fenced
``python notest`` are illustrative (they need what no test machine has: provider keys, a
cluster); the text around each names its tested twin.
"""

from __future__ import annotations

import os

import pytest

_dirs: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _no_invlog_environment(monkeypatch):
    """Every test starts without ``INVLOG_*`` variables: a developer's settings never change a result."""
    for key in [k for k in os.environ if k.startswith("INVLOG_")]:
        monkeypatch.delenv(key)


@pytest.fixture(autouse=True)
def _markdown_sandbox(request, tmp_path_factory, monkeypatch, _no_invlog_environment):
    if type(request.node).__name__ != "MarkdownInlinePythonItem":
        return
    source = str(request.node.path)
    if source not in _dirs:
        _dirs[source] = str(tmp_path_factory.mktemp("docs-" + os.path.basename(source).replace(".", "-")))
    monkeypatch.chdir(_dirs[source])


_exit_status: list[int] = []


def pytest_sessionfinish(session, exitstatus):
    _exit_status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """End with pytest's own exit code: with DuckDB and pyarrow loaded, interpreter teardown can abort
    (SIGABRT) after every test has passed (see ``invlog.process.exit_now``), which CI would read as a failure."""
    if _exit_status and not hasattr(config, "workerinput"):
        from invlog.process import exit_now

        exit_now(_exit_status[-1])
