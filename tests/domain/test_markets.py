"""A symbol's market from the KIS stock-info codes, and market names from settings."""

from __future__ import annotations

import pytest

from tradefleet.domain.markets import Market, market_from_kis, parse_market


@pytest.mark.parametrize(("mket_id_cd", "scty_grp_id_cd", "market"), [
    ("STK", "ST", Market.KOSPI),        # SK hynix in KIS's own example answer
    ("KSQ", "ST", Market.KOSDAQ),
    ("KNX", "ST", Market.KONEX),
    ("STK", "RT", Market.KOSPI),        # a REIT: shares, taxed as its market's
    ("STK", "EF", Market.ETF),          # ETFs are listed on the KOSPI market yet tax-exempt
    ("STK", "EN", Market.ETN),
    (" ksq ", " st ", Market.KOSDAQ),   # KIS pads fields
])
def test_kis_codes_give_the_market(mket_id_cd, scty_grp_id_cd, market):
    assert market_from_kis(mket_id_cd, scty_grp_id_cd) is market


@pytest.mark.parametrize(("mket_id_cd", "scty_grp_id_cd", "field"), [
    ("STK", "EW", "scty_grp_id_cd"),    # ELW: taxes unknown to this worker
    ("STK", "FE", "scty_grp_id_cd"),    # a foreign ETF
    ("STK", "", "scty_grp_id_cd"),
    ("NXT", "ST", "mket_id_cd"),
    ("", "ST", "mket_id_cd"),
])
def test_unknown_codes_are_refused_naming_the_field(mket_id_cd, scty_grp_id_cd, field):
    with pytest.raises(ValueError, match=field):
        market_from_kis(mket_id_cd, scty_grp_id_cd)


def test_market_names():
    assert parse_market("kosdaq") is Market.KOSDAQ and parse_market(" ETF ") is Market.ETF
    with pytest.raises(ValueError, match="KOSPI, KOSDAQ, KONEX, ETF, ETN"):
        parse_market("NASDAQ")
