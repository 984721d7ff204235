"""A symbol's market: settings override first, then the source, remembered once known."""

from __future__ import annotations

from tradefleet.domain.markets import Market
from tradefleet.ports.market_of import MarketOf
from tradefleet.services.market_directory import MarketDirectory, MarketTable


class CountingTable(MarketTable):
    """A real table that also counts how often it was asked."""

    def __init__(self, markets: dict[str, Market]) -> None:
        super().__init__(markets)
        self.asked: list[str] = []

    async def market_of(self, symbol: str) -> Market | None:
        self.asked.append(symbol)
        return await super().market_of(symbol)


async def test_override_wins_then_source_answers_are_remembered():
    source = CountingTable({"005930": Market.KOSPI, "069500": Market.KOSPI,
                            "091990": Market.KOSDAQ})
    markets = MarketDirectory(source, overrides={"069500": Market.ETF})
    assert isinstance(markets, MarketOf) and isinstance(source, MarketOf)
    assert await markets.market_of("069500") is Market.ETF       # the settings say ETF
    assert markets.known("091990") is None                        # not asked yet: unknown
    assert await markets.market_of("091990") is Market.KOSDAQ
    assert await markets.market_of("091990") is Market.KOSDAQ
    assert markets.known("091990") is Market.KOSDAQ
    assert source.asked == ["091990"]                              # asked once, never 069500
    assert markets.is_overridden("069500") and not markets.is_overridden("091990")


async def test_cannot_tell_is_remembered_too():
    source = CountingTable({})
    markets = MarketDirectory(source)
    assert await markets.market_of("123450") is None
    assert await markets.market_of("123450") is None
    assert source.asked == ["123450"]               # one broker call, not one per scan
    assert await MarketDirectory(None, {"005930": Market.KOSPI}).market_of("000660") is None
