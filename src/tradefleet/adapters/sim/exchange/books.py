"""``/_admin/books``: the exchange's own books over HTTP, so a test or a chaos bench can check
the truth (every execution, holdings at the close) without importing our code.

- ``GET /_admin/books/executions`` → ``{"executions": [{"seq", "odno", "symbol", "side",
  "qty", "price", "amount", "at" (ISO, +09:00, the session clock), "account"}]}``
- ``GET /_admin/books/holdings`` → ``{"account", "cash", "orderable_cash", "holdings":
  [{"symbol", "qty", "cost", "avg_price" (decimal text)}]}``
- ``GET /_admin/books/symbols`` → ``{"symbols": [{"symbol", "name", "market"}]}``
- ``GET /_admin/books`` → all three in one consistent snapshot.

``account`` is masked as the settings show it (``5000****-01``): the CANO and product code of
the order body for orders sent over HTTP. The simulator serves ONE account whatever CANO a
client sends; the holdings carry the account of the first order sent (``sim`` before any)."""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from tradefleet.adapters.sim.exchange.routes import Exchange
from tradefleet.adapters.sim.ledger import Books

_EXCHANGE = web.AppKey("books_exchange", Exchange)


def exchange_books(exchange: Exchange) -> Books:
    """The market's books with each execution's account as the client named it."""
    books = exchange.market.books()
    accounts = exchange.accounts_by_odno()
    executions = tuple(replace(e, account=accounts.get(e.odno) or e.account)
                       for e in books.executions)
    holdings = books.holdings
    if exchange.orders:
        holdings = replace(holdings, account=exchange.orders[0].account)
    return replace(books, executions=executions, holdings=holdings)


async def _executions(request: web.Request) -> web.Response:
    books = exchange_books(request.app[_EXCHANGE])
    return web.json_response({"executions": [e.as_json() for e in books.executions]})


async def _holdings(request: web.Request) -> web.Response:
    return web.json_response(exchange_books(request.app[_EXCHANGE]).holdings.as_json())


async def _symbols(request: web.Request) -> web.Response:
    infos = request.app[_EXCHANGE].market.symbol_infos()
    return web.json_response({"symbols": [s.as_json() for s in infos]})


async def _all(request: web.Request) -> web.Response:
    books = exchange_books(request.app[_EXCHANGE])
    return web.json_response({"executions": [e.as_json() for e in books.executions],
                              "holdings": books.holdings.as_json(),
                              "symbols": [s.as_json() for s in books.symbols]})


def add_book_routes(app: web.Application, exchange: Exchange) -> None:
    app[_EXCHANGE] = exchange
    app.router.add_get("/_admin/books", _all)
    app.router.add_get("/_admin/books/executions", _executions)
    app.router.add_get("/_admin/books/holdings", _holdings)
    app.router.add_get("/_admin/books/symbols", _symbols)
