"""A pushed fill ends its sender's tracking at once (services/order_settled.py, issue 20):
the worker that sent an order follows it by REST lookups, and while a lookup waits (here the
simulator's order reads take a minute), the push records the fill and wakes the tracker,
which returns the final row from the database. Judged by the exchange's books."""

from __future__ import annotations

import asyncio

from tests.scenarios.harness import written_order
from tests.test_feed_fill_notices import (
    booked,
    rig_hearing_fills,
    small_symbol,
    sweeping_qty,
)

from tradefleet.domain.orders import OrderStatus

MINUTE = 60.0


async def test_a_pushed_fill_ends_the_senders_tracking_without_the_brokers_answer(db, pg_dsn):
    async with rig_hearing_fills(db, pg_dsn) as (env, rig, recorder, _heard):
        symbol = small_symbol(env)
        row = await written_order(rig, symbol, qty=sweeping_qty(env, symbol))
        orders = rig.cycle.paths.orders
        slow = [env.market.faults.add(op, "latency", delay=MINUTE)
                for op in ("get_order", "find_orders")]
        sent = await orders.send_order(row)
        tracked = await asyncio.wait_for(orders.track(sent, timeout_s=3 * MINUTE), MINUTE / 4)
        assert tracked.status is OrderStatus.FILLED
        assert recorder.outcomes.get("recorded", 0) >= 1
        assert sum(env.market.faults.fired_count(r) for r in slow) >= 1   # it had asked
        await booked(db, env, row.order_id, sent.broker_order_id)


async def test_without_a_push_the_tracker_still_has_the_brokers_answer(db, pg_dsn):
    """The wake-up is an addition: with the broker's reads quick, tracking ends on its own
    lookup as before, and the row is the same."""
    async with rig_hearing_fills(db, pg_dsn) as (env, rig, _recorder, _heard):
        symbol = small_symbol(env, 1)
        row = await written_order(rig, symbol, qty=sweeping_qty(env, symbol))
        orders = rig.cycle.paths.orders
        sent = await orders.send_order(row)
        tracked = await asyncio.wait_for(orders.track(sent, timeout_s=MINUTE), MINUTE / 4)
        assert tracked.status is OrderStatus.FILLED
        await booked(db, env, row.order_id, sent.broker_order_id)
