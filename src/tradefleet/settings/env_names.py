"""How a settings field is named to the user: its dotted path and its environment variable."""

from __future__ import annotations


def env_name(loc: list[str]) -> str:
    """``["risk", "capital_limit"]`` -> ``TRADEFLEET_RISK__CAPITAL_LIMIT``."""
    return "TRADEFLEET_" + "__".join(p.upper() for p in loc)
