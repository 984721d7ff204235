"""Reading the simulator's books over HTTP into plain dataclasses (``adapters/sim/ledger.py``),
for tests and tools that check the truth from outside the fleet."""

from __future__ import annotations

from typing import Any

import aiohttp

from tradefleet.adapters.sim.ledger import Books, Execution, Holdings, SymbolInfo
from tradefleet.domain.markets import Market


async def _get(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(url) as resp:
        if resp.status != 200:
            raise RuntimeError(f"{url}: HTTP {resp.status} {await resp.text()}")
        body = await resp.json()
    if not isinstance(body, dict):
        raise RuntimeError(f"{url}: expected a JSON object")
    return body


async def fetch_books(base_url: str, session: aiohttp.ClientSession) -> Books:
    """Executions, holdings and symbols in one consistent snapshot."""
    return books_from_json(await _get(session, base_url.rstrip("/") + "/_admin/books"))


def books_from_json(body: dict[str, Any]) -> Books:
    """``GET /_admin/books`` as Books, however it was fetched (a cluster test goes through
    the API server's service proxy)."""
    return Books(tuple(Execution.from_json(e) for e in body["executions"]),
                 Holdings.from_json(body["holdings"]),
                 tuple(SymbolInfo.from_json(s) for s in body["symbols"]))


async def fetch_executions(base_url: str, session: aiohttp.ClientSession) -> list[Execution]:
    body = await _get(session, base_url.rstrip("/") + "/_admin/books/executions")
    return [Execution.from_json(e) for e in body["executions"]]


async def fetch_holdings(base_url: str, session: aiohttp.ClientSession) -> Holdings:
    return Holdings.from_json(await _get(session, base_url.rstrip("/") +
                                         "/_admin/books/holdings"))


async def fetch_symbols(base_url: str, session: aiohttp.ClientSession) -> list[SymbolInfo]:
    body = await _get(session, base_url.rstrip("/") + "/_admin/books/symbols")
    return [SymbolInfo.from_json(s) for s in body["symbols"]]


class ListedMarkets:
    """The simulator's symbol list as a ``MarketOf`` (ports/market_of.py), read on first use:
    a worker that never buys (a closed day) never asks."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self._base_url = base_url
        self._session = session
        self._markets: dict[str, Market] | None = None

    async def market_of(self, symbol: str) -> Market | None:
        if self._markets is None:
            listed = await fetch_symbols(self._base_url, self._session)
            self._markets = {s.symbol: Market(s.market) for s in listed}
        return self._markets.get(symbol)
