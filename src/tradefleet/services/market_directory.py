"""The worker's one answer to "which market is this symbol on?": the settings' own table
(costs.markets) first, then the source (simulator universe or KIS), each answer remembered
for the life of the process (a listing does not change market during a session), "cannot
tell" included, so an unknown symbol costs the broker one call, not one per scan.

Entry asks ``await market_of(symbol)`` before buying and skips the symbol on None; the fill
that opens the position records the answer (orders.market / positions.market, migration
0008), so a close after a restart never needs to ask again."""

from __future__ import annotations

from collections.abc import Mapping

from tradefleet.domain.markets import Market
from tradefleet.ports.market_of import MarketOf


class MarketTable:
    """A fixed symbol -> market table as a MarketOf (the simulator's universe, tests)."""

    def __init__(self, markets: Mapping[str, Market]) -> None:
        self._markets = dict(markets)

    async def market_of(self, symbol: str) -> Market | None:
        return self._markets.get(symbol)


class MarketDirectory:
    def __init__(self, source: MarketOf | None,
                 overrides: Mapping[str, Market] | None = None) -> None:
        self._source = source
        self._known: dict[str, Market | None] = dict(overrides or {})
        self._overridden = frozenset(self._known)

    async def market_of(self, symbol: str) -> Market | None:
        if symbol in self._known:
            return self._known[symbol]
        if self._source is None:
            return None
        answer = await self._source.market_of(symbol)      # a transport error is not kept
        market = None if answer is None else Market(answer)
        self._known[symbol] = market
        return market

    def known(self, symbol: str) -> Market | None:
        """What is already known, without asking the source (no I/O)."""
        return self._known.get(symbol)

    def is_overridden(self, symbol: str) -> bool:
        return symbol in self._overridden
