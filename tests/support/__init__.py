"""Helpers shared by the tests, in one place (the fixtures are in ``tests/conftest.py``).

``lakeread`` reads a table back with pyarrow alone; ``recording`` generates and compares
invocation specs; ``records`` records small lakes and spool segments the way tests need them;
``servers`` waits for, queries and stops the servers tests start (moto, streamlit, node);
``browser`` finds Debian's chromium; ``fake_llm`` is a loopback stub of the providers' HTTP
APIs; ``crashee`` and ``delta_writer`` are processes the crash and concurrency tests kill.
"""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
