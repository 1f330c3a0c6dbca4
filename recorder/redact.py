"""Redaction of secrets before anything is written (runs on the flusher thread).

Two rules, applied to every recorded text and JSON field:

* by key: a mapping key that names a credential (``Authorization``, ``api-key``,
  ``x-api-key``, ``Cookie``, ``*_secret``, ``password``, ``*_token`` but not
  ``max_tokens``) has its value replaced by ``[REDACTED]``;
* by value: URL query parameters such as ``?key=``, ``token=``, ``signature=``,
  ``X-Amz-Signature=``, ``Bearer`` credentials and well-known key formats
  (``sk-...``, ``AKIA...``) inside any string are masked.

A user hook (``Recorder(redact=fn)``, ``fn(field, value) -> value``) runs first,
for PII or house rules. Structures nested deeper than ``MAX_DEPTH`` are cut, so
hostile input cannot exhaust the stack.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

REDACTED = "[REDACTED]"
MAX_DEPTH = 64

_KEY_RE = re.compile(
    r"(?:^|_)(?:authorization|proxy_authorization|api_?key|apikey|cookie|set_cookie|secret|password|passwd|"
    r"private_key|access_key|secret_key|token|access_token|refresh_token|id_token|auth_token|session_token|"
    r"security_token|signature|credential|credentials|bearer|sig)(?:$|_)"
)
_VALUE_RE = re.compile(
    r"(?P<param>[?&;](?:key|api[_-]?key|apikey|token|access_token|auth|auth_token|id_token|refresh_token|"
    r"signature|sig|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|"
    r"x-goog-credential|password|passwd|secret|client_secret|code)=)[^&#\s\"']+"
    r"|(?P<bearer>\b(?:Bearer|Basic|Token)\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}"
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}",
    re.IGNORECASE,
)

Hook = Callable[[str, Any], Any]


def secret_key(key: str) -> bool:
    """Whether a mapping key names a credential."""
    return _KEY_RE.search(key.lower().replace("-", "_").replace(".", "_")) is not None


def _sub(m: re.Match[str]) -> str:
    if m.group("param"):
        return m.group("param") + REDACTED
    if m.group("bearer"):
        return m.group("bearer") + REDACTED
    return REDACTED


def redact_text(text: str) -> str:
    return _VALUE_RE.sub(_sub, text)


def redact_value(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` (JSON-like) with secrets masked; the input is not mutated."""
    if isinstance(value, str):
        return _VALUE_RE.sub(_sub, value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth >= MAX_DEPTH:
        return "[TRUNCATED: nested deeper than 64 levels]"
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            ks = k if isinstance(k, str) else str(k)
            ks = _VALUE_RE.sub(_sub, ks)
            out[ks] = REDACTED if secret_key(ks) and v is not None else redact_value(v, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [redact_value(v, depth + 1) for v in value]
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    return _VALUE_RE.sub(_sub, str(value))
