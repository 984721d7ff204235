"""Where a symbol's market comes from (symbol -> KOSPI, KOSDAQ, KONEX, ETF, ETN): the sell-side
taxes depend on it. Implemented by the simulator's universe (a deterministic market per
symbol), by KIS's stock-info API (search-stock-info, CTPF1002R; real accounts only, read
through domain.markets.market_from_kis), or by a fixed table."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from tradefleet.domain.markets import Market


@runtime_checkable
class MarketOf(Protocol):
    async def market_of(self, symbol: str) -> Market | None:
        """The symbol's market, or None when it cannot be told (a security whose taxes the
        worker does not know, or a symbol the source has never heard of): the caller then
        does not open a position in it. Transport failures raise, as any broker read does."""
        ...
