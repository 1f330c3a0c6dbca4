"""Invocation Logs recorder: record every LLM agent run into a Parquet lake.

``from recorder import Recorder, LLMFile`` gives the low-level API; the agent
layer (``Agent``, ``PromptTemplate``) is imported lazily. Importing this package
loads neither DuckDB nor Streamlit.
"""

from __future__ import annotations

from typing import Any

from recorder.attachments import LLMFile
from recorder.budget import BudgetExceeded
from recorder.core import Recorder
from recorder.invocation import Invocation, Round, current_invocation

__all__ = ["Agent", "BudgetExceeded", "Invocation", "LLMFile", "PromptTemplate", "Recorder", "Response", "Round",
           "current_invocation"]


def __getattr__(name: str) -> Any:
    if name in ("Agent", "PromptTemplate", "Response"):
        from recorder import agent

        return getattr(agent, name)
    raise AttributeError(f"module 'recorder' has no attribute {name!r}")
