"""The KIS REST endpoints of the simulator, one handler per API, over ``SimMarket``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp import web

from tradefleet.adapters.sim.engine import BRANCH, SimMarket
from tradefleet.adapters.sim.exchange import account_routes
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig, Gateway
from tradefleet.adapters.sim.exchange.modify import PAPER_MODIFIED, parse_modify
from tradefleet.adapters.sim.exchange.payloads import PlacedCancel, PlacedOrder, envelope
from tradefleet.adapters.sim.exchange.quote_payloads import (
    Listing,
    bar_row,
    bars_output1,
    multprice_row,
    orderbook_output,
    price_output,
    search_info_output,
)
from tradefleet.adapters.sim.exchange.replies import bad_input, query_of, reject, reply
from tradefleet.adapters.sim.ledger import mask_account
from tradefleet.domain.errors import OrderRejected
from tradefleet.domain.market import Quote
from tradefleet.domain.orders import OrderRequest, OrderType, Side

_R = "/uapi/domestic-stock/v1/"
# path -> real TR ids accepted there (paper: T/J/C -> V), and whether paper serves it
ROUTES: dict[str, tuple[frozenset[str], bool]] = {
    "quotations/inquire-price": (frozenset({"FHKST01010100"}), True),
    "quotations/search-info": (frozenset({"CTPF1604R"}), False),
    "quotations/intstock-multprice": (frozenset({"FHKST11300006"}), False),
    "quotations/inquire-asking-price-exp-ccn": (frozenset({"FHKST01010200"}), True),
    "quotations/inquire-time-itemchartprice": (frozenset({"FHKST03010200"}), True),
    "trading/order-cash": (frozenset({"TTTC0011U", "TTTC0012U", "TTTC0801U", "TTTC0802U"}),
                           True),
    "trading/order-rvsecncl": (frozenset({"TTTC0013U", "TTTC0803U"}), True),
    "trading/inquire-daily-ccld": (frozenset({"TTTC0081R", "TTTC8001R"}), True),
    "trading/inquire-balance": (frozenset({"TTTC8434R"}), True),
    "trading/inquire-psbl-order": (frozenset({"TTTC8908R"}), True),
    "trading/inquire-psbl-rvsecncl": (frozenset({"TTTC0084R", "TTTC8036R"}), False),
}
_QUOTED = ("MCA00000", "정상처리 되었습니다.")
_NO_DATA = ("KIOK0560", "조회할 자료가 없습니다")    # rt_cd 7 (python-kis reads 7 as "none")
SELL_TRS = frozenset({"TTTC0011U", "TTTC0801U"})


def paper_id(tr_id: str) -> str:
    return "V" + tr_id[1:] if tr_id[0] in "TJC" else tr_id


def accepted_trs(path: str, mode: str) -> frozenset[str]:
    ids, paper_ok = ROUTES[path]
    if mode == "real":
        return ids
    return frozenset(paper_id(t) for t in ids) if paper_ok else frozenset()


def _account(body: dict[str, str]) -> str:
    return mask_account(body.get("CANO", ""), body.get("ACNT_PRDT_CD", ""))


class Exchange:
    def __init__(self, market: SimMarket, gateway: Gateway, config: ExchangeConfig) -> None:
        self.market = market
        self.gateway = gateway
        self.config = config
        self.paper = config.mode == "paper"
        self.orders: list[PlacedOrder] = []
        self.cancels: list[PlacedCancel] = []
        markets = dict(zip(market.universe.symbols, market.universe.markets, strict=True))
        self.listings = {s: Listing(s, market.universe.name_of(s), markets[s],
                                    market.fundamentals[s]) for s in markets}
        # called on the server's loop after each accepted order or modify (the WebSocket
        # feed pushes the fills at once instead of at its next pump)
        self.on_order: list[Callable[[], None]] = []

    def add_routes(self, app: web.Application) -> None:
        account = {
            "trading/inquire-daily-ccld": account_routes.daily_ccld,
            "trading/inquire-balance": account_routes.balance,
            "trading/inquire-psbl-order": account_routes.psbl_order,
            "trading/inquire-psbl-rvsecncl": account_routes.psbl_rvsecncl,
        }
        handlers = {
            "quotations/inquire-price": ("GET", self.inquire_price),
            "quotations/search-info": ("GET", self.search_info),
            "quotations/intstock-multprice": ("GET", self.multprice),
            "quotations/inquire-asking-price-exp-ccn": ("GET", self.orderbook),
            "quotations/inquire-time-itemchartprice": ("GET", self.minute_bars),
            "trading/order-cash": ("POST", self.order_cash),
            "trading/order-rvsecncl": ("POST", self.order_rvsecncl),
            **{path: ("GET", functools.partial(fn, self)) for path, fn in account.items()},
        }
        for path, (method, handler) in handlers.items():
            app.router.add_route(method, _R + path, handler)

    def name_of(self, symbol: str) -> str:
        return self.listings[symbol].name if symbol in self.listings else symbol

    # ---- quotations --------------------------------------------------------------------
    def _one_symbol(self, request: web.Request,
                    render: Callable[[Quote], dict[str, Any]]) -> web.Response:
        """A single-symbol quotation: the symbol's quote rendered, or the KIS rejection."""
        symbol = query_of(request).get("FID_INPUT_ISCD", "")
        if not symbol:
            return bad_input("FID_INPUT_ISCD", "a symbol is required")
        try:
            q = self.market.quote(symbol)
        except OrderRejected as exc:
            return reject(exc.code, exc.message)
        return reply(envelope(*_QUOTED, **render(q)))

    async def inquire_price(self, request: web.Request) -> web.Response:
        return self._one_symbol(request, lambda q: {
            "output": price_output(q, self.listings[q.symbol], self.market.day)})

    async def orderbook(self, request: web.Request) -> web.Response:
        symbol = query_of(request).get("FID_INPUT_ISCD", "")
        if not symbol:
            return bad_input("FID_INPUT_ISCD", "a symbol is required")
        try:
            out1, out2 = orderbook_output(*self.market.quote_with_book(symbol))
        except OrderRejected as exc:
            return reject(exc.code, exc.message)
        return reply(envelope(*_QUOTED, output1=out1, output2=out2))

    async def search_info(self, request: web.Request) -> web.Response:
        """CTPF1604R 상품기본조회: a domestic stock (PRDT_TYPE_CD 300) by its code; anything
        else is "no data" (rt_cd 7), as KIS answers a code of another product type."""
        q = query_of(request)
        symbol, kind = q.get("PDNO", "").strip(), q.get("PRDT_TYPE_CD", "").strip()
        if not symbol:
            return bad_input("PDNO", "a product code is required")
        if not kind:
            return bad_input("PRDT_TYPE_CD", "a product type code is required (300 = stock)")
        listing = self.listings.get(symbol)
        if listing is None or kind != "300":
            return reject(*_NO_DATA, rt_cd="7")
        listed = self.market.day - timedelta(days=400 + int(symbol) % 7000)
        return reply(envelope(*_QUOTED, output=search_info_output(listing, listed)))

    async def multprice(self, request: web.Request) -> web.Response:
        query = query_of(request)
        numbered = [k for k in query if k.startswith("FID_INPUT_ISCD_")
                    and k.rsplit("_", 1)[1].isdigit()]
        if any(int(k.rsplit("_", 1)[1]) > 30 for k in numbered):
            return bad_input("FID_INPUT_ISCD_n", "at most 30 symbols a call (n = 1..30)")
        wanted = [query[f"FID_INPUT_ISCD_{n}"] for n in range(1, 31)
                  if query.get(f"FID_INPUT_ISCD_{n}")]
        quotes = self.market.quotes(wanted)
        rows = [multprice_row(quotes[s], self.listings[s], *self.market.book_levels(s))
                for s in wanted if s in quotes]
        return reply(envelope(*_QUOTED, output=rows))

    async def minute_bars(self, request: web.Request) -> web.Response:
        """Today's minute bars at or before ``FID_INPUT_HOUR_1``, newest first, 30 a call;
        000000 (or a time past the last bar) asks for the latest, as KIS reads it."""
        query = query_of(request)
        symbol = query.get("FID_INPUT_ISCD", "")
        hour = query.get("FID_INPUT_HOUR_1", "").strip()
        if not (len(hour) == 6 and hour.isdigit() and int(hour[:2]) < 24
                and int(hour[2:4]) < 60 and int(hour[4:]) < 60):
            return bad_input("FID_INPUT_HOUR_1", f"expected HHMMSS, got {hour!r}")
        try:
            q = self.market.quote(symbol)
            pairs = self.market.minute_bars_with_values(symbol, 10_000)
        except OrderRejected as exc:
            return reject(exc.code, exc.message)
        if hour != "000000":
            pairs = [(b, v) for b, v in pairs if b.start.strftime("%H%M%S") <= hour]
        rows = [bar_row(b, v) for b, v in reversed(pairs[-30:])]
        return reply(envelope(*_QUOTED, output1=bars_output1(q, self.name_of(symbol)),
                              output2=rows))

    # ---- orders ------------------------------------------------------------------------
    async def _body(self, request: web.Request) -> dict[str, str] | web.Response:
        try:
            body = await request.json()
        except ValueError:
            return bad_input("body", "not JSON")
        if not isinstance(body, dict):
            return bad_input("body", "not a JSON object")
        for key, value in body.items():
            if key != key.upper():
                return bad_input(key, "body keys must be UPPERCASE")
            if not isinstance(value, str):
                return bad_input(key, "values must be strings")
        return body

    async def order_cash(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        side = Side.SELL if request.headers["tr_id"][1:] in {t[1:] for t in SELL_TRS} \
            else Side.BUY
        dvsn = body.get("ORD_DVSN", "")
        if dvsn not in ("00", "01"):
            return bad_input("ORD_DVSN", f"the simulator serves 00 (limit) and 01 (market), "
                                         f"got {dvsn!r}")
        for key in ("ORD_QTY", "ORD_UNPR"):
            if not body.get(key, "").isdigit():
                return bad_input(key, f"expected digits, got {body.get(key, '')!r}")
        if self.paper and body.get("EXCG_ID_DVSN_CD", "KRX") != "KRX":
            return bad_input("EXCG_ID_DVSN_CD", "paper accepts KRX only")
        qty, price = int(body["ORD_QTY"]), int(body["ORD_UNPR"])
        market = dvsn == "01"
        req = OrderRequest(f"http-{len(self.orders) + 1}", body.get("PDNO", ""), side,
                           OrderType.MARKET if market else OrderType.LIMIT, qty,
                           None if market else price)
        try:
            ack = self.market.submit(req)
        except OrderRejected as exc:
            return self._rejection(exc)
        self.orders.append(PlacedOrder(ack.broker_order_id, ack.broker_branch or BRANCH,
                                       req.symbol, side, req.order_type, req.limit_price,
                                       ack.accepted_at, account=_account(body)))
        self.gateway.orders_per_symbol[req.symbol] += 1
        for listener in self.on_order:
            listener()
        code, msg = ("40600000", "모의투자 매수주문이 완료 되었습니다.") if self.paper \
            else ("APBK0013", "주문 전송 완료 되었습니다.")
        return reply(envelope(code, msg, output={
            "KRX_FWDG_ORD_ORGNO": ack.broker_branch or BRANCH, "ODNO": ack.broker_order_id,
            "ORD_TMD": ack.accepted_at.strftime("%H%M%S")}))

    def _rejection(self, exc: OrderRejected) -> web.Response:
        """An engine rejection as KIS words it (paper says its own "market closed")."""
        if self.paper and exc.code == "APBK0918":
            return reject("40580000", "모의투자 장종료 입니다.")
        return reject(exc.code, exc.message, rt_cd="7" if exc.code == "APBK0952" else "1")

    def accounts_by_odno(self) -> dict[str, str]:
        """The masked account each order sent over HTTP was sent for, by ODNO."""
        return {o.odno: o.account for o in self.orders}

    def _find(self, odno: str) -> PlacedOrder | None:
        key = odno.strip().lstrip("0")
        return next((o for o in self.orders if o.odno.lstrip("0") == key), None)

    async def order_rvsecncl(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        kind = body.get("RVSE_CNCL_DVSN_CD")
        if kind not in ("01", "02"):
            return bad_input("RVSE_CNCL_DVSN_CD", "expected 01 (modify) or 02 (cancel)")
        order = self._find(body.get("ORGN_ODNO", ""))
        if order is None:
            return reject("APBK0404", "ORGN_ODNO: 원주문번호가 존재하지 않습니다.")
        if kind == "01":
            return self._modify(order, body)
        report = self.market.report(order.odno)
        if report is not None and report.remaining_qty == 0:
            return reject("APBK0415", "정정/취소할 수량이 없습니다.")
        try:
            self.market.cancel(order.odno)
        except OrderRejected as exc:
            return self._rejection(exc)
        after = self.market.report(order.odno)
        taken = (after.cancelled_qty - report.cancelled_qty) if after and report else 0
        now = self.market.clock.now()
        cancel = PlacedCancel(f"9{len(self.cancels) + 1:09d}", order, taken, now)
        self.cancels.append(cancel)
        code, msg = ("40630000", "모의투자 취소주문이 완료 되었습니다.") if self.paper \
            else ("APBK0013", "주문 전송 완료 되었습니다.")
        return reply(envelope(code, msg, output={
            "KRX_FWDG_ORD_ORGNO": order.branch, "ODNO": cancel.odno,
            "ORD_TMD": now.strftime("%H%M%S")}))

    def _modify(self, order: PlacedOrder, body: dict[str, str]) -> web.Response:
        """정정: the engine moves the remainder to a NEW order; answer with its ODNO, and list
        it in daily-ccld with ``orgn_odno`` = the original."""
        try:
            args = parse_modify(body, paper=self.paper)
        except ValueError as exc:
            field = str(exc).split(":", 1)[0] if ":" in str(exc) else "body"
            return bad_input(field, str(exc))
        try:
            ack = self.market.modify(order.odno, price=args.price, qty=args.qty,
                                     all_qty=args.all_qty, order_type=args.order_type)
        except OrderRejected as exc:
            return self._rejection(exc)
        branch = ack.broker_branch or BRANCH
        self.orders.append(PlacedOrder(ack.broker_order_id, branch, order.symbol, order.side,
                                       args.order_type, args.price, ack.accepted_at,
                                       original_odno=order.odno, account=order.account))
        self.gateway.modifies_per_symbol[order.symbol] += 1
        for listener in self.on_order:
            listener()
        code, msg = PAPER_MODIFIED if self.paper else ("APBK0013", "주문 전송 완료 되었습니다.")
        return reply(envelope(code, msg, output={
            "KRX_FWDG_ORD_ORGNO": branch, "ODNO": ack.broker_order_id,
            "ORD_TMD": ack.accepted_at.strftime("%H%M%S")}))
