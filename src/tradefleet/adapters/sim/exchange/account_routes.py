"""The account inquiries of the simulator: daily fills (with each cancel's own row), the
balance, the buyable amount and the modifiable/cancellable orders, paged as KIS pages them
(``paging.py``)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from tradefleet.adapters.sim.exchange.paging import Page, page_of
from tradefleet.adapters.sim.exchange.payloads import (
    DayTrades,
    balance_summary,
    cancel_row,
    ccld_row,
    ccld_summary,
    envelope,
    holding_row,
    psbl_order_output,
    rvsecncl_row,
)
from tradefleet.adapters.sim.exchange.replies import bad_input, query_of, reject, reply
from tradefleet.domain.errors import OrderRejected
from tradefleet.domain.orders import Side

if TYPE_CHECKING:
    from tradefleet.adapters.sim.engine import SimMarket
    from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig
    from tradefleet.adapters.sim.exchange.payloads import PlacedCancel, PlacedOrder


class Exchange(Protocol):
    """What the account inquiries read of the exchange (its routes hold the rest)."""

    market: SimMarket
    config: ExchangeConfig
    orders: list[PlacedOrder]
    cancels: list[PlacedCancel]

    def name_of(self, symbol: str) -> str: ...

_INQUIRY_DONE = ("KIOK0510", "조회가 완료되었습니다")


def _paged(body_rows: list[dict[str, str]], request: web.Request, size: int,
           search: str) -> Page | web.Response:
    return page_of(body_rows, query_of(request), request, size, search)


def _day(value: str, field: str) -> str | web.Response:
    if value and not (len(value) == 8 and value.isdigit()):
        return bad_input(field, f"expected YYYYMMDD, got {value!r}")
    return value


async def daily_ccld(ex: Exchange, request: web.Request) -> web.Response:
    q = query_of(request)
    start, end = _day(q.get("INQR_STRT_DT", ""), "INQR_STRT_DT"), \
        _day(q.get("INQR_END_DT", ""), "INQR_END_DT")
    if isinstance(start, web.Response):
        return start
    if isinstance(end, web.Response):
        return end
    sides = {"00": None, "01": Side.SELL, "02": Side.BUY}
    ccld = q.get("CCLD_DVSN", "00") or "00"
    if q.get("SLL_BUY_DVSN_CD", "00") not in sides:
        return bad_input("SLL_BUY_DVSN_CD", "expected 00, 01 or 02")
    if ccld not in ("00", "01", "02"):
        return bad_input("CCLD_DVSN", "expected 00, 01 or 02")
    side = sides[q.get("SLL_BUY_DVSN_CD", "00")]
    want_odno = q.get("ODNO", "").strip().lstrip("0")
    dated: list[tuple[datetime, int, dict[str, str]]] = []

    def keep(day: str, symbol: str, order_side: Side, odno: str) -> bool:
        return not ((start and day < start) or (end and day > end)
                    or (q.get("PDNO") and symbol != q["PDNO"])
                    or (side and order_side is not side)
                    or (want_odno and odno.lstrip("0") != want_odno))

    for seq, o in enumerate(ex.orders):
        report = ex.market.report(o.odno)
        if report is None or not keep(o.ordered_at.strftime("%Y%m%d"), o.symbol, o.side,
                                      o.odno):
            continue
        if (ccld == "01" and not report.filled_qty) or \
                (ccld == "02" and not report.remaining_qty):
            continue
        dated.append((o.ordered_at, seq, ccld_row(o, report, ex.name_of(o.symbol))))
    for seq, c in enumerate(ex.cancels, start=len(ex.orders)):
        o = c.original
        if ccld == "00" and keep(c.at.strftime("%Y%m%d"), o.symbol, o.side, c.odno):
            dated.append((c.at, seq, cancel_row(c, ex.name_of(o.symbol))))
    rows = [row for _, _, row in sorted(dated, key=lambda t: (t[0], t[1]), reverse=True)]
    page = _paged(rows, request, ex.config.fills_page_size or 100,
                  f"{q.get('CANO', '')}^{q.get('ACNT_PRDT_CD', '')}^{start}^{end}^"
                  f"{q.get('SLL_BUY_DVSN_CD', '00')}^{ccld}^{q.get('PDNO', '')}^"
                  f"{q.get('ODNO', '').strip()}")
    if isinstance(page, web.Response):
        return page
    return reply(envelope(*_INQUIRY_DONE, output1=page.rows, output2=ccld_summary(rows),
                          **page.ctx), tr_cont=page.tr_cont)


def _today(ex: Exchange) -> tuple[DayTrades, dict[str, DayTrades]]:
    """Today's executions, for the account and per symbol."""
    qty: Counter[tuple[str, Side]] = Counter()
    amount: Counter[tuple[str, Side]] = Counter()
    for e in ex.market.executions():
        qty[e.symbol, e.side] += e.qty
        amount[e.symbol, e.side] += e.amount
    per = {s: DayTrades(qty[s, Side.BUY], qty[s, Side.SELL], amount[s, Side.BUY],
                        amount[s, Side.SELL]) for s, _ in qty}
    total = DayTrades(sum(t.buy_qty for t in per.values()),
                      sum(t.sell_qty for t in per.values()),
                      sum(t.buy_amount for t in per.values()),
                      sum(t.sell_amount for t in per.values()))
    return total, per


