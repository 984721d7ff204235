"""Order and account bodies rendered the way KIS renders them (every field ``kis_fields``
lists): every value a string, lower-case output keys (except order-cash's UPPERCASE output),
``msg1`` and ctx fields space-padded. Quotation bodies are in ``quote_payloads.py``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradefleet.domain.market import Holding
from tradefleet.domain.orders import OrderReport, OrderType, Side

_SIDE_CODE = {Side.BUY: "02", Side.SELL: "01"}
_SIDE_NAME = {Side.BUY: "매수", Side.SELL: "매도"}


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


@dataclass(frozen=True)
class PlacedCancel:
    """A cancel (취소) request KIS accepted: an order number of its own, listed in daily-ccld
    beside the order it cancelled (``orgn_odno``)."""

    odno: str
    original: PlacedOrder
    qty: int                        # shares the cancel took off the original
    at: datetime


def envelope(code: str, message: str, *, rt_cd: str = "0", **rest: Any) -> dict[str, Any]:
    return {"rt_cd": rt_cd, "msg_cd": code, "msg1": message.ljust(40), **rest}


def pad_ctx(value: str) -> str:
    return value.ljust(100)


def _dvsn(o: PlacedOrder) -> tuple[str, str]:
    return ("01", "시장가") if o.order_type is OrderType.MARKET else ("00", "지정가")


def _ccld_common(o: PlacedOrder, name: str) -> dict[str, str]:
    code, dvsn_name = _dvsn(o)
    return {"ord_gno_brno": o.branch, "ord_dvsn_name": dvsn_name,
            "sll_buy_dvsn_cd": _SIDE_CODE[o.side], "pdno": o.symbol, "prdt_name": name,
            "ord_unpr": str(o.limit_price or 0), "loan_dt": "", "ordr_empno": "",
            "ord_dvsn_cd": code, "ccld_cndt_name": "없음", "inqr_ip_addr": "",
            "cpbc_ordp_ord_rcit_dvsn_cd": "", "cpbc_ordp_infm_mthd_dvsn_cd": "",
            "infm_tmd": "", "ctac_tlno": "", "prdt_type_cd": "300", "excg_dvsn_cd": "02",
            "cpbc_ordp_mtrl_dvsn_cd": "", "ord_orgno": o.branch, "rsvn_ord_end_dt": "",
            "excg_id_dvsn_Cd": "KRX", "stpm_cndt_pric": "0", "stpm_efct_occr_dtmd": ""}


def ccld_row(o: PlacedOrder, r: OrderReport, name: str) -> dict[str, str]:
    """A daily-ccld ``output1`` row for an order (new, or the new order a modify made)."""
    avg = (r.filled_amount // r.filled_qty) if r.filled_qty else 0
    kind = "정정" if o.original_odno else ""
    return {
        **_ccld_common(o, name), "ord_dt": o.ordered_at.strftime("%Y%m%d"), "odno": o.odno,
        "orgn_odno": o.original_odno,
        "sll_buy_dvsn_cd_name": f"{_SIDE_NAME[o.side]}{kind}*" if kind else
        f"현금{_SIDE_NAME[o.side]}", "ord_qty": str(r.qty),
        "ord_tmd": o.ordered_at.strftime("%H%M%S"), "tot_ccld_qty": str(r.filled_qty),
        "avg_prvs": str(avg), "cncl_yn": "", "tot_ccld_amt": str(r.filled_amount),
        "rmn_qty": str(r.remaining_qty), "cnc_cfrm_qty": str(r.cancelled_qty),
        "rjct_qty": str(r.rejected_qty),
    }


def cancel_row(c: PlacedCancel, name: str) -> dict[str, str]:
    """The row of a cancel request: its own ``odno``, the original's as ``orgn_odno``,
    ``cncl_yn`` Y, the cancelled shares as its quantity (all confirmed, none filled)."""
    o = c.original
    return {
        **_ccld_common(o, name), "ord_dt": c.at.strftime("%Y%m%d"), "odno": c.odno,
        "orgn_odno": o.odno, "sll_buy_dvsn_cd_name": f"{_SIDE_NAME[o.side]}취소*",
        "ord_qty": str(c.qty), "ord_tmd": c.at.strftime("%H%M%S"), "tot_ccld_qty": "0",
        "avg_prvs": "0", "cncl_yn": "Y", "tot_ccld_amt": "0", "rmn_qty": "0",
        "cnc_cfrm_qty": str(c.qty), "rjct_qty": "0",
    }


def rvsecncl_row(o: PlacedOrder, r: OrderReport, name: str) -> dict[str, str]:
    """An inquire-psbl-rvsecncl ``output[]`` row: an order with shares left to modify or
    cancel (``psbl_qty``)."""
    code, dvsn_name = _dvsn(o)
    return {"ord_gno_brno": o.branch, "odno": o.odno, "orgn_odno": o.original_odno,
            "ord_dvsn_name": dvsn_name, "pdno": o.symbol, "prdt_name": name,
            "rvse_cncl_dvsn_name": "정정" if o.original_odno else "",
            "ord_qty": str(r.qty), "ord_unpr": str(o.limit_price or 0),
            "ord_tmd": o.ordered_at.strftime("%H%M%S"), "tot_ccld_qty": str(r.filled_qty),
            "tot_ccld_amt": str(r.filled_amount), "psbl_qty": str(r.remaining_qty),
            "sll_buy_dvsn_cd": _SIDE_CODE[o.side], "ord_dvsn_cd": code, "mgco_aptm_odno": "",
            "excg_dvsn_cd": "02", "excg_id_dvsn_cd": "KRX", "excg_id_dvsn_name": "KRX",
            "stpm_cndt_pric": "0", "stpm_efct_occr_yn": "N"}


def ccld_summary(rows: list[dict[str, str]]) -> dict[str, str]:
    qty = sum(int(r["tot_ccld_qty"]) for r in rows)
    amount = sum(int(r["tot_ccld_amt"]) for r in rows)
    avg = (Decimal(amount) / qty).quantize(Decimal("0.0001")) if qty else Decimal("0.0000")
    return {"tot_ord_qty": str(sum(int(r["ord_qty"]) for r in rows)),
            "tot_ccld_qty": str(qty), "tot_ccld_amt": str(amount), "prsm_tlex_smtl": "0",
            "pchs_avg_pric": str(avg)}


@dataclass(frozen=True)
class DayTrades:
    """Today's executions of one symbol (or the account), for the balance's 금일 columns."""

    buy_qty: int = 0
    sell_qty: int = 0
    buy_amount: int = 0
    sell_amount: int = 0


def _rate(num: int, den: int) -> str:
    return str((Decimal(num * 100) / Decimal(den)).quantize(Decimal("0.01"))) if den else \
        "0.00"


def holding_row(h: Holding, name: str, price: int, prev_close: int,
                today: DayTrades) -> dict[str, str]:
    """An inquire-balance ``output1`` row."""
    value = h.qty * price
    cost = int((h.avg_price * h.qty).to_integral_value())
    return {"pdno": h.symbol, "prdt_name": name, "trad_dvsn_name": "현금",
            "bfdy_buy_qty": "0", "bfdy_sll_qty": "0", "thdt_buyqty": str(today.buy_qty),
            "thdt_sll_qty": str(today.sell_qty), "hldg_qty": str(h.qty),
            "ord_psbl_qty": str(h.qty),
            "pchs_avg_pric": str(h.avg_price.quantize(Decimal("0.0001"))),
            "pchs_amt": str(cost), "prpr": str(price), "evlu_amt": str(value),
            "evlu_pfls_amt": str(value - cost), "evlu_pfls_rt": _rate(value - cost, cost),
            "evlu_erng_rt": _rate(value - cost, cost), "loan_dt": "", "loan_amt": "0",
            "stln_slng_chgs": "0", "expd_dt": "", "fltt_rt": _rate(price - prev_close,
                                                                  prev_close),
            "bfdy_cprs_icdc": str(price - prev_close), "item_mgna_rt_name": "20%",
            "grta_rt_name": "", "sbst_pric": str(prev_close * 7 // 10),
            "stck_loan_unpr": "0.0000"}


def balance_summary(cash: int, rows: list[dict[str, str]], today: DayTrades,
                    start_of_day: int) -> dict[str, str]:
    """The inquire-balance ``output2[0]`` over ALL holdings (not just this page)."""
    value = sum(int(r["evlu_amt"]) for r in rows)
    cost = sum(int(r["pchs_amt"]) for r in rows)
    total = cash + value
    return {"dnca_tot_amt": str(cash), "nxdy_excc_amt": str(cash),
            "prvs_rcdl_excc_amt": str(cash), "cma_evlu_amt": "0", "bfdy_buy_amt": "0",
            "thdt_buy_amt": str(today.buy_amount), "nxdy_auto_rdpt_amt": "0",
            "bfdy_sll_amt": "0", "thdt_sll_amt": str(today.sell_amount),
            "d2_auto_rdpt_amt": "0", "bfdy_tlex_amt": "0", "thdt_tlex_amt": "0",
            "tot_loan_amt": "0", "scts_evlu_amt": str(value), "tot_evlu_amt": str(total),
            "nass_amt": str(total), "fncg_gld_auto_rdpt_yn": "", "pchs_amt_smtl_amt": str(cost),
            "evlu_amt_smtl_amt": str(value), "evlu_pfls_smtl_amt": str(value - cost),
            "tot_stln_slng_chgs": "0", "bfdy_tot_asst_evlu_amt": str(start_of_day),
            "asst_icdc_amt": str(total - start_of_day),
            "asst_icdc_erng_rt": _rate(total - start_of_day, start_of_day)}


def psbl_order_output(cash: int, qty: int, basis: int) -> dict[str, str]:
    """inquire-psbl-order ``output``: ``basis`` is the price the quantity is computed at
    (the order price, or the upper limit for a market order)."""
    return {"ord_psbl_cash": str(cash), "ord_psbl_sbst": "0", "ruse_psbl_amt": "0",
            "fund_rpch_chgs": "0", "psbl_qty_calc_unpr": str(basis),
            "nrcvb_buy_amt": str(qty * basis), "nrcvb_buy_qty": str(qty),
            "max_buy_amt": str(qty * basis), "max_buy_qty": str(qty), "cma_evlu_amt": "0",
            "ovrs_re_use_amt_wcrc": "0", "ord_psbl_frcr_amt_wcrc": "0"}
