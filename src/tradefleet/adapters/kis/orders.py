"""Order bodies and order payloads (order-cash, order-rvsecncl, inquire-daily-ccld)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from tradefleet.adapters.kis.envelope import as_int, strip_fields
from tradefleet.adapters.kis.quotes import kst
from tradefleet.domain.orders import OrderAck, OrderReport, OrderRequest, OrderType, Side

SIDE_CODE = {Side.SELL: "01", Side.BUY: "02"}
CODE_SIDE = {v: k for k, v in SIDE_CODE.items()}


def order_body(cano: str, product_code: str, request: OrderRequest) -> dict[str, str]:
    """UPPERCASE keys, string values (KIS insists on both)."""
    if request.qty <= 0:
        raise ValueError(f"qty: must be > 0, got {request.qty}")
    if request.order_type is OrderType.LIMIT:
        if request.limit_price is None or request.limit_price <= 0:
            raise ValueError("limit_price: required and > 0 for a LIMIT order")
        dvsn, price = "00", str(request.limit_price)
    else:
        if request.limit_price is not None:
            raise ValueError("limit_price: must be None for a MARKET order")
        dvsn, price = "01", "0"
    return {"CANO": cano, "ACNT_PRDT_CD": product_code, "PDNO": request.symbol,
            "ORD_DVSN": dvsn, "ORD_QTY": str(request.qty), "ORD_UNPR": price,
            "EXCG_ID_DVSN_CD": "KRX"}


def cancel_body(cano: str, product_code: str, odno: str, branch: str | None) -> dict[str, str]:
    return {"CANO": cano, "ACNT_PRDT_CD": product_code, "KRX_FWDG_ORD_ORGNO": branch or "",
            "ORGN_ODNO": odno, "ORD_DVSN": "00", "RVSE_CNCL_DVSN_CD": "02", "ORD_QTY": "0",
            "ORD_UNPR": "0", "QTY_ALL_ORD_YN": "Y", "EXCG_ID_DVSN_CD": "KRX"}


def modify_body(cano: str, product_code: str, odno: str, branch: str | None, *, price: int,
                qty: int | None) -> dict[str, str]:
    """정정 to a limit price: the whole remainder (``qty`` None → QTY_ALL_ORD_YN Y, ORD_QTY 0)
    or ``qty`` shares of it (N)."""
    if price <= 0:
        raise ValueError(f"price: must be > 0, got {price}")
    if qty is not None and qty <= 0:
        raise ValueError(f"qty: must be > 0 or None (all), got {qty}")
    return {"CANO": cano, "ACNT_PRDT_CD": product_code, "KRX_FWDG_ORD_ORGNO": branch or "",
            "ORGN_ODNO": odno, "ORD_DVSN": "00", "RVSE_CNCL_DVSN_CD": "01",
            "ORD_QTY": "0" if qty is None else str(qty), "ORD_UNPR": str(price),
            "QTY_ALL_ORD_YN": "Y" if qty is None else "N", "EXCG_ID_DVSN_CD": "KRX"}


def ack_from_output(output: dict[str, Any], client_order_id: str, day: date) -> OrderAck:
    r = strip_fields(output)
    odno = r.get("odno", "")
    if not odno:
        raise ValueError("ODNO: missing in an accepted order response")
    tmd = r.get("ord_tmd") or "000000"
    return OrderAck(client_order_id, odno, r.get("krx_fwdg_ord_orgno") or None, kst(day, tmd))


def same_odno(a: str, b: str) -> bool:
    """Old paper ODNOs were not zero-padded ("47589" vs "0000047589")."""
    return a.strip().lstrip("0") == b.strip().lstrip("0")


def report_from_row(row: dict[str, Any]) -> OrderReport:
    r = strip_fields(row)
    day = datetime.strptime(r["ord_dt"], "%Y%m%d").date()
    return OrderReport(
        broker_order_id=r["odno"], symbol=r["pdno"], side=CODE_SIDE[r["sll_buy_dvsn_cd"]],
        qty=as_int(r, "ord_qty"), filled_qty=as_int(r, "tot_ccld_qty"),
        filled_amount=as_int(r, "tot_ccld_amt"), remaining_qty=as_int(r, "rmn_qty"),
        cancelled_qty=as_int(r, "cnc_cfrm_qty"), rejected_qty=as_int(r, "rjct_qty"),
        ordered_at=kst(day, r.get("ord_tmd") or "000000"))
