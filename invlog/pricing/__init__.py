"""Exact prices of LLM calls, shared by the recorder and the warehouse (genai-prices underneath)."""

from invlog.pricing.book import MISSING_USAGE, REASONS, UNKNOWN_MODEL, PriceBook, context
from invlog.pricing.usage import COLUMNS, check_usage

__all__ = ["COLUMNS", "MISSING_USAGE", "REASONS", "UNKNOWN_MODEL", "PriceBook", "check_usage", "context"]
