"""RECOVERY after a restart (spec §4 of the design: never buy twice).

Orders a previous life of this worker left open are settled against the broker first; then
an open position is resumed under this worker's lock, re-taken if it expired meanwhile."""

from __future__ import annotations

import structlog

from tradefleet.services.lock_service import LockService
from tradefleet.worker.cycle import TradingCycle

SETTLE_TIMEOUT_S = 3.0


async def recover_holding(cycle: TradingCycle, locks: LockService, worker_id: str) -> str | None:
    """The symbol now held (cycle.holding set), or None when there is nothing to resume."""
    log = structlog.get_logger("tradefleet.recovery").bind(worker_id=worker_id)
    held_locks = {lock.symbol: lock for lock in await locks.locks_of(worker_id)}
    if cycle.reconcile is not None:                 # the order service's reconciliation
        await cycle.reconcile()
    else:
        for order in await cycle.open_orders():
            log.warning("settling order left open by a previous run",
                        order_id=order.order_id, symbol=order.symbol, status=str(order.status))
            await cycle.settle(order, SETTLE_TIMEOUT_S)
    positions = [p for p in await cycle.positions() if p["qty"] > 0]
    for pos in positions:
        symbol = pos["symbol"]
        lock = held_locks.pop(symbol, None) or await locks.acquire_lock(symbol, worker_id)
        if lock is None:
            log.error("open position but its lock is held by another worker; not trading it",
                      symbol=symbol)
            continue
        if await cycle.adopt(lock):
            log.info("recovered open position", symbol=symbol, qty=pos["qty"],
                     fencing_token=lock.fencing_token)
            for stale in held_locks.values():
                await locks.release_lock(stale, "RECOVERY")
            return symbol
    for stale in held_locks.values():            # locks with no position behind them
        await locks.release_lock(stale, "RECOVERY")
    return None
