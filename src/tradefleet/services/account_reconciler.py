"""Account-level reconciliation: the broker's holdings against our open positions.

Shares that no live worker owns are adopted by a live one, which then sells them:
- an OPEN position of a worker that died or was fenced (its lock reclaimed, nobody left to
  sell it, and the symbol blocked for every other worker);
- shares the broker holds that no row of ours accounts for (a fill that could not be
  recorded, an order judged never sent that was). Only symbols our orders bought today are
  considered, and never more than those orders could have bought: shares the account held
  before (a person's own investments) are not ours to sell. An excess must be seen twice,
  a check apart, and still be there under the symbol's lock, before it is adopted, so that
  a fill on its way into our rows is not mistaken for an orphan.

Adoption always goes through the symbol's lock, so two adopters never sell the same shares.

The holdings check runs at most every ``stray_check_s`` seconds: real (monotonic) seconds in
a live worker, or the session seconds of a given clock (a replay's stepped clock: the schedule
then follows the session, as a live worker's does at speed 1, and not the machine's speed, so
a replay stays deterministic)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import structlog

from tradefleet.domain.locks import Lock
from tradefleet.ports.broker import BrokerPort
from tradefleet.ports.clock import Clock
from tradefleet.ports.events import EventSink
from tradefleet.ports.orphan_store import OrphanStore
from tradefleet.ports.trade_store import PositionRow
from tradefleet.services.lock_service import LockService

STRAY_CHECK_S = 5.0      # seconds between two looks at the broker's holdings


@dataclass(frozen=True, slots=True)
class Adopted:
    lock: Lock
    position: PositionRow


class AccountReconciler:
    def __init__(self, store: OrphanStore, locks: LockService, broker: BrokerPort,
                 sink: EventSink, *, stray_check_s: float = STRAY_CHECK_S,
                 stray_clock: Clock | None = None) -> None:
        """``stray_clock``: None = the interval in real seconds (time.monotonic); a clock =
        in its session seconds."""
        self._store = store
        self._locks = locks
        self._broker = broker
        self._sink = sink
        self._stray_check_s = stray_check_s
        self._next_stray_check = 0.0
        self._seconds = time.monotonic if stray_clock is None else \
            (lambda: stray_clock.now().timestamp())
        self._seen_excess: dict[str, int] = {}
        self._log = structlog.get_logger("tradefleet.account")

    async def adopt_one(self, worker_id: str, epoch: int, trading_day: date) -> Adopted | None:
        """Take over one orphan for ``worker_id`` (lock held, position now its own), or None."""
        for pos in await self._store.orphan_positions():
            lock = await self._locks.acquire_lock(pos.symbol, worker_id, epoch=epoch)
            if lock is None:
                continue
            row, events = await self._store.adopt(pos.position_id, lock)
            if row is None:
                await self._locks.release_lock(lock, "ORPHAN_GONE")
                continue
            self._sink.log(events)
            return Adopted(lock, row)
        now = self._seconds()
        if now < self._next_stray_check:
            return None
        self._next_stray_check = now + self._stray_check_s
        return await self._adopt_stray(worker_id, epoch, trading_day)

    async def _excess(self, trading_day: date) -> dict[str, tuple[int, Decimal]]:
        """Per symbol: shares the broker holds beyond our open positions that our orders of
        today could account for, and the broker's average price."""
        balance = await self._broker.get_balance()
        held = sorted({h.symbol for h in balance.holdings})
        if not held:
            return {}                         # nothing held, nothing in excess
        # only the held symbols' books are read below: the rest of the day's orders (every
        # symbol the fleet traded) is not fetched on each check
        books = await self._store.symbol_books(trading_day, held)
        out: dict[str, tuple[int, Decimal]] = {}
        for holding in balance.holdings:
            book = books.get(holding.symbol)
            if book is None or book.open_orders:
                continue                      # not ours today, or still moving
            possible = book.bought_ordered_qty - book.sold_filled_qty - book.open_qty
            excess = min(holding.qty - book.open_qty, possible)
            if excess > 0:
                out[holding.symbol] = (excess, holding.avg_price)
        return out

    async def _adopt_stray(self, worker_id: str, epoch: int, trading_day: date
                           ) -> Adopted | None:
        try:
            excess = await self._excess(trading_day)
        except Exception as exc:  # noqa: BLE001 - a broker failure: look again next time
            self._log.warning("holdings check failed", error_type=type(exc).__name__,
                              error=str(exc))
            return None
        seen, self._seen_excess = self._seen_excess, {s: q for s, (q, _) in excess.items()}
        for symbol, (qty, _) in excess.items():
            if seen.get(symbol) != qty:
                self._log.warning("broker holds shares no position accounts for; checking "
                                  "again before adopting", symbol=symbol, qty=qty)
                continue
            lock = await self._locks.acquire_lock(symbol, worker_id, epoch=epoch)
            if lock is None:
                continue
            try:
                confirmed = (await self._excess(trading_day)).get(symbol)
            except Exception:  # noqa: BLE001
                confirmed = None
            if confirmed is None or confirmed[0] != qty:
                await self._locks.release_lock(lock, "ORPHAN_GONE")
                continue
            amount = int(confirmed[1] * qty)
            row, events = await self._store.insert_stray(lock, trading_day, qty, max(amount, 0))
            self._sink.log(events)
            self._seen_excess.pop(symbol, None)
            return Adopted(lock, row)
        return None
