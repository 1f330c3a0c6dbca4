"""Model providers: offline (simulated); OpenAI Chat Completions and Responses, Anthropic,
Google Gemini and AWS Bedrock through their official SDKs (optional dependencies)."""

from typing import Any

from recorder.providers.base import Completion, Provider, ProviderError
from recorder.providers.offline import OfflineProvider

__all__ = ["AnthropicProvider", "BedrockProvider", "Completion", "GeminiProvider", "OfflineProvider",
           "OpenAIProvider", "OpenAIResponsesProvider", "Provider", "ProviderError"]

_LAZY = {"OpenAIProvider": "openai", "OpenAIResponsesProvider": "openai_responses", "AnthropicProvider": "anthropic",
         "GeminiProvider": "gemini", "BedrockProvider": "bedrock"}


def __getattr__(name: str) -> Any:  # the SDKs are optional: import them only when asked for
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"recorder.providers.{_LAZY[name]}"), name)
    raise AttributeError(name)
