"""Shared helpers for the SDK providers: file parts, tool-call arguments, timeouts."""

from __future__ import annotations

import base64
from typing import Any

import orjson


def file_parts(content: Any, files: list[Any]) -> list[tuple[str, Any]]:
    """The user content as ("text", str) and ("file", LLMFile) pieces, in order."""
    if isinstance(content, str):
        return [("text", content)]
    out: list[tuple[str, Any]] = []
    k = 0
    for part in content or []:
        if part.get("type") == "file":
            if k < len(files):
                out.append(("file", files[k]))
            k += 1
        else:
            out.append(("text", str(part.get("text", ""))))
    return out


def b64(f: Any) -> str:
    return base64.b64encode(f.read()).decode()


def args_json(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else orjson.dumps(arguments or {}).decode()


def parse_args(raw: str | None) -> Any:
    if not raw:
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"_raw": raw}  # recorded as the model sent it


def plain(obj: Any) -> Any:
    """An SDK usage object as a plain dict (kept as the provider's raw usage)."""
    if obj is None:
        return None
    if hasattr(obj, "model_dump"):
        return obj.model_dump(exclude_none=True)
    return obj
