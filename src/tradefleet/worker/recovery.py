"""RECOVERY after a restart (never buy twice; crash-only: the same code as the running
follower and the poll that finds shares it lost track of).

Orders a previous life of this worker left open are followed against the broker first (a
pass of the order follower); then an open position is resumed under this worker's lock,
re-taken if it expired meanwhile, and locks with nothing behind them are released."""

from __future__ import annotations

from tradefleet.worker.cycle import TradingCycle


async def recover_holding(cycle: TradingCycle) -> str | None:
    """The symbol now held (cycle.holding set), or None when there is nothing to resume."""
    if cycle.reconcile is not None:
        await cycle.reconcile()
    return await cycle.take_up()
