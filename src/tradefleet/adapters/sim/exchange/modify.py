"""An order-rvsecncl modify (정정, ``RVSE_CNCL_DVSN_CD`` 01) body read into engine arguments.

KIS fields: ``ORD_DVSN`` is the NEW order's type (00 limit, 01 market; the simulator serves
those two, as order-cash does), ``ORD_UNPR`` its price (ignored for market),
``QTY_ALL_ORD_YN`` Y = the whole unfilled remainder (``ORD_QTY`` ignored, "0" by custom) or
N = ``ORD_QTY`` shares of it. Malformed fields are OPSQ0004, as for order-cash."""

from __future__ import annotations

from dataclasses import dataclass

from tradefleet.domain.orders import OrderType

# paper success answer for a modify: the shape of the paper buy/cancel answers; the code
# itself is the simulator's choice (unverified against the paper server)
PAPER_MODIFIED = ("40620000", "모의투자 정정주문이 완료 되었습니다.")


@dataclass(frozen=True)
class ModifyArgs:
    order_type: OrderType
    price: int | None           # None for a modify to market
    qty: int | None             # None = the whole remainder
    all_qty: bool


def parse_modify(body: dict[str, str], *, paper: bool) -> ModifyArgs:
    """The engine's arguments, or ValueError naming the bad field."""
    dvsn = body.get("ORD_DVSN", "")
    if dvsn not in ("00", "01"):
        raise ValueError(f"ORD_DVSN: simulator supports 00/01, got {dvsn!r}")
    all_yn = body.get("QTY_ALL_ORD_YN", "")
    if all_yn not in ("Y", "N"):
        raise ValueError(f"QTY_ALL_ORD_YN: expected Y or N, got {all_yn!r}")
    qty = int(body.get("ORD_QTY", ""))
    if all_yn == "N" and qty <= 0:
        raise ValueError(f"ORD_QTY: must be > 0 when QTY_ALL_ORD_YN is N, got {qty}")
    price = int(body.get("ORD_UNPR", ""))
    if paper and body.get("EXCG_ID_DVSN_CD", "KRX") != "KRX":
        raise ValueError("EXCG_ID_DVSN_CD: paper accepts KRX only")
    market = dvsn == "01"
    return ModifyArgs(OrderType.MARKET if market else OrderType.LIMIT,
                      None if market else price, None if all_yn == "Y" else qty, all_yn == "Y")
