"""The KIS REST endpoints of the simulator, one handler per API, over ``SimMarket``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from tradefleet.adapters.sim.engine import BRANCH, SimMarket
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig, Gateway
from tradefleet.adapters.sim.exchange.modify import PAPER_MODIFIED, parse_modify
from tradefleet.adapters.sim.exchange.payloads import (
    PlacedOrder,
    bar_row,
    ccld_row,
    envelope,
    holding_row,
    multprice_row,
    orderbook_output,
    pad_ctx,
    price_output,
)
from tradefleet.adapters.sim.ledger import mask_account
from tradefleet.domain.errors import OrderRejected
from tradefleet.domain.market import Quote
from tradefleet.domain.orders import OrderRequest, OrderType, Side

_R = "/uapi/domestic-stock/v1/"
# path -> real TR ids accepted there (paper: T/J/C -> V), and whether paper serves it
ROUTES: dict[str, tuple[frozenset[str], bool]] = {
    "quotations/inquire-price": (frozenset({"FHKST01010100"}), True),
    "quotations/intstock-multprice": (frozenset({"FHKST11300006"}), False),
    "quotations/inquire-asking-price-exp-ccn": (frozenset({"FHKST01010200"}), True),
    "quotations/inquire-time-itemchartprice": (frozenset({"FHKST03010200"}), True),
    "trading/order-cash": (frozenset({"TTTC0011U", "TTTC0012U", "TTTC0801U", "TTTC0802U"}),
                           True),
    "trading/order-rvsecncl": (frozenset({"TTTC0013U", "TTTC0803U"}), True),
    "trading/inquire-daily-ccld": (frozenset({"TTTC0081R", "TTTC8001R"}), True),
    "trading/inquire-balance": (frozenset({"TTTC8434R"}), True),
    "trading/inquire-psbl-order": (frozenset({"TTTC8908R"}), True),
}
SELL_TRS = frozenset({"TTTC0011U", "TTTC0801U"})


def paper_id(tr_id: str) -> str:
    return "V" + tr_id[1:] if tr_id[0] in "TJC" else tr_id


def accepted_trs(path: str, mode: str) -> frozenset[str]:
    ids, paper_ok = ROUTES[path]
    if mode == "real":
        return ids
    return frozenset(paper_id(t) for t in ids) if paper_ok else frozenset()


def _json(body: dict[str, Any], status: int = 200, tr_cont: str = "") -> web.Response:
    resp = web.json_response(body, status=status)
    if tr_cont:
        resp.headers["tr_cont"] = tr_cont
    return resp


def _reject(code: str, message: str, rt_cd: str = "1") -> web.Response:
    return _json(envelope(code, message, rt_cd=rt_cd))


def _account(body: dict[str, str]) -> str:
    return mask_account(body.get("CANO", ""), body.get("ACNT_PRDT_CD", ""))


def _query(request: web.Request) -> dict[str, str]:
    return {k.upper(): v for k, v in request.query.items()}


class Exchange:
    def __init__(self, market: SimMarket, gateway: Gateway, config: ExchangeConfig) -> None:
        self.market = market
        self.gateway = gateway
        self.config = config
        self.paper = config.mode == "paper"
        self.orders: list[PlacedOrder] = []
        self._cancel_seq = 0

    def add_routes(self, app: web.Application) -> None:
        handlers = {
            "quotations/inquire-price": ("GET", self.inquire_price),
            "quotations/intstock-multprice": ("GET", self.multprice),
            "quotations/inquire-asking-price-exp-ccn": ("GET", self.orderbook),
            "quotations/inquire-time-itemchartprice": ("GET", self.minute_bars),
            "trading/order-cash": ("POST", self.order_cash),
            "trading/order-rvsecncl": ("POST", self.order_rvsecncl),
            "trading/inquire-daily-ccld": ("GET", self.daily_ccld),
            "trading/inquire-balance": ("GET", self.balance),
            "trading/inquire-psbl-order": ("GET", self.psbl_order),
        }
        for path, (method, handler) in handlers.items():
            app.router.add_route(method, _R + path, handler)

    # ---- quotations --------------------------------------------------------------------
    def _one_symbol(self, request: web.Request,
                    render: Callable[[Quote], dict[str, Any]]) -> web.Response:
        """A single-symbol quotation: the symbol's quote rendered, or the KIS rejection."""
        symbol = _query(request).get("FID_INPUT_ISCD", "")
        try:
            q = self.market.quote(symbol)
        except OrderRejected as exc:
            return _reject(exc.code, exc.message)
        return _json(envelope("MCA00000", "정상처리 되었습니다.", **render(q)))

    async def inquire_price(self, request: web.Request) -> web.Response:
        return self._one_symbol(request, lambda q: {"output": price_output(q)})

    async def orderbook(self, request: web.Request) -> web.Response:
        return self._one_symbol(request, lambda q: dict(
            zip(("output1", "output2"), orderbook_output(q), strict=True)))

    async def multprice(self, request: web.Request) -> web.Response:
        query = _query(request)
        wanted = [query[f"FID_INPUT_ISCD_{n}"] for n in range(1, 31)
                  if query.get(f"FID_INPUT_ISCD_{n}")]
        if any(k.startswith("FID_INPUT_ISCD_") and int(k.rsplit("_", 1)[1]) > 30
               for k in query if k.rsplit("_", 1)[1].isdigit()):
            return _reject("OPSQ2001", "FID_INPUT_ISCD_n: at most 30 symbols a call")
        quotes = self.market.quotes(wanted)
        rows = [multprice_row(quotes[s]) for s in wanted if s in quotes]
        return _json(envelope("MCA00000", "정상처리 되었습니다.", output=rows))

    async def minute_bars(self, request: web.Request) -> web.Response:
        query = _query(request)
        symbol = query.get("FID_INPUT_ISCD", "")
        hour = query.get("FID_INPUT_HOUR_1", "").strip()
        if not (len(hour) == 6 and hour.isdigit()):
            return _reject("OPSQ2002", "FID_INPUT_HOUR_1: expected HHMMSS")
        try:
            bars = self.market.minute_bars(symbol, 10_000)
        except OrderRejected as exc:
            return _reject(exc.code, exc.message)
        upto = [b for b in bars if b.start.strftime("%H%M%S") <= hour]
        rows = [bar_row(b) for b in reversed(upto[-30:])]
        last = bars[-1].close if bars else 0
        return _json(envelope("MCA00000", "정상처리 되었습니다.",
                              output1={"stck_prpr": str(last)}, output2=rows))

    # ---- orders ------------------------------------------------------------------------
    async def _body(self, request: web.Request) -> dict[str, str] | web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _reject("OPSQ0001", "body: not JSON")
        if not isinstance(body, dict):
            return _reject("OPSQ0001", "body: not a JSON object")
        for key, value in body.items():
            if key != key.upper():
                return _reject("OPSQ0002", f"{key}: body keys must be UPPERCASE")
            if not isinstance(value, str):
                return _reject("OPSQ0003", f"{key}: values must be strings")
        return body

    async def order_cash(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        side = Side.SELL if request.headers["tr_id"][1:] in {t[1:] for t in SELL_TRS} \
            else Side.BUY
        try:
            dvsn = body.get("ORD_DVSN", "")
            if dvsn not in ("00", "01"):
                raise ValueError(f"ORD_DVSN: simulator supports 00/01, got {dvsn!r}")
            qty = int(body.get("ORD_QTY", ""))
            price = int(body.get("ORD_UNPR", ""))
            if self.paper and body.get("EXCG_ID_DVSN_CD", "KRX") != "KRX":
                raise ValueError("EXCG_ID_DVSN_CD: paper accepts KRX only")
        except ValueError as exc:
            return _reject("OPSQ0004", str(exc))
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
        code, msg = ("40600000", "모의투자 매수주문이 완료 되었습니다.") if self.paper \
            else ("APBK0013", "주문 전송 완료 되었습니다.")
        return _json(envelope(code, msg, output={
            "KRX_FWDG_ORD_ORGNO": ack.broker_branch or BRANCH, "ODNO": ack.broker_order_id,
            "ORD_TMD": ack.accepted_at.strftime("%H%M%S")}))

    def _rejection(self, exc: OrderRejected) -> web.Response:
        """An engine rejection as KIS words it (paper says its own "market closed")."""
        if self.paper and exc.code == "APBK0918":
            return _reject("40580000", "모의투자 장종료 입니다.")
        return _reject(exc.code, exc.message, rt_cd="7" if exc.code == "APBK0952" else "1")

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
            return _reject("OPSQ0005", "RVSE_CNCL_DVSN_CD: expected 01 (modify) or 02 (cancel)")
        order = self._find(body.get("ORGN_ODNO", ""))
        if order is None:
            return _reject("APBK0404", "ORGN_ODNO: 원주문번호가 존재하지 않습니다.")
        if kind == "01":
            return self._modify(order, body)
        report = self.market.report(order.odno)
        if report is not None and report.remaining_qty == 0:
            return _reject("APBK0415", "정정/취소할 수량이 없습니다.")
        try:
            self.market.cancel(order.odno)
        except OrderRejected as exc:
            return self._rejection(exc)
        self._cancel_seq += 1
        code, msg = ("40630000", "모의투자 취소주문이 완료 되었습니다.") if self.paper \
            else ("APBK0013", "주문 전송 완료 되었습니다.")
        now = self.market.clock.now()
        return _json(envelope(code, msg, output={
            "KRX_FWDG_ORD_ORGNO": order.branch, "ODNO": f"9{self._cancel_seq:09d}",
            "ORD_TMD": now.strftime("%H%M%S")}))

    def _modify(self, order: PlacedOrder, body: dict[str, str]) -> web.Response:
        """정정: the engine moves the remainder to a NEW order; answer with its ODNO, and list
        it in daily-ccld with ``orgn_odno`` = the original."""
        try:
            args = parse_modify(body, paper=self.paper)
        except ValueError as exc:
            return _reject("OPSQ0004", str(exc))
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
        code, msg = PAPER_MODIFIED if self.paper else ("APBK0013", "주문 전송 완료 되었습니다.")
        return _json(envelope(code, msg, output={
            "KRX_FWDG_ORD_ORGNO": branch, "ODNO": ack.broker_order_id,
            "ORD_TMD": ack.accepted_at.strftime("%H%M%S")}))

    # ---- account -----------------------------------------------------------------------
    def _page(self, rows: list[dict[str, str]], query: dict[str, str], request: web.Request,
              size: int) -> tuple[list[dict[str, str]], dict[str, str], str]:
        start = 0
        if request.headers.get("tr_cont", "").strip() == "N":
            ctx = query.get("CTX_AREA_NK100", "").strip()
            start = int(ctx) if ctx.isdigit() else 0
        page = rows[start:start + size]
        more = start + size < len(rows)
        nxt = str(start + size) if more else ""
        ctx = {"ctx_area_fk100": pad_ctx(f"{query.get('CANO', '')}^{len(rows)}"),
               "ctx_area_nk100": pad_ctx(nxt)}
        cont = ("M" if start else "F") if more else ("E" if start else "D")
        return page, ctx, cont

    async def daily_ccld(self, request: web.Request) -> web.Response:
        q = _query(request)
        start, end = q.get("INQR_STRT_DT", ""), q.get("INQR_END_DT", "")
        side = {"01": Side.SELL, "02": Side.BUY}.get(q.get("SLL_BUY_DVSN_CD", "00"))
        ccld = q.get("CCLD_DVSN", "00")
        rows: list[dict[str, str]] = []
        for o in reversed(self.orders):
            day = o.ordered_at.strftime("%Y%m%d")
            if (start and day < start) or (end and day > end):
                continue
            if (q.get("PDNO") and o.symbol != q["PDNO"]) or (side and o.side is not side):
                continue
            if q.get("ODNO") and o.odno.lstrip("0") != q["ODNO"].strip().lstrip("0"):
                continue
            report = self.market.report(o.odno)
            if report is None:
                continue
            if (ccld == "01" and not report.filled_qty) or \
                    (ccld == "02" and not report.remaining_qty):
                continue
            rows.append(ccld_row(o, report))
        page, ctx, cont = self._page(rows, q, request, self.config.fills_page_size or 100)
        total = {"tot_ord_qty": str(sum(int(r["ord_qty"]) for r in rows)),
                 "tot_ccld_qty": str(sum(int(r["tot_ccld_qty"]) for r in rows)),
                 "tot_ccld_amt": str(sum(int(r["tot_ccld_amt"]) for r in rows)),
                 "prsm_tlex_smtl": "0", "pchs_avg_pric": "0.0000"}
        return _json(envelope("KIOK0510", "조회가 완료되었습니다", output1=page, output2=total,
                              **ctx), tr_cont=cont)

    async def balance(self, request: web.Request) -> web.Response:
        q = _query(request)
        bal = self.market.balance()
        quotes = self.market.quotes([h.symbol for h in bal.holdings])
        rows = [holding_row(h, quotes[h.symbol].price if h.symbol in quotes else 0)
                for h in bal.holdings]
        page, ctx, cont = self._page(rows, q, request, self.config.balance_page_size or 50)
        value = sum(int(r["evlu_amt"]) for r in rows)
        summary = [{"dnca_tot_amt": str(bal.cash), "nxdy_excc_amt": str(bal.cash),
                    "prvs_rcdl_excc_amt": str(bal.cash), "tot_evlu_amt": str(bal.cash + value),
                    "nass_amt": str(bal.cash + value)}]
        return _json(envelope("KIOK0510", "조회가 완료되었습니다", output1=page, output2=summary,
                              **ctx), tr_cont=cont)

    async def psbl_order(self, request: web.Request) -> web.Response:
        q = _query(request)
        symbol = q.get("PDNO", "")
        raw = q.get("ORD_UNPR", "0").strip() or "0"
        if not raw.isdigit():
            return _reject("OPSQ0004", "ORD_UNPR: expected digits")
        price = None if q.get("ORD_DVSN") == "01" or raw == "0" else int(raw)
        try:
            qty = self.market.buyable_qty(symbol, price)
            basis = price or self.market.quote(symbol).upper_limit
        except OrderRejected as exc:
            return _reject(exc.code, exc.message)
        cash = self.market.balance().cash
        out = {"ord_psbl_cash": str(cash), "nrcvb_buy_amt": str(qty * basis),
               "nrcvb_buy_qty": str(qty), "max_buy_amt": str(qty * basis),
               "max_buy_qty": str(qty), "psbl_qty_calc_unpr": str(basis)}
        return _json(envelope("KIOK0510", "조회가 완료되었습니다", output=out))


