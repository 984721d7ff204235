"""Wakes an order's tracker when its row is settled by another path (issue 20).

The caller that sent an order tracks it (``OrderService.track``) by REST lookups. When the
account's feed pushes the order's fill, the fill is recorded at once, but the tracker would
only notice at its next lookup, which, on a fleet whose reads queue for the account's
budget, can be seconds away; meanwhile the entry poll holds the cycle's turn, so a tick that
crosses the new position's stop waits for it. So a row that a pushed notice (or the
follower, in this process) makes final wakes the tracker of that order, which then reads
the row from the database instead of waiting for the broker's answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class SettledOrders:
    def __init__(self) -> None:
        self._waiting: dict[int, asyncio.Event] = {}

    @contextlib.contextmanager
    def watching(self, order_id: int) -> Iterator[asyncio.Event]:
        """An event set when ``order_id`` is settled elsewhere, while the block lasts."""
        event = self._waiting.setdefault(order_id, asyncio.Event())
        try:
            yield event
        finally:
            self._waiting.pop(order_id, None)

    def settled(self, order_id: int) -> None:
        """``order_id``'s row is final: wake whoever tracks it (nobody: nothing happens)."""
        event = self._waiting.get(order_id)
        if event is not None:
            event.set()
