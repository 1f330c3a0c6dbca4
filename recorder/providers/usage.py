"""A provider's raw response body to billed usage, by genai-prices' own extractors.

Each SDK provider hands the body it received (or, when streamed, the usage and
model it assembled) to :func:`extract` with the provider id and API flavour;
genai-prices' extractor for that pair reads every billed field (cache reads and
5-minute/1-hour writes, audio, reasoning, web searches) into a usage dict for
``Round.set_response``. An OpenAI-compatible vendor without an extractor of its
own is read with OpenAI's. No usage in the body is ``missing_usage``; a body the
extractor cannot read is ``unreadable_usage`` (the run goes on, the raw usage is
kept). This runs once per model call in the provider, about 100 us here, beside a
model call of hundreds of milliseconds; the recorder's hot path only applies a
cached price.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from genai_prices import data_snapshot

from invlog.pricing.book import PROVIDER_ALIASES
from invlog.pricing.usage import check_usage, from_genai

# Which extractor reads a vendor's OpenAI-compatible bodies when the vendor has none for the flavour.
_COMPATIBLE = {"chat": "openai", "responses": "openai"}


def extract(body: dict[str, Any], provider_id: str, api_flavor: str) -> tuple[dict[str, Any], str | None]:
    """``(usage, None)``, or ``({}, reason)`` with ``missing_usage`` / ``unreadable_usage``."""
    if not isinstance(body, dict) or not body.get(_root(provider_id, api_flavor)):
        return {}, "missing_usage"
    try:
        extractor = _extractor(PROVIDER_ALIASES.get(provider_id, provider_id), api_flavor)
        _, found = extractor.extract(body)  # the provider's extractor; the model is matched when priced
        usage = from_genai(found)
        check_usage(usage)  # the convention's invariants (cache within input, reasoning within output)
    except (ValueError, LookupError):
        return {}, "unreadable_usage"
    return usage, None


@cache
def _extractor(provider_id: str, api_flavor: str) -> Any:
    """The vendor's extractor for the flavour, else its only one, else OpenAI's for the flavour."""
    snapshot = data_snapshot.get_snapshot()
    candidates = [(provider_id, api_flavor), (provider_id, "default")]
    if api_flavor in _COMPATIBLE:
        candidates.append((_COMPATIBLE[api_flavor], api_flavor))
    for pid, flavor in candidates:
        try:
            provider = snapshot.find_provider(None, pid, None)
        except LookupError:
            continue
        for e in provider.extractors or ():
            if e.api_flavor == flavor:
                return e
    raise LookupError(f"genai-prices has no usage extractor for {provider_id!r} ({api_flavor})")


def _root(provider_id: str, api_flavor: str) -> str:
    return "usageMetadata" if provider_id in ("google", "gemini") and api_flavor == "default" else "usage"
