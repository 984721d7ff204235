"""The end-of-day judgement against the exchange's own books, not our rows: the account holds
no shares, and every execution at the exchange is in exactly one of our order rows whose
fills add up to what the exchange executed for that order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

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


# our orders with a broker order number, and the shares our fills record for each
OUR_FILLS = """SELECT o.broker_order_id,
                      coalesce((SELECT sum(f.qty) FROM fills f WHERE f.order_id = o.order_id),
                               0) AS filled
                 FROM orders o WHERE o.broker_order_id IS NOT NULL"""


async def compare_books(db: Database, books: Books) -> BooksVerdict:
    return judge_books(books, await db.pool.fetch(OUR_FILLS))


def judge_books(books: Books, rows: Iterable[Mapping[str, Any]]) -> BooksVerdict:
    """The judgement over rows of ``OUR_FILLS`` (from asyncpg, or JSON read through psql)."""
    executed: dict[str, int] = defaultdict(int)
    for e in books.executions:
        executed[_odno(e.odno)] += e.qty
    ours: dict[str, int] = defaultdict(int)
    for r in rows:
        ours[_odno(r["broker_order_id"])] += int(r["filled"])
    unrecorded = {odno: q for odno, q in executed.items() if odno not in ours}
    mismatched = {odno: (q, ours[odno]) for odno, q in executed.items()
                  if odno in ours and ours[odno] != q}
    holdings = {h.symbol: h.qty for h in books.holdings.holdings if h.qty}
    return BooksVerdict(holdings, len(books.executions), unrecorded, mismatched)
