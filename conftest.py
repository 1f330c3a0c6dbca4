"""Root conftest: the README's and docs' code blocks run as tests (pytest-markdown-docs).

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
def _markdown_sandbox(request, tmp_path_factory, monkeypatch):
    if type(request.node).__name__ != "MarkdownInlinePythonItem":
        return
    for key in [k for k in os.environ if k.startswith("INVLOG_")]:
        monkeypatch.delenv(key)
    source = str(request.node.path)
    if source not in _dirs:
        _dirs[source] = str(tmp_path_factory.mktemp("docs-" + os.path.basename(source).replace(".", "-")))
    monkeypatch.chdir(_dirs[source])
