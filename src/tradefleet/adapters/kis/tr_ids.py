"""KIS TR ids and paths. Paper ids swap a leading T/J/C for V; quotation (F/H) ids are shared."""

from __future__ import annotations

PREFIX = "/uapi/domestic-stock/v1/"
PRICE = ("quotations/inquire-price", "FHKST01010100")
MULTI_PRICE = ("quotations/intstock-multprice", "FHKST11300006")   # real only
ORDERBOOK = ("quotations/inquire-asking-price-exp-ccn", "FHKST01010200")
MINUTE_BARS = ("quotations/inquire-time-itemchartprice", "FHKST03010200")
ORDER_SELL = ("trading/order-cash", "TTTC0011U")
ORDER_BUY = ("trading/order-cash", "TTTC0012U")
ORDER_CANCEL = ("trading/order-rvsecncl", "TTTC0013U")
ORDER_MODIFY = ("trading/order-rvsecncl", "TTTC0013U")     # same TR; RVSE_CNCL_DVSN_CD 01
DAILY_FILLS = ("trading/inquire-daily-ccld", "TTTC0081R")
BALANCE = ("trading/inquire-balance", "TTTC8434R")
BUYABLE = ("trading/inquire-psbl-order", "TTTC8908R")

REAL_ONLY = frozenset({MULTI_PRICE[1]})
MULTI_PRICE_BATCH = 30
MINUTE_BARS_PAGE = 30


def for_mode(tr_id: str, mode: str) -> str:
    """The TR id to send in ``mode`` ("real" or "paper")."""
    if mode == "paper":
        if tr_id in REAL_ONLY:
            raise ValueError(f"tr_id: {tr_id} is not available in paper mode")
        if tr_id[0] in "TJC":
            return "V" + tr_id[1:]
    return tr_id
