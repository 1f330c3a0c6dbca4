"""A realistic agent run for the benchmarks: 3 rounds, ~2 KB of messages per round.

The system prompt is the same template for every run (as in a real service); the
user message is unique per run; each round appends the assistant's tool call and
the tool's result to the same list, as an agent loop does. Round 0 carries about
1.4 KB of message text, round 1 about 2 KB, round 2 about 2.6 KB.
"""

from __future__ import annotations

SYSTEM = ("You are the support assistant of Acme Inc. Answer briefly, cite the order status, never invent "
          "tracking numbers, and escalate refunds above $500 to a human. ") * 5
USAGE = ({"input_tokens": 350, "output_tokens": 40, "cache_read_tokens": 0},
         {"input_tokens": 500, "output_tokens": 60, "cache_read_tokens": 300},
         {"input_tokens": 650, "output_tokens": 80, "cache_read_tokens": 450})
PARAMS = {"temperature": 0, "max_tokens": 512}


def user_message(k: int) -> str:
    return f"Hello, this is customer {k}. " + f"My order {k * 7919 % 100000} has not arrived yet; " * 10


def rounds(k: int) -> list[tuple[list[dict], str | None, list[dict] | None]]:
    """(messages sent, response text, tool calls) for each of the 3 rounds of run ``k``."""
    msgs: list[dict] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user_message(k)}]
    out = []
    for i in range(3):
        if i < 2:
            call = {"id": f"call_{k}_{i}", "name": "lookup_order", "arguments": {"order_id": k * 7919 % 100000}}
            out.append((list(msgs), None, [call]))
            msgs.append({"role": "assistant", "content": None, "tool_calls": [call]})
            msgs.append({"role": "tool", "tool_call_id": call["id"],
                         "content": f'{{"order": {k}, "status": "in transit", "eta": "2 days", '
                                    f'"events": ["{"x" * 200}"]}}'})
        else:
            out.append((list(msgs), f"Your order {k} is in transit and should arrive in 2 days.", None))
    return out
