"""A strategy's own filters and exit parameters, applied to the configured ones.

Both hooks are the user's code, so they are called once at start-up (settings validation,
then wiring) and checked here: an exception or a result of the wrong type is a ConfigError
naming the strategy, never something a running worker meets."""

from __future__ import annotations

from typing import Any

from tradefleet.domain.errors import ConfigError
from tradefleet.domain.exits import ExitParams
from tradefleet.domain.filters import FilterParams


def strategy_rules(strategy: Any, filters: FilterParams, exits: ExitParams
                   ) -> tuple[FilterParams, ExitParams]:
    """The filters and exits the worker uses: the configured ones as the strategy adjusts
    them (``filter_params``, ``exit_params``)."""
    out: list[Any] = []
    for hook, configured in (("filter_params", filters), ("exit_params", exits)):
        try:
            value = getattr(strategy, hook)(configured)
        except Exception as exc:  # noqa: BLE001 - the user's code: any error is config
            raise ConfigError(f"strategy.name: {strategy.name!r}.{hook} raised "
                              f"{type(exc).__name__}: {exc}") from None
        if not isinstance(value, type(configured)):
            raise ConfigError(f"strategy.name: {strategy.name!r}.{hook} must return a "
                              f"{type(configured).__name__}, got {type(value).__name__}")
        out.append(value)
    return out[0], out[1]