async def balance(ex: Exchange, request: web.Request) -> web.Response:
    q = query_of(request)
    bal = ex.market.balance()
    quotes = ex.market.quotes([h.symbol for h in bal.holdings])
    total, per = _today(ex)
    rows = [holding_row(h, ex.name_of(h.symbol), quotes[h.symbol].price,
                        quotes[h.symbol].prev_close, per.get(h.symbol, DayTrades()))
            for h in bal.holdings if h.symbol in quotes]
    page = _paged(rows, request, ex.config.balance_page_size or 50,
                  f"{q.get('CANO', '')}^{q.get('ACNT_PRDT_CD', '')}^{q.get('INQR_DVSN', '')}")
    if isinstance(page, web.Response):
        return page
    summary = [balance_summary(bal.cash, rows, total, ex.market.initial_cash)]
    return reply(envelope(*_INQUIRY_DONE, output1=page.rows, output2=summary, **page.ctx),
                 tr_cont=page.tr_cont)


async def psbl_order(ex: Exchange, request: web.Request) -> web.Response:
    q = query_of(request)
    symbol = q.get("PDNO", "")
    raw = q.get("ORD_UNPR", "0").strip() or "0"
    if not raw.isdigit():
        return bad_input("ORD_UNPR", f"expected digits, got {raw!r}")
    price = None if q.get("ORD_DVSN") == "01" or raw == "0" else int(raw)
    try:
        qty = ex.market.buyable_qty(symbol, price)
        basis = price or ex.market.quote(symbol).upper_limit
    except OrderRejected as exc:
        return reject(exc.code, exc.message)
    out = psbl_order_output(ex.market.balance().cash, qty, basis)
    return reply(envelope(*_INQUIRY_DONE, output=out))


async def psbl_rvsecncl(ex: Exchange, request: web.Request) -> web.Response:
    """Orders with shares left to modify or cancel (real only, as at KIS). ``INQR_DVSN_2``
    0 all / 1 sells / 2 buys; ``INQR_DVSN_1`` 0 by order, 1 by symbol."""
    q = query_of(request)
    sides = {"0": None, "1": Side.SELL, "2": Side.BUY}
    if q.get("INQR_DVSN_2", "0") not in sides:
        return bad_input("INQR_DVSN_2", "expected 0, 1 or 2")
    if q.get("INQR_DVSN_1", "0") not in ("0", "1", ""):
        return bad_input("INQR_DVSN_1", "expected 0 or 1")
    side = sides[q.get("INQR_DVSN_2", "0")]
    open_orders = []
    for o in ex.orders:
        report = ex.market.report(o.odno)
        if report is not None and report.remaining_qty and (side is None or o.side is side):
            open_orders.append((o, report))
    if q.get("INQR_DVSN_1") == "1":
        open_orders.sort(key=lambda t: t[0].symbol)
    rows = [rvsecncl_row(o, r, ex.name_of(o.symbol)) for o, r in open_orders]
    page = _paged(rows, request, ex.config.fills_page_size or 100,
                  f"{q.get('CANO', '')}^{q.get('ACNT_PRDT_CD', '')}^"
                  f"{q.get('INQR_DVSN_1', '')}^{q.get('INQR_DVSN_2', '')}")
    if isinstance(page, web.Response):
        return page
    return reply(envelope(*_INQUIRY_DONE, output=page.rows, **page.ctx), tr_cont=page.tr_cont)
