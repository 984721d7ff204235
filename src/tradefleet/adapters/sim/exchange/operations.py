"""Which ``BrokerPort`` operation an HTTP request to the simulator is, so fault rules name
operations, not URLs. Each request is exactly one operation, read as ``KisBroker`` sends it:

- ``POST /oauth2/tokenP`` → authenticate
- quotations ``inquire-price``, ``intstock-multprice``, ``inquire-asking-price-exp-ccn`` →
  get_quotes (real mode batches multprice; paper asks price + orderbook per symbol, and both
  are the one get_quotes call); ``inquire-time-itemchartprice`` → get_minute_bars;
  ``search-info`` (product info, which third-party clients such as python-kis ask first) →
  get_quotes
- ``order-cash`` → place_order (buy and sell TR alike)
- ``order-rvsecncl``: ``RVSE_CNCL_DVSN_CD`` 02 → cancel_order, 01 → modify_order
- ``inquire-daily-ccld``: with an ``ODNO`` → get_order; without (the symbol/side listing)
  → find_orders; every page of a paged listing carries the same query, so is the same
- ``inquire-balance`` → get_balance; ``inquire-psbl-order`` → get_buyable_qty;
  ``inquire-psbl-rvsecncl`` (open orders, which our adapter never asks) → find_orders
- ``/uapi/hashkey`` is outside the gateway and no operation

A request that is none of these (unknown path, a cancel/modify code that is neither, a body
that is not JSON) is no operation: no rule fires and the endpoint answers it as KIS would."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

TOKEN_PATH = "/oauth2/tokenP"   # noqa: S105 - a URL path, not a secret
WORKER_HEADER = "X-Tradefleet-Worker"

_BY_PATH = {
    "quotations/inquire-price": "get_quotes",
    "quotations/intstock-multprice": "get_quotes",
    "quotations/inquire-asking-price-exp-ccn": "get_quotes",
    "quotations/inquire-time-itemchartprice": "get_minute_bars",
    "quotations/search-info": "get_quotes",
    "trading/inquire-psbl-rvsecncl": "find_orders",
    "trading/order-cash": "place_order",
    "trading/inquire-balance": "get_balance",
    "trading/inquire-psbl-order": "get_buyable_qty",
}
_RVSECNCL = {"01": "modify_order", "02": "cancel_order"}


def operation_of(path: str, query: Mapping[str, str], body: Any) -> str | None:
    """The operation of a ``/uapi/domestic-stock/v1/<path>`` request (query keys any case)."""
    if path in _BY_PATH:
        return _BY_PATH[path]
    if path == "trading/order-rvsecncl":
        code = body.get("RVSE_CNCL_DVSN_CD") if isinstance(body, dict) else None
        return _RVSECNCL.get(code) if isinstance(code, str) else None
    if path == "trading/inquire-daily-ccld":
        odno = next((v for k, v in query.items() if k.upper() == "ODNO"), "")
        return "get_order" if odno.strip() else "find_orders"
    return None


async def request_operation(request: web.Request, path: str) -> str | None:
    """``operation_of`` for a live request; reads the JSON body only where it decides."""
    body: Any = None
    if path == "trading/order-rvsecncl":
        try:
            body = await request.json()     # aiohttp keeps the body for the handler
        except ValueError:
            body = None
    return operation_of(path, request.query, body)


def worker_of(request: web.Request) -> str | None:
    """The worker a request names (``X-Tradefleet-Worker``), if any."""
    value = request.headers.get(WORKER_HEADER, "").strip()
    return value or None
