"""A BrokerPort that times every call of the port for the worker's metrics: the operation
(the port method), the outcome (``ok`` or the error's type name, a small fixed set from
domain.errors) and the seconds it took as the worker saw them (rate-budget waits, retries
inside the adapter and the round trip included). Anything else goes straight through."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from tradefleet.ports.broker import BrokerPort

# the port's methods (ports/broker.py)
OPERATIONS = frozenset({"authenticate", "get_quotes", "get_minute_bars", "place_order",
                        "get_order", "find_orders", "cancel_order", "modify_order",
                        "get_balance", "get_buyable_qty"})

Observe = Callable[[str, str, float], None]    # (operation, outcome, seconds)


class MeteredBroker:
    def __init__(self, inner: BrokerPort, observe: Observe) -> None:
        self._inner = inner
        self._observe = observe

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if name not in OPERATIONS:
            return target

        @wraps(target)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            outcome = "ok"
            try:
                return await target(*args, **kwargs)
            except BaseException as exc:
                outcome = type(exc).__name__
                raise
            finally:
                self._observe(name, outcome, time.perf_counter() - started)

        return timed
