"""A recording process for crash tests: records forever, prints what flush() acknowledged.

Usage: python -m tests.support.crashee LAKE SPOOL. Each line ``ACK id id ...`` lists
invocations that a successful ``flush()`` acknowledged; the test kills this
process with SIGKILL at a random moment and checks every acknowledged id is in
the lake exactly once after a restart.
"""

import sys

from recorder import LLMFile, Recorder


def main() -> None:
    lake, spool = sys.argv[1], sys.argv[2]
    rec = Recorder(lake=lake, spool_dir=spool, spool_interval=0.01, publish_interval=0.05)
    n = 0
    while True:
        ids = []
        for _ in range(20):
            n += 1
            files = [LLMFile.from_bytes(f"doc {n % 7}".encode(), filename="d.txt")] if n % 5 == 0 else None
            with rec.invocation(tenant="acme", agent="crashy", provider="openai", model="gpt-4o",
                                user_id=f"u{n}", files=files) as inv:
                for k in range(2):
                    with inv.round([{"role": "user", "content": "x" * 500}]) as r:
                        r.set_response("y" * 100, usage={"input_tokens": 100 + k, "output_tokens": 10})
            ids.append(inv.invocation_id)
        if rec.flush(timeout=10):
            print("ACK " + " ".join(ids), flush=True)


if __name__ == "__main__":
    main()
