"""The recorder moves pyarrow's default pool off mimalloc (recorder/arrow_pool.py), unless the user chose one."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = """
import sys, pyarrow as pa
from recorder import Recorder
before = pa.default_memory_pool().backend_name
rec = Recorder(lake=sys.argv[1])
print(before, pa.default_memory_pool().backend_name)
rec.shutdown()
"""


def _pools(tmp_path, **env) -> list[str]:
    e = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"} | env
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "lake")], cwd=ROOT, env=e,
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_a_recorder_moves_the_default_pool_off_mimalloc(tmp_path):
    before, after = _pools(tmp_path)
    assert before == "mimalloc"  # pyarrow's own default on this platform: what the switch is about
    assert after in ("jemalloc", "system")


def test_a_pool_the_user_chose_stays(tmp_path):
    assert _pools(tmp_path, ARROW_DEFAULT_MEMORY_POOL="mimalloc") == ["mimalloc", "mimalloc"]
    assert _pools(tmp_path, ARROW_DEFAULT_MEMORY_POOL="system") == ["system", "system"]
