"""Background timers of a live worker: the heartbeat (proves this process is alive and
still owns its locks) and the reclaim sweep (spec SC-009), run by every worker.

Both use real seconds, not the simulated clock: lock TTLs are judged by the database clock,
which does not run faster in a simulation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tradefleet.adapters.telemetry.logging import get_logger
from tradefleet.services.lock_service import LockService


async def heartbeat_loop(locks: LockService, worker_id: str, epoch: int, *,
                         interval_seconds: float, on_fenced: Callable[[], None],
                         on_beat: Callable[[], None] | None = None) -> None:
    """Beat every ``interval_seconds``. When the store says this epoch was fenced (reclaimed
    as dead, or superseded by a newer registration) call ``on_fenced`` once and return:
    the process must stop trading at once, since another worker may own its symbols now.
    A failing database is logged and retried at the next beat; if it stays down the TTL
    expires and another worker reclaims, which is the intended outcome."""
    log = get_logger(component="heartbeat", worker_id=worker_id)
    while True:
        try:
            alive = await locks.heartbeat(worker_id, epoch)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any DB error: keep beating
            log.error("heartbeat failed", error_type=type(exc).__name__, error=str(exc))
        else:
            if alive and on_beat is not None:
                on_beat()
            if not alive:
                log.error("worker fenced: heartbeat refused; stopping trading", epoch=epoch)
                on_fenced()
                return
        await asyncio.sleep(interval_seconds)


async def reclaim_loop(locks: LockService, worker_id: str, *, interval_seconds: float) -> None:
    """Sweep for workers whose heartbeat expired and free their locks. Every live worker
    runs this; the store makes concurrent sweeps harmless."""
    log = get_logger(component="reclaim", worker_id=worker_id)
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            reclaimed = await locks.reclaim_expired()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - try again next round
            log.error("lock reclaim sweep failed", error_type=type(exc).__name__,
                      error=str(exc))
            continue
        if reclaimed:
            log.error("dead workers detected; locks reclaimed", workers=reclaimed)


def reclaim_interval(ttl_seconds: int) -> float:
    """About half the TTL: a dead worker's locks are free at most ~1.5 TTL after its last beat."""
    return max(0.5, ttl_seconds / 2)
