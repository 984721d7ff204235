"""KIS quotation payloads → domain ``Quote`` / ``Bar``. Prices are integer won."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.kis.envelope import as_int, strip_fields
from tradefleet.domain.market import Bar, Quote


def quote_from_inquire_price(output: dict[str, Any], symbol: str, at: datetime) -> Quote:
    """FHKST01010100 ``output``. It carries no book (the broker adds it from the orderbook
    endpoint); previous-day high/low are read when present (our simulator adds them), else 0."""
    r = strip_fields(output)
    price = as_int(r, "stck_prpr")
    return Quote(
        symbol=r.get("stck_shrn_iscd") or symbol, price=price, volume=as_int(r, "acml_vol"),
        traded_value=as_int(r, "acml_tr_pbmn"), change_rate=Decimal(r.get("prdy_ctrt") or "0"),
        open=as_int(r, "stck_oprc"), high=as_int(r, "stck_hgpr"), low=as_int(r, "stck_lwpr"),
        prev_high=as_int(r, "prdy_hgpr"), prev_low=as_int(r, "prdy_lwpr"),
        prev_close=as_int(r, "stck_sdpr"), ask=as_int(r, "askp1"), bid=as_int(r, "bidp1"),
        upper_limit=as_int(r, "stck_mxpr"), lower_limit=as_int(r, "stck_llam"), at=at)


def quote_from_multprice(row: dict[str, Any], at: datetime) -> Quote:
    """One FHKST11300006 ``output[]`` row (real mode only)."""
    r = strip_fields(row)
    return Quote(
        symbol=r["inter_shrn_iscd"], price=as_int(r, "inter2_prpr"),
        volume=as_int(r, "acml_vol"), traded_value=as_int(r, "acml_tr_pbmn"),
        change_rate=Decimal(r.get("prdy_ctrt") or "0"), open=as_int(r, "inter2_oprc"),
        high=as_int(r, "inter2_hgpr"), low=as_int(r, "inter2_lwpr"),
        prev_high=as_int(r, "prdy_hgpr"), prev_low=as_int(r, "prdy_lwpr"),
        prev_close=as_int(r, "inter2_sdpr") or as_int(r, "inter2_prdy_clpr"),
        ask=as_int(r, "inter2_askp"), bid=as_int(r, "inter2_bidp"),
        upper_limit=as_int(r, "inter2_mxpr"), lower_limit=as_int(r, "inter2_llam"), at=at)


def bar_from_row(row: dict[str, Any], symbol: str) -> Bar:
    """One FHKST03010200 ``output2[]`` row; ``stck_cntg_hour`` is the minute's start."""
    r = strip_fields(row)
    day = datetime.strptime(r["stck_bsop_date"], "%Y%m%d").date()
    return Bar(symbol, kst(day, r["stck_cntg_hour"]), as_int(r, "stck_oprc"),
               as_int(r, "stck_hgpr"), as_int(r, "stck_lwpr"), as_int(r, "stck_prpr"),
               as_int(r, "cntg_vol"))


def kst(day: date, hhmmss: str) -> datetime:
    s = hhmmss.strip().rjust(6, "0")
    return datetime.combine(day, time(int(s[0:2]), int(s[2:4]), int(s[4:6])), tzinfo=SEOUL)
