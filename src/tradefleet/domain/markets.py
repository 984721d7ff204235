"""Which KRX market a symbol trades on. The sell-side taxes differ by market (see
domain/costs.py), so the market travels with every position from entry to close.

KIS tells the market in its stock-info API (search-stock-info, tr_id CTPF1002R, real
accounts only; paper has no such API): ``mket_id_cd`` is the market (STK = 유가증권/KOSPI,
KSQ = KOSDAQ, KNX = KONEX) and ``scty_grp_id_cd`` the security group (ST = 주권, EF = ETF,
EN = ETN, ...). The group decides first: an ETF is listed on the KOSPI market (STK) yet pays
no transaction tax. Sources: KIS open-trading-api, examples_llm/domestic_stock/
search_stock_info and its field list; KRX security-group codes (EN:ETN since 2014-11-17) as
documented in KRX/KOSCOM master-file layouts.
"""

from __future__ import annotations

from enum import StrEnum


class Market(StrEnum):
    KOSPI = "KOSPI"     # 유가증권시장 shares
    KOSDAQ = "KOSDAQ"
    KONEX = "KONEX"
    ETF = "ETF"         # 상장지수펀드, any underlying market
    ETN = "ETN"         # 상장지수증권


_KIS_MARKETS = {"STK": Market.KOSPI, "KSQ": Market.KOSDAQ, "KNX": Market.KONEX}
# Groups taxed as shares of the market they are listed on: 주권, 증권투자회사, 부동산투자회사
# (REITs), 선박투자회사, 사회간접자본투융자회사, 주식예탁증서 (DR), 외국주권.
_SHARE_GROUPS = frozenset({"ST", "MF", "RT", "SC", "IF", "DR", "FS"})
_FUND_GROUPS = {"EF": Market.ETF, "EN": Market.ETN}


def parse_market(value: object) -> Market:
    """A market named in settings or stored in the database ("kosdaq" is fine)."""
    text = str(value).strip().upper()
    try:
        return Market(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a market; one of "
                         f"{', '.join(m.value for m in Market)}") from None


def market_from_kis(mket_id_cd: str, scty_grp_id_cd: str) -> Market:
    """The market of a KIS search-stock-info answer. Anything this worker does not know the
    taxes of (ELW, warrants, foreign ETFs, beneficiary certificates...) is refused: trading
    it with a guessed tax would misstate every PnL figure."""
    group = (scty_grp_id_cd or "").strip().upper()
    if group in _FUND_GROUPS:
        return _FUND_GROUPS[group]
    if group not in _SHARE_GROUPS:
        raise ValueError(f"scty_grp_id_cd: security group {scty_grp_id_cd!r} is not one this "
                         f"worker trades (shares, ETF, ETN)")
    market = _KIS_MARKETS.get((mket_id_cd or "").strip().upper())
    if market is None:
        raise ValueError(f"mket_id_cd: unknown market {mket_id_cd!r} (expected STK, KSQ or "
                         f"KNX)")
    return market
