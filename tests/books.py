"""The exchange's own books against our rows: the final judge of a failure test.

Holdings come from the simulated account; executions from every order the exchange holds
today (per broker order id, the quantity it executed). Each execution must be in exactly one
of our order rows, with fills rows summing to what the exchange executed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.orders import Side


@dataclass(frozen=True)
class Books:
    holdings: dict[str, int]              # symbol -> shares the account holds
    executed: dict[str, int]              # broker order id -> shares executed at the exchange
    unrecorded: dict[str, int]            # executed at the exchange, no order row of ours
    mismatched: dict[str, tuple[int, int]]  # broker id -> (exchange executed, our fills)
    orders_at_exchange: int

    @property
    def clean(self) -> bool:
        return not self.holdings and not self.unrecorded and not self.mismatched


async def read_books(db: Database, market: SimMarket) -> Books:
    start = datetime.combine(market.day, time(0, 0), tzinfo=SEOUL)
    reports = [r for s in market.symbols() for side in Side
               for r in market.find(s, side, start)]
    executed = {r.broker_order_id: r.filled_qty for r in reports}
    rows = await db.pool.fetch(
        """SELECT o.broker_order_id, coalesce(sum(f.qty), 0) AS filled
             FROM orders o LEFT JOIN fills f ON f.order_id = o.order_id
            WHERE o.broker_order_id IS NOT NULL GROUP BY o.broker_order_id""")
    ours = {r["broker_order_id"]: int(r["filled"]) for r in rows}
    unrecorded = {odno: q for odno, q in executed.items() if q and odno not in ours}
    mismatched = {odno: (q, ours[odno]) for odno, q in executed.items()
                  if odno in ours and ours[odno] != q}
    holdings = {h.symbol: h.qty for h in market.balance().holdings if h.qty}
    return Books(holdings, executed, unrecorded, mismatched, len(reports))
