"""Background timers of a live worker: the heartbeat (proves this process is alive and
still owns its locks, and renews its local lease), the reclaim sweep (spec SC-009) and the
order follower's schedule, run by every worker.

All use real seconds, not the simulated clock: lock TTLs are judged by the database clock,
which does not run faster in a simulation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from tradefleet.adapters.telemetry.logging import get_logger
from tradefleet.domain.lease import Lease
from tradefleet.services.lock_service import LockService


async def heartbeat_loop(locks: LockService, worker_id: str, lease: Lease, *,
                         interval_seconds: float, on_refused: Callable[[], None],
                         on_beat: Callable[[], None] | None = None,
                         on_error: Callable[[BaseException], None] | None = None) -> None:
    """Beat every ``interval_seconds`` under the lease's current epoch; each accepted beat
    renews the lease from the moment it was sent. When the store refuses the epoch (reclaimed
    as dead, or superseded by a newer registration) the lease is revoked, ``on_refused`` is
    called once and the loop returns. A failing database is reported to ``on_error`` and
    retried at the next beat; if it stays down the lease lapses (no order is sent) and,
    past the TTL, another worker may reclaim, which is the intended outcome."""
    log = get_logger(component="heartbeat", worker_id=worker_id)
    while True:
        sent_at = time.monotonic()
        epoch = lease.epoch
        try:
            alive = await locks.heartbeat(worker_id, epoch) if epoch is not None else False
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any DB error: keep beating
            log.error("heartbeat failed", error_type=type(exc).__name__, error=str(exc),
                      lease_remaining_s=round(lease.remaining(), 2))
            if on_error is not None:
                on_error(exc)
        else:
            if alive:
                lease.renew(sent_at)
                if on_beat is not None:
                    on_beat()
            else:
                lease.revoke()
                log.error("worker fenced: heartbeat refused; stopping trading", epoch=epoch)
                on_refused()
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


async def follow_loop(follow: Callable[[], Awaitable[object]], worker_id: str, *,
                      interval_seconds: float) -> None:
    """Run the order follower on a schedule, whatever it raises (the database may be
    restarting): every open order is followed until it is final."""
    log = get_logger(component="follower", worker_id=worker_id)
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            await follow()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - try again next round
            log.warning("order follower pass failed", error_type=type(exc).__name__,
                        error=str(exc))


def reclaim_interval(ttl_seconds: int) -> float:
    """About half the TTL: a dead worker's locks are free at most ~1.5 TTL after its last beat."""
    return max(0.5, ttl_seconds / 2)
