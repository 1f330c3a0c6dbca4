"""``python -m invlog``: the same as the ``invlog`` command."""

import sys

from invlog.cli import main

sys.exit(main())
