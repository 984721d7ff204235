"""The simulator's WebSocket records, in KIS's field order (the adapter's own field lists,
``adapters/kis/ws_ticks.py`` and ``ws_notices.py``, name the positions).

A tick is one trade: the pushed record's ``CNTG_VOL`` is the volume traded since the last
record pushed for the symbol on that session, and nothing is pushed when none traded. A
notice is one execution of the account (``CNTG_YN`` 2) in the 26-field layout KIS sends since
2025, or the 23-field one older clients (python-kis 2.1.6) expect. An order accepted over REST
is first acknowledged (``CNTG_YN`` 1, ``ACPT_YN`` 1: the order's quantity and price where a
fill has its own), as KIS does before the fills."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from tradefleet.adapters.kis.ws_notices import LEGACY_NOTICE_FIELDS, NOTICE_FIELDS
from tradefleet.adapters.kis.ws_ticks import TICK_FIELDS
from tradefleet.adapters.sim.exchange.payloads import PlacedOrder
from tradefleet.adapters.sim.exchange.quote_payloads import sign
from tradefleet.adapters.sim.ledger import Execution
from tradefleet.domain.market import Quote
from tradefleet.domain.orders import OrderReport, OrderType, Side

LAYOUTS = {26: NOTICE_FIELDS, 23: LEGACY_NOTICE_FIELDS}
_OPEN_HMS = "090000"


def tick_record(q: Quote, traded: int, at: datetime, depth: int) -> list[str]:
    diff = q.price - q.prev_close
    avg = (Decimal(q.traded_value) / Decimal(q.volume)).quantize(Decimal("0.01")) \
        if q.volume else Decimal(q.price)
    v = {
        "MKSC_SHRN_ISCD": q.symbol, "STCK_CNTG_HOUR": at.strftime("%H%M%S"),
        "STCK_PRPR": str(q.price), "PRDY_VRSS_SIGN": sign(diff), "PRDY_VRSS": str(diff),
        "PRDY_CTRT": f"{q.change_rate:.2f}", "WGHN_AVRG_STCK_PRC": str(avg),
        "STCK_OPRC": str(q.open), "STCK_HGPR": str(q.high), "STCK_LWPR": str(q.low),
        "ASKP1": str(q.ask), "BIDP1": str(q.bid), "CNTG_VOL": str(traded),
        "ACML_VOL": str(q.volume), "ACML_TR_PBMN": str(q.traded_value),
        "CCLD_DVSN": "1" if q.price >= q.ask else "5", "SHNU_RATE": "0.00",
        "PRDY_VOL_VRSS_ACML_VOL_RATE": "0.00", "CTTR": "0.00",
        "OPRC_HOUR": _OPEN_HMS, "OPRC_VRSS_PRPR_SIGN": sign(q.price - q.open),
        "OPRC_VRSS_PRPR": str(q.price - q.open),
        "HGPR_HOUR": _OPEN_HMS, "HGPR_VRSS_PRPR_SIGN": sign(q.price - q.high),
        "HGPR_VRSS_PRPR": str(q.price - q.high),
        "LWPR_HOUR": _OPEN_HMS, "LWPR_VRSS_PRPR_SIGN": sign(q.price - q.low),
        "LWPR_VRSS_PRPR": str(q.price - q.low),
        "BSOP_DATE": at.strftime("%Y%m%d"), "NEW_MKOP_CLS_CODE": "20", "TRHT_YN": "N",
        "ASKP_RSQN1": str(depth), "BIDP_RSQN1": str(depth),
        "TOTAL_ASKP_RSQN": str(depth * 10), "TOTAL_BIDP_RSQN": str(depth * 10),
        "VOL_TNRT": "0.00", "PRDY_SMNS_HOUR_ACML_VOL": "0",
        "PRDY_SMNS_HOUR_ACML_VOL_RATE": "0.00", "HOUR_CLS_CODE": "0",
        "MRKT_TRTM_CLS_CODE": "", "VI_STND_PRC": str(q.open),
    }
    row = ["0"] * len(TICK_FIELDS)
    for i, name in enumerate(TICK_FIELDS):
        row[i] = v.get(name, "0")
    return row


def notice_record(e: Execution, *, hts_id: str, account_no: str, report: OrderReport | None,
                  placed: PlacedOrder | None, width: int = 26) -> list[str]:
    fields = LAYOUTS[width]
    market = placed is not None and placed.order_type is OrderType.MARKET
    order_price = 0 if market or placed is None else int(placed.limit_price or 0)
    v = {
        "CUST_ID": hts_id, "ACNT_NO": account_no, "ODER_NO": e.odno,
        "OODER_NO": placed.original_odno if placed else "",
        "SELN_BYOV_CLS": "01" if e.side is Side.SELL else "02",
        "RCTF_CLS": "1" if placed and placed.original_odno else "0",
        "ODER_KIND": "01" if market else "00", "ODER_COND": "0",
        "STCK_SHRN_ISCD": e.symbol, "CNTG_QTY": str(e.qty), "CNTG_UNPR": str(e.price),
        "STCK_CNTG_HOUR": e.at.strftime("%H%M%S"), "RFUS_YN": "0", "CNTG_YN": "2",
        "ACPT_YN": "2", "BRNC_NO": placed.branch if placed else "00950",
        "ODER_QTY": str(report.qty if report else e.qty), "ACNT_NAME": "SIM",
        "ORD_EXG_GB": "1", "POPUP_YN": "Y", "CNTG_ISNM40": e.symbol, "CNTG_ISNM": e.symbol,
        "ODER_PRC": str(order_price),
    }
    return [v.get(name, "") for name in fields]


def ack_record(placed: PlacedOrder, qty: int, *, hts_id: str, account_no: str,
               width: int = 26) -> list[str]:
    fields = LAYOUTS[width]
    market = placed.order_type is OrderType.MARKET
    price = "0" if market else str(int(placed.limit_price or 0))
    v = {
        "CUST_ID": hts_id, "ACNT_NO": account_no, "ODER_NO": placed.odno,
        "OODER_NO": placed.original_odno,
        "SELN_BYOV_CLS": "01" if placed.side is Side.SELL else "02",
        "RCTF_CLS": "1" if placed.original_odno else "0",
        "ODER_KIND": "01" if market else "00", "ODER_COND": "0",
        "STCK_SHRN_ISCD": placed.symbol, "CNTG_QTY": str(qty), "CNTG_UNPR": price,
        "STCK_CNTG_HOUR": placed.ordered_at.strftime("%H%M%S"), "RFUS_YN": "0",
        "CNTG_YN": "1", "ACPT_YN": "1", "BRNC_NO": placed.branch, "ODER_QTY": str(qty),
        "ACNT_NAME": "SIM", "ORD_EXG_GB": "1", "POPUP_YN": "Y",
        "CNTG_ISNM40": placed.symbol, "CNTG_ISNM": placed.symbol, "ODER_PRC": price,
    }
    return [v.get(name, "") for name in fields]
