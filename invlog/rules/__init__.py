"""Budgets and alerts: the rules file, the periods it speaks of, and the state kept in the lake.

``invlog.rules.config`` reads and validates the one TOML rules file (``INVLOG_RULES``, default
``<lake>/_meta/rules.toml``); ``invlog.rules.periods`` turns a budget's period into the UTC
window it covers; ``invlog.rules.state`` is the small state the checker keeps in the lake per
tenant (each budget's spend and when it was computed, which the recorder reads to enforce hard
limits; what was notified, and the history). The warehouse evaluates the rules
(``warehouse.alerts``); the recorder reads only the state. Imports neither DuckDB nor Streamlit.
"""

from invlog.rules.config import Alert, Budget, Rules, RulesError, load_rules, parse_rules
from invlog.rules.periods import Window, window

__all__ = ["Alert", "Budget", "Rules", "RulesError", "Window", "load_rules", "parse_rules", "window"]
