"""``KisBroker``: ``ports.broker.BrokerPort`` over the KIS REST API (real or paper)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import aiohttp

from tradefleet.adapters.clock import SEOUL, WallClock
from tradefleet.adapters.kis import tr_ids
from tradefleet.adapters.kis.account import buyable_qty, cash_from_summary, holding_from_row
from tradefleet.adapters.kis.auth import RateLimiter, TokenProvider
from tradefleet.adapters.kis.client import KisClient, KisConfig
from tradefleet.adapters.kis.envelope import Envelope, as_int
from tradefleet.adapters.kis.orders import (
    SIDE_CODE,
    ack_from_output,
    cancel_body,
    modify_body,
    order_body,
    report_from_row,
    same_odno,
)
from tradefleet.adapters.kis.quotes import (
    bar_from_row,
    quote_from_inquire_price,
    quote_from_multprice,
)
from tradefleet.domain.errors import AmbiguousOrderOutcome, BrokerUnavailable, OrderRejected
from tradefleet.domain.market import Balance, Bar, Holding, Quote
from tradefleet.domain.orders import OrderAck, OrderReport, OrderRequest, Side
from tradefleet.ports.clock import Clock

MAX_PAGES = 200


class KisBroker:
    def __init__(self, config: KisConfig, session: aiohttp.ClientSession,
                 token_provider: TokenProvider, rate_limiter: RateLimiter,
                 clock: Clock | None = None) -> None:
        self.config = config
        self._tokens = token_provider
        self._client = KisClient(config, session, token_provider, rate_limiter)
        self._clock = clock or WallClock()

    def _now(self) -> datetime:
        return self._clock.now().astimezone(SEOUL)

    async def authenticate(self) -> datetime | None:
        await self._tokens.get()
        return getattr(self._tokens, "expires_at", None)

    # ---- market data -------------------------------------------------------------------
    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        out: dict[str, Quote] = {}
        if self.config.mode == "paper":
            # multprice is real-only, and inquire-price has no best bid/ask: paper takes the
            # price and the orderbook per symbol (the spread filter needs the book).
            for s in symbols:
                env = await self._client.call("GET", *tr_ids.PRICE, params=_market(s))
                if not (env.ok and env.body.get("output")):     # unknown symbol: left out
                    continue
                quote = quote_from_inquire_price(env.body["output"], s, self._now())
                book = await self._client.call("GET", *tr_ids.ORDERBOOK, params=_market(s))
                if book.ok and book.body.get("output1"):
                    level = book.body["output1"]
                    quote = replace(quote, ask=as_int(level, "askp1"),
                                    bid=as_int(level, "bidp1"))
                out[s] = quote
            return out
        batch = tr_ids.MULTI_PRICE_BATCH
        for start in range(0, len(symbols), batch):
            params: dict[str, str] = {}
            for n, s in enumerate(symbols[start:start + batch], 1):
                params[f"FID_COND_MRKT_DIV_CODE_{n}"] = "J"
                params[f"FID_INPUT_ISCD_{n}"] = s
            env = await self._read(*tr_ids.MULTI_PRICE, params=params)
            for row in env.body.get("output") or []:
                q = quote_from_multprice(row, self._now())
                if q.price > 0:
                    out[q.symbol] = q
        return out

    async def get_minute_bars(self, symbol: str, count: int) -> list[Bar]:
        bars: list[Bar] = []
        hour = self._now().strftime("%H%M%S")
        for _ in range(MAX_PAGES):
            if len(bars) >= count:
                break
            env = await self._read(*tr_ids.MINUTE_BARS, params={
                "FID_ETC_CLS_CODE": "", "FID_COND_MRKT_DIV_CODE": "J",
                "FID_INPUT_ISCD": symbol, "FID_INPUT_HOUR_1": hour,
                "FID_PW_DATA_INCU_YN": "N"})
            rows = [r for r in env.body.get("output2") or [] if str(r.get("stck_bsop_date",
                                                                          "")).strip()]
            page = [bar_from_row(r, symbol) for r in rows]      # newest first
            bars.extend(b for b in page if not bars or b.start < bars[-1].start)
            if len(rows) < tr_ids.MINUTE_BARS_PAGE:
                break
            hour = (page[-1].start - timedelta(minutes=1)).strftime("%H%M%S")
        return sorted(bars[:count], key=lambda b: b.start)

    # ---- orders ------------------------------------------------------------------------
    async def place_order(self, request: OrderRequest) -> OrderAck:
        """Raises OrderRejected (a business refusal), RateLimited (EGW00201 past the resend
        budget) or AuthError (no token; the gateway refused it): nothing was placed. Only
        AmbiguousOrderOutcome means the order may exist."""
        path, tr = tr_ids.ORDER_BUY if request.side is Side.BUY else tr_ids.ORDER_SELL
        body = order_body(self.config.cano, self.config.product_code, request)
        return await self._send_order(path, tr, body, request.client_order_id)

    async def modify_order(self, broker_order_id: str, broker_branch: str | None, *,
                           price: int, qty: int | None = None) -> OrderAck:
        """정정 (order-rvsecncl, RVSE_CNCL_DVSN_CD 01): KIS answers with the NEW order's ODNO.
        Errors exactly as ``place_order``: a lost answer is never resent; an EGW00201
        refusal is (it never reached the order system)."""
        body = modify_body(self.config.cano, self.config.product_code, broker_order_id,
                           broker_branch, price=price, qty=qty)
        return await self._send_order(*tr_ids.ORDER_MODIFY, body, "")

    async def _send_order(self, path: str, tr: str, body: dict[str, str],
                          client_order_id: str) -> OrderAck:
        """One order POST whose answer names a new order (order-cash, or a modify)."""
        env = await self._client.call("POST", path, tr, body=body, is_order=True)
        if not env.ok:
            raise OrderRejected(env.code or f"HTTP{env.http_status}", env.message)
        try:
            return ack_from_output(env.body.get("output") or {}, client_order_id,
                                   self._now().date())
        except (ValueError, TypeError, AttributeError) as exc:
            # accepted (rt_cd 0) but unreadable: the order exists, we lack its id
            raise AmbiguousOrderOutcome(f"accepted order without a usable ODNO: {exc}") \
                from exc

    async def cancel_order(self, broker_order_id: str, broker_branch: str | None) -> None:
        body = cancel_body(self.config.cano, self.config.product_code, broker_order_id,
                           broker_branch)
        env = await self._client.call("POST", *tr_ids.ORDER_CANCEL, body=body, is_order=True)
        if not env.ok and not _nothing_to_cancel(env):
            raise OrderRejected(env.code or f"HTTP{env.http_status}", env.message)

    async def get_order(self, broker_order_id: str, trading_day: date) -> OrderReport | None:
        rows = await self._daily_fills(trading_day, odno=broker_order_id)
        for row in rows:
            if same_odno(str(row.get("odno", "")), broker_order_id):
                return report_from_row(row)
        return None

    async def find_orders(self, trading_day: date, symbol: str, side: Side,
                          since: datetime) -> list[OrderReport]:
        rows = await self._daily_fills(trading_day, symbol=symbol, side=side)
        # a cancel request is listed as a row of its own (cncl_yn Y, orgn_odno = the order it
        # cancelled): it is not an order, and must never be adopted as one
        reports = [report_from_row(r) for r in rows
                   if str(r.get("cncl_yn", "")).strip().upper() != "Y"]
        return [r for r in reports
                if r.symbol == symbol and r.side is side and r.ordered_at >= since]

    async def _daily_fills(self, day: date, *, symbol: str = "", side: Side | None = None,
                           odno: str = "") -> list[dict[str, Any]]:
        d = day.strftime("%Y%m%d")
        params = {"CANO": self.config.cano, "ACNT_PRDT_CD": self.config.product_code,
                  "INQR_STRT_DT": d, "INQR_END_DT": d,
                  "SLL_BUY_DVSN_CD": SIDE_CODE[side] if side else "00", "INQR_DVSN": "00",
                  "PDNO": symbol, "CCLD_DVSN": "00", "ORD_GNO_BRNO": "", "ODNO": odno,
                  "INQR_DVSN_3": "00", "INQR_DVSN_1": "", "EXCG_ID_DVSN_CD": "KRX"}
        return await self._paged(*tr_ids.DAILY_FILLS, params=params, key="output1")

    # ---- account -----------------------------------------------------------------------
    async def get_balance(self) -> Balance:
        params = {"CANO": self.config.cano, "ACNT_PRDT_CD": self.config.product_code,
                  "AFHR_FLPR_YN": "N", "OFL_YN": "", "INQR_DVSN": "01", "UNPR_DVSN": "01",
                  "FUND_STTL_ICLD_YN": "N", "FNCG_AMT_AUTO_RDPT_YN": "N", "PRCS_DVSN": "00"}
        summary: list[Any] = []
        rows = await self._paged(*tr_ids.BALANCE, params=params, key="output1",
                                 summary=summary)
        holdings = tuple(h for h in map(holding_from_row, rows) if h is not None)
        return Balance(cash=cash_from_summary(summary[-1] if summary else []),
                       holdings=tuple(sorted(holdings, key=_sym)))

    async def get_buyable_qty(self, symbol: str, price: int | None) -> int:
        params = {"CANO": self.config.cano, "ACNT_PRDT_CD": self.config.product_code,
                  "PDNO": symbol, "ORD_UNPR": "0" if price is None else str(price),
                  "ORD_DVSN": "01" if price is None else "00",
                  "CMA_EVLU_AMT_ICLD_YN": "N", "OVRS_ICLD_YN": "N"}
        env = await self._read(*tr_ids.BUYABLE, params=params)
        return buyable_qty(env.body.get("output") or {})

    # ---- plumbing ----------------------------------------------------------------------
    async def _read(self, path: str, tr: str, *, params: dict[str, str],
                    tr_cont: str = "") -> Envelope:
        env = await self._client.call("GET", path, tr, params=params, tr_cont=tr_cont)
        if not env.ok:
            raise BrokerUnavailable(f"{tr}: {env.code} {env.message}")
        return env

    async def _paged(self, path: str, tr: str, *, params: dict[str, str], key: str,
                     summary: list[Any] | None = None) -> list[dict[str, Any]]:
        """Follow ``tr_cont`` F/M pages, copying ``CTX_AREA_FK100``/``NK100`` back."""
        rows: list[dict[str, Any]] = []
        fk = nk = cont = ""
        for _ in range(MAX_PAGES):
            env = await self._read(path, tr, params={**params, "CTX_AREA_FK100": fk,
                                                     "CTX_AREA_NK100": nk}, tr_cont=cont)
            rows.extend(r for r in env.body.get(key) or [] if r)
            if summary is not None:
                summary.append(env.body.get("output2"))
            if not env.has_more:
                return rows
            fk, nk, cont = env.ctx_fk, env.ctx_nk, "N"
        raise BrokerUnavailable(f"{tr}: more than {MAX_PAGES} pages")


def _nothing_to_cancel(env: Envelope) -> bool:
    """The order is already done (filled/cancelled): cancelling it is a no-op, as in the
    port's contract, not a failure."""
    return env.code == "APBK0415" or "취소할 수량이 없습니다" in env.message


def _market(symbol: str) -> dict[str, str]:
    return {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": symbol}


def _sym(h: Holding) -> str:
    return h.symbol


def in_process_kis_broker(config: KisConfig, session: aiohttp.ClientSession, *,
                          rate_per_second: int | None = None,
                          clock: Clock | None = None) -> KisBroker:
    """A broker with this process's own token cache and rate window (one process per appkey).
    A fleet sharing an appkey must pass the Postgres-shared provider and budget instead."""
    from tradefleet.adapters.kis.auth import (
        Credentials,
        InProcessTokenProvider,
        KisTokenIssuer,
        SlidingWindowRateLimiter,
    )

    issuer = KisTokenIssuer(session, Credentials(config.base_url, config.appkey,
                                                 config.appsecret),
                            timeout_seconds=config.timeout_seconds)
    rate = rate_per_second or (2 if config.mode == "paper" else 20)
    return KisBroker(config, session, InProcessTokenProvider(issuer),
                     SlidingWindowRateLimiter(rate), clock=clock)
