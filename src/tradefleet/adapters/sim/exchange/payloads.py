"""Domain objects rendered the way KIS renders them: every value a string, lower-case output
keys (except order-cash's UPPERCASE output), ``msg1`` and ctx fields space-padded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np

from tradefleet.adapters.sim import ticks
from tradefleet.domain.market import Bar, Holding, Quote
from tradefleet.domain.orders import OrderReport, OrderType, Side


@dataclass
class PlacedOrder:
    """What the simulator remembers about an order sent over HTTP (for daily-ccld)."""

    odno: str
    branch: str
    symbol: str
    side: Side
    order_type: OrderType
    limit_price: int | None
    ordered_at: datetime
    original_odno: str = ""         # the order a modify (정정) replaced; "" for a new order
    account: str = ""               # masked CANO-ACNT_PRDT_CD the order was sent for


def envelope(code: str, message: str, *, rt_cd: str = "0", **rest: Any) -> dict[str, Any]:
    return {"rt_cd": rt_cd, "msg_cd": code, "msg1": message.ljust(40), **rest}


def pad_ctx(value: str) -> str:
    return value.ljust(100)


def _sign(diff: int) -> str:
    return "2" if diff > 0 else "5" if diff < 0 else "3"


def price_output(q: Quote) -> dict[str, str]:
    diff = q.price - q.prev_close
    tick = int(ticks.tick_of(np.array([max(q.price, 1)], dtype=np.int64))[0])
    return {
        "iscd_stat_cls_code": "55", "temp_stop_yn": "N", "stck_shrn_iscd": q.symbol,
        "stck_prpr": str(q.price), "prdy_vrss": str(diff), "prdy_vrss_sign": _sign(diff),
        "prdy_ctrt": f"{q.change_rate:.2f}", "acml_vol": str(q.volume),
        "acml_tr_pbmn": str(q.traded_value), "stck_oprc": str(q.open),
        "stck_hgpr": str(q.high), "stck_lwpr": str(q.low), "stck_mxpr": str(q.upper_limit),
        "stck_llam": str(q.lower_limit), "stck_sdpr": str(q.prev_close), "aspr_unit": str(tick),
        # simulator extras (not in the real FHKST01010100 output): previous day high/low.
        # Best bid/ask are NOT here, as at KIS: they come from the orderbook endpoint.
        "prdy_hgpr": str(q.prev_high), "prdy_lwpr": str(q.prev_low),
    }


def orderbook_output(q: Quote) -> tuple[dict[str, str], dict[str, str]]:
    """FHKST01010200: ``output1`` levels 1..10 (we model the best level) and ``output2``."""
    out1 = {"aspr_acpt_hour": q.at.strftime("%H%M%S"), "askp1": str(q.ask),
            "bidp1": str(q.bid)}
    for n in range(2, 11):
        out1[f"askp{n}"] = "0"
        out1[f"bidp{n}"] = "0"
    return out1, {"stck_prpr": str(q.price), "antc_cnpr": "0"}


def multprice_row(q: Quote) -> dict[str, str]:
    return {
        "inter_shrn_iscd": q.symbol, "inter_kor_isnm": f"SIM{q.symbol}",
        "inter2_prpr": str(q.price), "prdy_vrss_sign": _sign(q.price - q.prev_close),
        "inter2_prdy_vrss": str(q.price - q.prev_close), "prdy_ctrt": f"{q.change_rate:.2f}",
        "acml_vol": str(q.volume), "acml_tr_pbmn": str(q.traded_value),
        "inter2_oprc": str(q.open), "inter2_hgpr": str(q.high), "inter2_lwpr": str(q.low),
        "inter2_sdpr": str(q.prev_close), "inter2_prdy_clpr": str(q.prev_close),
        "inter2_mxpr": str(q.upper_limit), "inter2_llam": str(q.lower_limit),
        "inter2_askp": str(q.ask), "inter2_bidp": str(q.bid),
        "prdy_hgpr": str(q.prev_high), "prdy_lwpr": str(q.prev_low),
    }


def bar_row(b: Bar) -> dict[str, str]:
    return {"stck_bsop_date": b.start.strftime("%Y%m%d"),
            "stck_cntg_hour": b.start.strftime("%H%M%S"), "stck_prpr": str(b.close),
            "stck_oprc": str(b.open), "stck_hgpr": str(b.high), "stck_lwpr": str(b.low),
            "cntg_vol": str(b.volume), "acml_tr_pbmn": "0"}


def ccld_row(o: PlacedOrder, r: OrderReport) -> dict[str, str]:
    avg = (r.filled_amount // r.filled_qty) if r.filled_qty else 0
    return {
        "ord_dt": o.ordered_at.strftime("%Y%m%d"), "ord_gno_brno": o.branch, "odno": o.odno,
        "orgn_odno": o.original_odno, "sll_buy_dvsn_cd": "02" if o.side is Side.BUY else "01",
        "pdno": o.symbol, "ord_qty": str(r.qty), "ord_unpr": str(o.limit_price or 0),
        "ord_tmd": o.ordered_at.strftime("%H%M%S"), "tot_ccld_qty": str(r.filled_qty),
        "avg_prvs": str(avg), "cncl_yn": "Y" if r.cancelled_qty else "",
        "tot_ccld_amt": str(r.filled_amount), "rmn_qty": str(r.remaining_qty),
        "cnc_cfrm_qty": str(r.cancelled_qty), "rjct_qty": str(r.rejected_qty),
        "ord_dvsn_cd": "01" if o.order_type is OrderType.MARKET else "00", "excg_dvsn_cd": "02",
    }


def holding_row(h: Holding, price: int) -> dict[str, str]:
    value = h.qty * price
    cost = (h.avg_price * h.qty).to_integral_value()
    avg = h.avg_price.quantize(Decimal("0.0001"))
    return {"pdno": h.symbol, "prdt_name": f"SIM{h.symbol}", "hldg_qty": str(h.qty),
            "ord_psbl_qty": str(h.qty), "pchs_avg_pric": str(avg),
            "prpr": str(price), "evlu_amt": str(value), "evlu_pfls_amt": str(value - int(cost))}
