"""``H0STCNI0`` (real) / ``H0STCNI9`` (paper): order and fill notices, always encrypted,
registered with the HTS user id as ``tr_key`` (not a symbol).

Fields ([OTA] ``examples_llm/domestic_stock/ccnl_notice``; python-kis
``KisDomesticRealtimeOrderExecution``): KIS sends 26 since 2025 (ORD_COND_PRC, ORD_EXG_GB,
POPUP_YN, FILLER inserted after ACNT_NAME); the older layout had 23 (python-kis 2.1.6 still
expects it: Soju06/python-kis#68). Positions 0-16 are the same in both, and only those are
read here, so both parse. ``CNTG_YN`` 2 is a fill; 1 acknowledges an order, modify, cancel or
rejection, and then positions 9-10 carry the order's quantity and price, not a fill."""

from __future__ import annotations

from dataclasses import dataclass

from tradefleet.adapters.kis.ws_cipher import NoticeCipher
from tradefleet.adapters.kis.ws_frames import DataFrame, FrameError
from tradefleet.adapters.kis.ws_records import split_records, whole
from tradefleet.domain.orders import Side

NOTICE_TRS = {"real": "H0STCNI0", "paper": "H0STCNI9"}
NOTICE_FIELDS: tuple[str, ...] = (
    "CUST_ID", "ACNT_NO", "ODER_NO", "OODER_NO", "SELN_BYOV_CLS", "RCTF_CLS", "ODER_KIND",
    "ODER_COND", "STCK_SHRN_ISCD", "CNTG_QTY", "CNTG_UNPR", "STCK_CNTG_HOUR", "RFUS_YN",
    "CNTG_YN", "ACPT_YN", "BRNC_NO", "ODER_QTY", "ACNT_NAME", "ORD_COND_PRC", "ORD_EXG_GB",
    "POPUP_YN", "FILLER", "CRDT_CLS", "CRDT_LOAN_DATE", "CNTG_ISNM40", "ODER_PRC",
)
LEGACY_NOTICE_FIELDS: tuple[str, ...] = NOTICE_FIELDS[:18] + (
    "CNTG_ISNM", "CRDT_CLS", "CRDT_LOAN_DATE", "CNTG_ISNM40", "ODER_PRC")
READ_WIDTH = 17                          # CUST_ID .. ODER_QTY: all this module reads
_I = {name: i for i, name in enumerate(NOTICE_FIELDS[:READ_WIDTH])}
_SIDES = {"01": Side.SELL, "02": Side.BUY}


@dataclass(frozen=True, slots=True)
class OrderNotice:
    """One notice about one order of the account. Quantities are shares, prices int won."""

    hts_id: str
    account: str                 # ACNT_NO as sent (10 digits); masked in repr
    order_no: str                # ODER_NO (the KIS ODNO)
    original_order_no: str       # OODER_NO (a modify/cancel's original order)
    side: Side
    correction: str              # RCTF_CLS: 0 new, 1 modify, 2 cancel
    order_kind: str              # ODER_KIND (ORD_DVSN code: 00 limit, 01 market, ...)
    symbol: str
    qty: int                     # CNTG_QTY: filled shares (a fill) / ordered (an ack)
    price: int                   # CNTG_UNPR: fill price (a fill) / order price (an ack)
    time_hms: str                # STCK_CNTG_HOUR, HHMMSS KST (the notice carries no date)
    rejected: bool               # RFUS_YN == 1
    is_fill: bool                # CNTG_YN == 2
    acceptance: str              # ACPT_YN: 1 accepted, 2 confirmed, 3 cancelled (IOC/FOK)
    branch: str                  # BRNC_NO
    order_qty: int               # ODER_QTY

    def __repr__(self) -> str:
        kind = "fill" if self.is_fill else "ack"
        return (f"OrderNotice({kind} order_no={self.order_no!r} {self.side.value} "
                f"{self.symbol} qty={self.qty} price={self.price} at={self.time_hms} "
                f"account={self.account[:4]}****)")


def parse_notices(frame: DataFrame, cipher: NoticeCipher) -> list[OrderNotice]:
    if frame.tr_id not in NOTICE_TRS.values():
        raise FrameError(f"tr_id: {frame.tr_id!r}, expected H0STCNI0 or H0STCNI9")
    if not frame.encrypted:
        raise FrameError(f"enc: {frame.tr_id} frames are encrypted ('1'), got '0'")
    plain = cipher.decrypt(frame.payload)
    rows = split_records(frame.tr_id, plain, frame.count, min_width=READ_WIDTH)
    return [_notice(frame.tr_id, n, row) for n, row in enumerate(rows, 1)]


def _notice(tr_id: str, n: int, row: list[str]) -> OrderNotice:
    names = NOTICE_FIELDS

    def text(name: str, *, required: bool = False) -> str:
        value = row[_I[name]].strip()
        if required and not value:
            raise FrameError(f"{tr_id} record {n} field {_I[name]} {name}: empty")
        return value

    def num(name: str, blank: int | None = None) -> int:
        return whole(tr_id, n, names, row, _I[name], blank=blank)

    side_code = text("SELN_BYOV_CLS")
    if side_code not in _SIDES:
        raise FrameError(f"{tr_id} record {n} field 4 SELN_BYOV_CLS: {side_code!r}, "
                         "expected 01 (sell) or 02 (buy)")
    fill_code = text("CNTG_YN")
    if fill_code not in ("1", "2"):
        raise FrameError(f"{tr_id} record {n} field 13 CNTG_YN: {fill_code!r}, expected "
                         "1 (order notice) or 2 (fill)")
    hms = text("STCK_CNTG_HOUR")
    if not (len(hms) == 6 and hms.isdigit()):
        raise FrameError(f"{tr_id} record {n} field 11 STCK_CNTG_HOUR: {hms!r} is not "
                         "HHMMSS")
    is_fill = fill_code == "2"
    qty = num("CNTG_QTY")
    if is_fill and qty <= 0:
        raise FrameError(f"{tr_id} record {n} field 9 CNTG_QTY: a fill of {qty} shares")
    return OrderNotice(
        text("CUST_ID"), text("ACNT_NO"), text("ODER_NO", required=True), text("OODER_NO"),
        _SIDES[side_code], text("RCTF_CLS"), text("ODER_KIND"),
        text("STCK_SHRN_ISCD", required=True), qty, num("CNTG_UNPR", blank=0), hms,
        text("RFUS_YN") == "1", is_fill, text("ACPT_YN"), text("BRNC_NO"),
        num("ODER_QTY", blank=0))
