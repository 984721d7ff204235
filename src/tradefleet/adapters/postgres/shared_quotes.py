"""Quotes and minute bars fetched once per poll window per account, shared through Postgres.

N workers polling one universe would otherwise cost N times the broker calls of one, against a
per-appkey rate limit. The first worker of a window claims it with an empty row, fetches
without holding a database connection, and fills the row in; the others poll it briefly and
read it (or fetch alone if the claimer dies). Each worker still evaluates its own signal and
takes its own locks. Everything but quotes and bars passes straight through.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from tradefleet.adapters.postgres.database import Database
from tradefleet.domain.market import Balance, Bar, Quote
from tradefleet.domain.orders import OrderAck, OrderReport, OrderRequest, Side
from tradefleet.ports.broker import BrokerPort
from tradefleet.ports.clock import Clock

CLAIM_WAIT_SECONDS = 5.0     # how long others wait for a claimer before fetching alone
CLAIM_POLL_SECONDS = 0.02
_INT_FIELDS = ("price", "volume", "traded_value", "open", "high", "low", "prev_high",
               "prev_low", "prev_close", "ask", "bid", "upper_limit", "lower_limit")


def quote_to_json(q: Quote) -> dict:
    data = {name: getattr(q, name) for name in _INT_FIELDS}
    data["change_rate"] = str(q.change_rate)
    data["at"] = q.at.isoformat()
    return data


def bar_to_json(b: Bar) -> dict:
    return {"start": b.start.isoformat(), "open": b.open, "high": b.high, "low": b.low,
            "close": b.close, "volume": b.volume}


def bar_from_json(symbol: str, d: dict) -> Bar:
    return Bar(symbol, datetime.fromisoformat(d["start"]), int(d["open"]), int(d["high"]),
               int(d["low"]), int(d["close"]), int(d["volume"]))


def quote_from_json(symbol: str, data: dict) -> Quote:
    return Quote(symbol=symbol, change_rate=Decimal(data["change_rate"]),
                 at=datetime.fromisoformat(data["at"]),
                 **{name: int(data[name]) for name in _INT_FIELDS})


class SharedQuotesBroker:
    """A BrokerPort decorator that shares ``get_quotes`` results across the fleet."""

    def __init__(
        self, inner: BrokerPort, db: Database, clock: Clock, *, account_key: str,
        window_seconds: float,
    ) -> None:
        self.inner = inner
        self._db = db
        self._clock = clock
        self._account_key = account_key
        self._window = window_seconds
        self.account_key = account_key          # the scope a shared scan shares too
        self.window_seconds = window_seconds
        self.fetched_here = 0
        self.served_shared = 0
        self._me = f"{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def _scope(self, symbols: Sequence[str]) -> str:
        universe = hashlib.sha256(",".join(sorted(symbols)).encode()).hexdigest()[:16]
        return f"{self._account_key}:{universe}"

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        raw = await self._shared(self._scope(symbols), lambda: self._fetch_quotes(symbols))
        return {s: quote_from_json(s, d) for s, d in raw.items()}

    async def get_minute_bars(self, symbol: str, count: int) -> list[Bar]:
        """Bars are one broker call per symbol: shared per window like quotes, so N workers
        evaluating the same candidates cost the calls of one."""
        raw = await self._shared(f"{self._account_key}:bars:{symbol}:{count}",
                                 lambda: self._fetch_bars(symbol, count))
        return [bar_from_json(symbol, d) for d in raw["bars"]]

    async def _fetch_quotes(self, symbols: Sequence[str]) -> dict:
        quotes = await self.inner.get_quotes(symbols)
        return {s: quote_to_json(q) for s, q in quotes.items()}

    async def _fetch_bars(self, symbol: str, count: int) -> dict:
        bars = await self.inner.get_minute_bars(symbol, count)
        return {"bars": [bar_to_json(b) for b in bars]}

    async def _shared(self, scope: str, fetch) -> dict:  # noqa: ANN001 - async () -> dict
        """The window's snapshot for ``scope``: read it, or claim it and fetch it, or wait for
        the claimer. No connection is held while the broker is called or while waiting."""
        window = int(self._clock.now().timestamp() // self._window)
        deadline = time.monotonic() + CLAIM_WAIT_SECONDS
        while True:
            claimed = await self._db.pool.fetchval(
                """INSERT INTO shared_quotes (scope_key, window_id, quotes, claimed_by)
                   VALUES ($1, $2, NULL, $3) ON CONFLICT (scope_key, window_id) DO NOTHING
                   RETURNING true""", scope, window, self._me)
            if claimed:
                break
            row = await self._db.pool.fetchval(
                "SELECT quotes FROM shared_quotes WHERE scope_key = $1 AND window_id = $2",
                scope, window)
            if row is not None:
                self.served_shared += 1
                return row
            if time.monotonic() > deadline:   # the claimer died or stalls: fetch alone
                return await fetch()
            await asyncio.sleep(CLAIM_POLL_SECONDS)
        try:
            data = await fetch()
        except BaseException:
            await self._db.pool.execute(    # let another worker try this window
                "DELETE FROM shared_quotes WHERE scope_key = $1 AND window_id = $2 "
                "AND quotes IS NULL AND claimed_by = $3", scope, window, self._me)
            raise
        await self._db.pool.execute(
            """WITH filled AS (UPDATE shared_quotes SET quotes = $3, fetched_at = now()
                                WHERE scope_key = $1 AND window_id = $2)
               DELETE FROM shared_quotes WHERE scope_key = $1 AND window_id < $2 - 10""",
            scope, window, data)
        self.fetched_here += 1
        return data

    # --- everything else is the inner broker's -------------------------------------------
    async def authenticate(self) -> datetime | None:
        return await self.inner.authenticate()

    async def place_order(self, request: OrderRequest) -> OrderAck:
        return await self.inner.place_order(request)

    async def get_order(self, broker_order_id: str, trading_day: date) -> OrderReport | None:
        return await self.inner.get_order(broker_order_id, trading_day)

    async def find_orders(
        self, trading_day: date, symbol: str, side: Side, since: datetime
    ) -> list[OrderReport]:
        return await self.inner.find_orders(trading_day, symbol, side, since)

    async def cancel_order(self, broker_order_id: str, broker_branch: str | None) -> None:
        await self.inner.cancel_order(broker_order_id, broker_branch)

    async def modify_order(self, broker_order_id: str, broker_branch: str | None, *,
                           price: int, qty: int | None = None) -> OrderAck:
        return await self.inner.modify_order(broker_order_id, broker_branch, price=price,
                                             qty=qty)

    async def get_balance(self) -> Balance:
        return await self.inner.get_balance()

    async def get_buyable_qty(self, symbol: str, price: int | None) -> int:
        return await self.inner.get_buyable_qty(symbol, price)
