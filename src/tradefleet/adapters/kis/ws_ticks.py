"""``H0STCNT0``: KRX trade ticks, 46 fields per record, several records per frame in busy
periods (all of them are ticks; reading only the first drops trades).

Field positions from KIS's published list ([OTA] ``examples_llm/domestic_stock/ccnl_krx``;
the same order in python-kis ``KisDomesticRealtimePrice``); checked in tests against frames
recorded from KIS (tests/fixtures/kis/ws)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.kis.ws_frames import DataFrame, FrameError
from tradefleet.adapters.kis.ws_records import split_records, whole

TICK_TR = "H0STCNT0"
TICK_FIELDS: tuple[str, ...] = (
    "MKSC_SHRN_ISCD", "STCK_CNTG_HOUR", "STCK_PRPR", "PRDY_VRSS_SIGN", "PRDY_VRSS",
    "PRDY_CTRT", "WGHN_AVRG_STCK_PRC", "STCK_OPRC", "STCK_HGPR", "STCK_LWPR",
    "ASKP1", "BIDP1", "CNTG_VOL", "ACML_VOL", "ACML_TR_PBMN",
    "SELN_CNTG_CSNU", "SHNU_CNTG_CSNU", "NTBY_CNTG_CSNU", "CTTR", "SELN_CNTG_SMTN",
    "SHNU_CNTG_SMTN", "CCLD_DVSN", "SHNU_RATE", "PRDY_VOL_VRSS_ACML_VOL_RATE", "OPRC_HOUR",
    "OPRC_VRSS_PRPR_SIGN", "OPRC_VRSS_PRPR", "HGPR_HOUR", "HGPR_VRSS_PRPR_SIGN",
    "HGPR_VRSS_PRPR", "LWPR_HOUR", "LWPR_VRSS_PRPR_SIGN", "LWPR_VRSS_PRPR", "BSOP_DATE",
    "NEW_MKOP_CLS_CODE", "TRHT_YN", "ASKP_RSQN1", "BIDP_RSQN1", "TOTAL_ASKP_RSQN",
    "TOTAL_BIDP_RSQN", "VOL_TNRT", "PRDY_SMNS_HOUR_ACML_VOL", "PRDY_SMNS_HOUR_ACML_VOL_RATE",
    "HOUR_CLS_CODE", "MRKT_TRTM_CLS_CODE", "VI_STND_PRC",
)
_I = {name: i for i, name in enumerate(TICK_FIELDS)}


@dataclass(frozen=True, slots=True)
class Tick:
    """One trade on KRX as KIS pushes it. Money is int won."""

    symbol: str
    at: datetime                 # BSOP_DATE + STCK_CNTG_HOUR, Asia/Seoul
    price: int
    change: int                  # vs the previous close, signed
    change_rate: Decimal         # %, signed
    open: int
    high: int
    low: int
    ask: int
    bid: int
    qty: int                     # CNTG_VOL: shares in this trade
    volume: int                  # ACML_VOL: shares today
    traded_value: int            # ACML_TR_PBMN: won today
    halted: bool                 # TRHT_YN


def parse_ticks(frame: DataFrame) -> list[Tick]:
    if frame.tr_id != TICK_TR:
        raise FrameError(f"tr_id: {frame.tr_id!r}, expected {TICK_TR}")
    if frame.encrypted:
        raise FrameError(f"enc: {TICK_TR} frames are plain ('0'), got '1'")
    rows = split_records(TICK_TR, frame.payload, frame.count, min_width=len(TICK_FIELDS))
    return [_tick(n, row) for n, row in enumerate(rows, 1)]


def _tick(n: int, row: list[str]) -> Tick:
    def num(name: str, signed: bool = False) -> int:
        return whole(TICK_TR, n, TICK_FIELDS, row, _I[name], signed=signed)

    symbol = row[_I["MKSC_SHRN_ISCD"]].strip()
    if not symbol:
        raise FrameError(f"{TICK_TR} record {n} field 0 MKSC_SHRN_ISCD: empty")
    day, hms = row[_I["BSOP_DATE"]].strip(), row[_I["STCK_CNTG_HOUR"]].strip()
    try:
        at = datetime.strptime(day + hms, "%Y%m%d%H%M%S").replace(tzinfo=SEOUL)
    except ValueError:
        raise FrameError(f"{TICK_TR} record {n} fields 33 BSOP_DATE/1 STCK_CNTG_HOUR: "
                         f"{day!r}/{hms!r} is not YYYYMMDD/HHMMSS") from None
    rate_raw = row[_I["PRDY_CTRT"]].strip()
    try:
        rate = Decimal(rate_raw)
    except InvalidOperation:
        raise FrameError(f"{TICK_TR} record {n} field 5 PRDY_CTRT: {rate_raw!r} is not a "
                         "number") from None
    return Tick(symbol, at, num("STCK_PRPR"), num("PRDY_VRSS", signed=True), rate,
                num("STCK_OPRC"), num("STCK_HGPR"), num("STCK_LWPR"), num("ASKP1"),
                num("BIDP1"), num("CNTG_VOL"), num("ACML_VOL"), num("ACML_TR_PBMN"),
                row[_I["TRHT_YN"]].strip() == "Y")
