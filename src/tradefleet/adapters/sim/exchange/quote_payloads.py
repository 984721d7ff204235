"""The quotation bodies as KIS fills them (every field ``kis_fields`` lists), from the
simulated market: the tape's quote, the book's levels, the minute bars with their accumulated
value, and the symbol's synthetic fundamentals. Fields the simulator does not model (foreign
and programme flows, VI, loans) carry the values KIS sends when nothing applies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from tradefleet.adapters.sim import ticks
from tradefleet.adapters.sim.fundamentals import Fundamentals
from tradefleet.domain.market import Bar, Quote

_CENT = Decimal("0.01")
_EOK = 100_000_000                       # 억 (KIS quotes capital and market cap in it)
_MARKET_NAME = {"KOSPI": "KOSPI", "KOSDAQ": "KOSDAQ", "ETF": "KOSPI", "ETN": "KOSPI"}
_MARKET_KOR = {"KOSPI": "코스피", "KOSDAQ": "코스닥", "ETF": "코스피", "ETN": "코스피"}
Levels = list[tuple[int, int]]


@dataclass(frozen=True)
class Listing:
    """What the simulator knows about a symbol besides its tape."""

    symbol: str
    name: str
    market: str                  # KOSPI | KOSDAQ | ETF | ETN
    fundamentals: Fundamentals


def sign(diff: int) -> str:
    return "2" if diff > 0 else "5" if diff < 0 else "3"


def pct(num: int | Decimal, den: int | Decimal) -> str:
    """``num / den`` in percent, 2 decimals ("0.00" when ``den`` is 0)."""
    if not den:
        return "0.00"
    return str((Decimal(num) * 100 / Decimal(den)).quantize(_CENT, ROUND_HALF_UP))


def tick_at(price: int) -> int:
    return int(ticks.tick_of(np.array([max(price, 1)], dtype=np.int64))[0])


def _ymd(d: date) -> str:
    return d.strftime("%Y%m%d")


def _pivots(q: Quote) -> dict[str, str]:
    """Classic pivot points and DeMark levels from the previous session's high/low/close."""
    h, lo, c = q.prev_high, q.prev_low, q.prev_close
    p = (h + lo + c) // 3
    x = h + lo + 2 * c
    return {"pvt_pont_val": str(p), "pvt_frst_dmrs_prc": str(2 * p - lo),
            "pvt_scnd_dmrs_prc": str(p + h - lo), "pvt_frst_dmsp_prc": str(2 * p - h),
            "pvt_scnd_dmsp_prc": str(p - h + lo), "dmrs_val": str(x // 2 - lo),
            "dmsp_val": str(x // 2 - h)}


def price_output(q: Quote, listing: Listing, day: date) -> dict[str, str]:
    """FHKST01010100 ``output``."""
    f = listing.fundamentals
    diff = q.price - q.prev_close
    per, pbr = f.per_pbr(q.price)
    hi, hi_d, lo, lo_d = f.extremes(q.high, q.low, day)
    # the year's extremes are the 52-week ones when those fell this year, else the last days'
    year_hi = (hi, hi_d) if hi_d.year == day.year else (max(q.high, q.prev_high), day)
    year_lo = (lo, lo_d) if lo_d.year == day.year else (min(q.low, q.prev_low), day)
    vwap = (Decimal(q.traded_value) / q.volume).quantize(_CENT) if q.volume else \
        Decimal(q.price)
    substitute = int(ticks.round_down(np.array([q.prev_close * 7 // 10]))[0])
    return {
        "iscd_stat_cls_code": "55", "marg_rate": "20.00",
        "rprs_mrkt_kor_name": _MARKET_NAME[listing.market], "new_hgpr_lwpr_cls_code": "",
        "bstp_kor_isnm": f"SIM {listing.market}", "temp_stop_yn": "N",
        "oprc_rang_cont_yn": "N", "clpr_rang_cont_yn": "N", "crdt_able_yn": "Y",
        "grmn_rate_cls_code": "40", "elw_pblc_yn": "N", "stck_prpr": str(q.price),
        "prdy_vrss": str(diff), "prdy_vrss_sign": sign(diff), "prdy_ctrt": f"{q.change_rate:.2f}",
        "acml_tr_pbmn": str(q.traded_value), "acml_vol": str(q.volume),
        "prdy_vrss_vol_rate": pct(q.volume, f.prev_volume), "stck_oprc": str(q.open),
        "stck_hgpr": str(q.high), "stck_lwpr": str(q.low), "stck_mxpr": str(q.upper_limit),
        "stck_llam": str(q.lower_limit), "stck_sdpr": str(q.prev_close),
        "wghn_avrg_stck_prc": str(vwap), "hts_frgn_ehrt": "0.00", "frgn_ntby_qty": "0",
        "pgtr_ntby_qty": "0", **_pivots(q), "cpfn": str(f.capital // _EOK),
        "rstc_wdth_prc": str(q.upper_limit - q.prev_close), "stck_fcam": str(f.face_value),
        "stck_sspr": str(substitute), "aspr_unit": str(tick_at(q.price)),
        "hts_deal_qty_unit_val": "1", "lstn_stcn": str(f.listed_shares),
        "hts_avls": str(q.price * f.listed_shares // _EOK), "per": str(per), "pbr": str(pbr),
        "stac_month": "12", "vol_tnrt": pct(q.volume, f.listed_shares),
        "eps": f"{f.eps}.00", "bps": f"{f.bps}.00",
        "d250_hgpr": str(hi), "d250_hgpr_date": _ymd(hi_d),
        "d250_hgpr_vrss_prpr_rate": pct(q.price - hi, hi),
        "d250_lwpr": str(lo), "d250_lwpr_date": _ymd(lo_d),
        "d250_lwpr_vrss_prpr_rate": pct(q.price - lo, lo),
        "stck_dryy_hgpr": str(year_hi[0]), "dryy_hgpr_date": _ymd(year_hi[1]),
        "dryy_hgpr_vrss_prpr_rate": pct(q.price - year_hi[0], year_hi[0]),
        "stck_dryy_lwpr": str(year_lo[0]), "dryy_lwpr_date": _ymd(year_lo[1]),
        "dryy_lwpr_vrss_prpr_rate": pct(q.price - year_lo[0], year_lo[0]),
        "w52_hgpr": str(hi), "w52_hgpr_vrss_prpr_ctrt": pct(q.price - hi, hi),
        "w52_hgpr_date": _ymd(hi_d), "w52_lwpr": str(lo),
        "w52_lwpr_vrss_prpr_ctrt": pct(q.price - lo, lo), "w52_lwpr_date": _ymd(lo_d),
        "whol_loan_rmnd_rate": "0.00", "ssts_yn": "Y", "stck_shrn_iscd": q.symbol,
        "fcam_cnnm": "원", "cpfn_cnnm": "억", "apprch_rate": "0.00", "frgn_hldn_qty": "0",
        "vi_cls_code": "N", "ovtm_vi_cls_code": "N", "last_ssts_cntg_qty": "0",
        "invt_caful_yn": "N", "mrkt_warn_cls_code": "00", "short_over_yn": "N",
        "sltr_yn": "N", "mang_issu_cls_code": "N",
        # simulator extras (not in the real output; our adapter reads them when present)
        "prdy_hgpr": str(q.prev_high), "prdy_lwpr": str(q.prev_low),
    }


def _side(levels: Levels, key: str, qty_key: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for n in range(1, 11):
        price, qty = levels[n - 1] if n <= len(levels) else (0, 0)
        out[f"{key}{n}"] = str(price)
        out[f"{qty_key}{n}"] = str(qty)
        out[f"{qty_key}_icdc{n}"] = "0"
    return out


def orderbook_output(q: Quote, asks: Levels, bids: Levels) -> tuple[dict[str, str],
                                                                     dict[str, str]]:
    """FHKST01010200 ``output1`` (10 levels a side; the simulator's book has ``book.LEVELS``,
    the rest are 0 as KIS shows an empty level) and ``output2``."""
    total_ask, total_bid = sum(n for _, n in asks), sum(n for _, n in bids)
    out1 = {"aspr_acpt_hour": q.at.strftime("%H%M%S"), **_side(asks, "askp", "askp_rsqn"),
            **_side(bids, "bidp", "bidp_rsqn"), "total_askp_rsqn": str(total_ask),
            "total_bidp_rsqn": str(total_bid), "total_askp_rsqn_icdc": "0",
            "total_bidp_rsqn_icdc": "0", "ovtm_total_askp_icdc": "0",
            "ovtm_total_bidp_icdc": "0", "ovtm_total_askp_rsqn": "0",
            "ovtm_total_bidp_rsqn": "0", "ntby_aspr_rsqn": str(total_bid - total_ask),
            "new_mkop_cls_code": "20"}
    out2 = {"antc_mkop_cls_code": "", "stck_prpr": str(q.price), "stck_oprc": str(q.open),
            "stck_hgpr": str(q.high), "stck_lwpr": str(q.low), "stck_sdpr": str(q.prev_close),
            "antc_cnpr": "0", "antc_cntg_vrss_sign": "3", "antc_cntg_vrss": "0",
            "antc_cntg_prdy_ctrt": "0.00", "antc_vol": "0", "stck_shrn_iscd": q.symbol,
            "vi_cls_code": "N"}
    return out1, out2


def multprice_row(q: Quote, listing: Listing, asks: Levels, bids: Levels) -> dict[str, str]:
    """One FHKST11300006 ``output[]`` row."""
    diff = q.price - q.prev_close
    return {
        "kospi_kosdaq_cls_name": _MARKET_KOR[listing.market], "mrkt_trtm_cls_name": "",
        "hour_cls_code": "0", "inter_shrn_iscd": q.symbol, "inter_kor_isnm": listing.name,
        "inter2_prpr": str(q.price), "inter2_prdy_vrss": str(diff), "prdy_vrss_sign": sign(diff),
        "prdy_ctrt": f"{q.change_rate:.2f}", "acml_vol": str(q.volume),
        "inter2_oprc": str(q.open), "inter2_hgpr": str(q.high), "inter2_lwpr": str(q.low),
        "inter2_llam": str(q.lower_limit), "inter2_mxpr": str(q.upper_limit),
        "inter2_askp": str(q.ask), "inter2_bidp": str(q.bid),
        "seln_rsqn": str(asks[0][1] if asks else 0), "shnu_rsqn": str(bids[0][1] if bids else 0),
        "total_askp_rsqn": str(sum(n for _, n in asks)),
        "total_bidp_rsqn": str(sum(n for _, n in bids)), "acml_tr_pbmn": str(q.traded_value),
        "inter2_prdy_clpr": str(q.prev_close), "oprc_vrss_hgpr_rate": pct(q.high - q.open,
                                                                          q.open),
        "intr_antc_cntg_vrss": "0", "intr_antc_cntg_vrss_sign": "3",
        "intr_antc_cntg_prdy_ctrt": "0.00", "intr_antc_vol": "0",
        "inter2_sdpr": str(q.prev_close),
        "prdy_hgpr": str(q.prev_high), "prdy_lwpr": str(q.prev_low),
    }


def bars_output1(q: Quote, name: str) -> dict[str, str]:
    """FHKST03010200 ``output1``: the day so far, as in the current-price output."""
    diff = q.price - q.prev_close
    return {"prdy_vrss": str(diff), "prdy_vrss_sign": sign(diff),
            "prdy_ctrt": f"{q.change_rate:.2f}", "stck_prdy_clpr": str(q.prev_close),
            "acml_vol": str(q.volume), "acml_tr_pbmn": str(q.traded_value),
            "hts_kor_isnm": name, "stck_prpr": str(q.price)}


def bar_row(b: Bar, traded_value: int) -> dict[str, str]:
    """One ``output2[]`` row; ``acml_tr_pbmn`` is the value traded up to the bar's end."""
    return {"stck_bsop_date": b.start.strftime("%Y%m%d"),
            "stck_cntg_hour": b.start.strftime("%H%M%S"), "stck_prpr": str(b.close),
            "stck_oprc": str(b.open), "stck_hgpr": str(b.high), "stck_lwpr": str(b.low),
            "cntg_vol": str(b.volume), "acml_tr_pbmn": str(traded_value)}


def isin(symbol: str) -> str:
    """The KRX standard code (ISIN) of a stock short code: KR7 + code + 00 + check digit."""
    body = f"KR7{symbol}00"
    digits = "".join(str(int(c, 36)) for c in body)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d // 10 + d % 10
    return body + str((10 - total % 10) % 10)


def search_info_output(listing: Listing, first_listed: date) -> dict[str, str]:
    """CTPF1604R ``output`` for a domestic stock (PRDT_TYPE_CD 300)."""
    english = f"SIM {listing.symbol}"
    return {"pdno": listing.symbol, "prdt_type_cd": "300", "std_pdno": isin(listing.symbol),
            "shtn_pdno": listing.symbol, "prdt_sale_stat_cd": "", "prdt_risk_grad_cd": "",
            "prdt_clsf_cd": "101210" if listing.market in ("KOSPI", "KOSDAQ") else "101250",
            "sale_strt_dt": "", "sale_end_dt": "", "wrap_asst_type_cd": "",
            "ivst_prdt_type_cd": "", "frst_erlm_dt": _ymd(first_listed),
            "prdt_name": listing.name, "prdt_name120": listing.name,
            "prdt_abrv_name": listing.name, "prdt_eng_name": english,
            "prdt_eng_name120": english, "prdt_eng_abrv_name": english}
