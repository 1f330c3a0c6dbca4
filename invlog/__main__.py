"""``python -m invlog``: the same as the ``invlog`` command."""

from invlog.cli import run

run()
