"""The end-of-day judgement against the exchange's own books, not our rows: the account holds
no shares, and every execution at the exchange is in exactly one of our order rows whose
fills add up to what the exchange executed for that order."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.sim.ledger import Books


def _odno(value: str) -> str:
    return value.strip().lstrip("0")


@dataclass(frozen=True)
class BooksVerdict:
    holdings: dict[str, int]                   # symbol -> shares still held at the exchange
    executions: int                            # executions at the exchange today
    unrecorded: dict[str, int]                 # ODNO -> executed qty with no order row of ours
    mismatched: dict[str, tuple[int, int]]     # ODNO -> (exchange executed, our fills)

    @property
    def clean(self) -> bool:
        return not self.holdings and not self.unrecorded and not self.mismatched

    @property
    def held_shares(self) -> int:
        return sum(self.holdings.values())

    @property
    def executions_without_fills(self) -> int:
        return len(self.unrecorded) + len(self.mismatched)


async def compare_books(db: Database, books: Books) -> BooksVerdict:
    executed: dict[str, int] = defaultdict(int)
    for e in books.executions:
        executed[_odno(e.odno)] += e.qty
    rows = await db.pool.fetch(
        """SELECT o.broker_order_id,
                  coalesce((SELECT sum(f.qty) FROM fills f WHERE f.order_id = o.order_id), 0)
                      AS filled
             FROM orders o WHERE o.broker_order_id IS NOT NULL""")
    ours: dict[str, int] = defaultdict(int)
    for r in rows:
        ours[_odno(r["broker_order_id"])] += int(r["filled"])
    unrecorded = {odno: q for odno, q in executed.items() if odno not in ours}
    mismatched = {odno: (q, ours[odno]) for odno, q in executed.items()
                  if odno in ours and ours[odno] != q}
    holdings = {h.symbol: h.qty for h in books.holdings.holdings if h.qty}
    return BooksVerdict(holdings, len(books.executions), unrecorded, mismatched)
