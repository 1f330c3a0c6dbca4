"""The read-only redaction check the encoder relies on: it must never call a dirty value clean.

``needs_redaction(v)`` decides whether a value is stored as it is; when it says
clean, ``redact_value(v)`` must change nothing (compared as stored JSON). Checked
on generated structures that mix safe keys, credential keys and strings carrying
every secret format, at any depth.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recorder.encode import _json
from recorder.redact import MAX_DEPTH, needs_redaction, redact_value

SECRETS = [
    "Bearer abcdefgh12345678", "basic QWxhZGRpbjpvcGVu", "token   zzzzzzzzzzzz", "sk-proj-" + "a" * 24,
    "AKIA" + "B" * 16, "ghp_" + "c" * 36, "https://x.test/a?key=s3cr3t", "?x=1&signature=abc123",
    "see sk-ant-" + "d" * 20 + " here", "short", "Token", "tokens are fine", "max_tokens=5",
]
KEYS = ["role", "content", "max_tokens", "temperature", "Authorization", "x-api-key", "api_key", "password",
        "client_secret", "session_token", "order_id", "note", "cookie", "k?key=abcdef"]
text = st.one_of(st.sampled_from(SECRETS), st.text(max_size=40),
                 st.builds(lambda a, s, b: a + s + b, st.text(max_size=8), st.sampled_from(SECRETS),
                           st.text(max_size=8)))
scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text)
values = st.recursive(
    scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                            st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=10)), inner,
                                            max_size=4)),
    max_leaves=30,
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_clean_verdicts_are_never_wrong(value):
    if not needs_redaction(value):
        assert _json(redact_value(value)) == _json(value)


def test_every_secret_and_credential_key_is_seen():
    for s in SECRETS[:-4]:
        assert needs_redaction(s) and needs_redaction([{"role": "user", "content": s}])
        assert needs_redaction({"a": ("x", {"b": [s]})})
    for key in ("Authorization", "x-api-key", "api_key", "password", "client_secret", "session_token", "cookie"):
        assert needs_redaction({key: "v"}) and needs_redaction([{"role": "user"}, {"meta": {key: 1}}])
    assert not needs_redaction([{"role": "user", "content": "hello there"}, {"max_tokens": 5, "temperature": 0.2}])


def test_nesting_past_the_limit_and_foreign_types_are_dirty():
    deep: list = []
    node = deep
    for _ in range(MAX_DEPTH + 2):
        node.append([])
        node = node[0]
    assert needs_redaction(deep)
    shallow: list = []
    node = shallow
    for _ in range(MAX_DEPTH - 2):
        node.append([])
        node = node[0]
    assert not needs_redaction(shallow)
    assert needs_redaction({"x": b"bytes"}) and needs_redaction([object()]) and needs_redaction({1: "int key"})
