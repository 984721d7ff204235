"""KIS lists a cancel request in daily fills as a row of its own (its own ODNO, ``orgn_odno``
= the order, ``cncl_yn`` Y). Our adapter must never take that row for an order: a lost
placement looked up by symbol/side/qty (``OrderService.lookup``) could otherwise adopt a
cancel of the same size and lose the real order's fills."""

from __future__ import annotations

from datetime import timedelta

from tests.kis_harness import rig

from tradefleet.domain.orders import OrderRequest, OrderType, Side


async def test_find_orders_lists_orders_not_the_cancel_rows_beside_them() -> None:
    async with rig() as r:
        u = r.market.universe
        symbol = next(s for i, s in enumerate(u.symbols) if not u.thin[i])
        q = r.market.quote(symbol)
        since = r.clock.now() - timedelta(minutes=1)
        ack = await r.broker.place_order(OrderRequest("rest", symbol, Side.BUY,
                                                      OrderType.LIMIT, 4, q.lower_limit))
        await r.broker.cancel_order(ack.broker_order_id, ack.broker_branch)
        found = await r.broker.find_orders(r.market.day, symbol, Side.BUY, since)
        assert [(f.broker_order_id, f.qty, f.cancelled_qty) for f in found] == \
            [(ack.broker_order_id, 4, 4)]
        # ... while the exchange does list the cancel: one more row, same symbol, side, qty
        rows = await r.broker._daily_fills(r.market.day, symbol=symbol, side=Side.BUY)
        cancels = [x for x in rows if x["cncl_yn"] == "Y"]
        assert len(rows) == 2 and len(cancels) == 1
        assert cancels[0]["orgn_odno"] == ack.broker_order_id and cancels[0]["ord_qty"] == "4"
        got = await r.broker.get_order(ack.broker_order_id, r.market.day)
        assert got is not None and got.cancelled_qty == 4 and got.remaining_qty == 0
