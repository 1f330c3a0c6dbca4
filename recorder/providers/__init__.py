"""Model providers: offline (simulated), OpenAI and Anthropic (official SDKs, optional)."""

from recorder.providers.base import Completion, Provider, ProviderError
from recorder.providers.offline import OfflineProvider

__all__ = ["AnthropicProvider", "Completion", "OfflineProvider", "OpenAIProvider", "Provider", "ProviderError"]


def __getattr__(name: str):  # the SDKs are optional: import them only when asked for
    if name == "OpenAIProvider":
        from recorder.providers.openai import OpenAIProvider

        return OpenAIProvider
    if name == "AnthropicProvider":
        from recorder.providers.anthropic import AnthropicProvider

        return AnthropicProvider
    raise AttributeError(name)
