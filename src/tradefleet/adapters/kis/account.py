"""Account payloads: inquire-balance and inquire-psbl-order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradefleet.adapters.kis.envelope import as_int, strip_fields
from tradefleet.domain.market import Holding


def holding_from_row(row: dict[str, Any]) -> Holding | None:
    """Positions sold to zero today still appear (qty 0 until D+2): those are skipped."""
    r = strip_fields(row)
    qty = as_int(r, "hldg_qty")
    if qty <= 0:
        return None
    return Holding(r["pdno"], qty, Decimal(r.get("pchs_avg_pric") or "0"))


def cash_from_summary(output2: Any) -> int:
    """``output2`` is a 1-element array; D+2 deposit (``prvs_rcdl_excc_amt``) counts today's
    trades, unlike ``dnca_tot_amt``."""
    first = output2[0] if isinstance(output2, list) and output2 else output2 or {}
    r = strip_fields(first)
    return as_int(r, "prvs_rcdl_excc_amt", default=as_int(r, "dnca_tot_amt"))


def buyable_qty(output: dict[str, Any]) -> int:
    """Without credit: ``nrcvb_buy_qty`` (market buys are reserved at the upper limit)."""
    return as_int(strip_fields(output), "nrcvb_buy_qty")
