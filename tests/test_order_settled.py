"""A pushed fill ends its sender's tracking at once (services/order_settled.py, issue 20):
the worker that sent an order follows it by REST lookups, and while a lookup waits (here the
simulator's order reads take a minute), the push records the fill and wakes the tracker,
which returns the final row from the database. Judged by the exchange's books."""

from __future__ import annotations

import asyncio

from tests.feed_holder_env import until
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


async def test_a_notice_before_our_answer_is_recorded_as_the_answer_is_written(db, pg_dsn):
    """KIS may push a fill before the order's answer reaches us: the notice is not ours yet.
    It is looked at again the moment this process writes an answer, not a timer later
    (here the only timer is half a minute)."""
    late_answer, timer = 5.0, 30.0
    async with rig_hearing_fills(db, pg_dsn, not_ours_retry_s=(timer,)) as (
            env, rig, recorder, heard):
        symbol = small_symbol(env)
        row = await written_order(rig, symbol, qty=sweeping_qty(env, symbol))
        env.market.faults.add("place_order", "hang_after_accept", delay=late_answer, count=1)
        sending = asyncio.create_task(rig.cycle.paths.orders.send_order(row))
        await until(lambda: len(heard) >= 1, timeout=late_answer - 1)    # the push first
        assert recorder.outcomes == {}                  # not ours yet: no answer written
        sent = await sending
        await until(lambda: recorder.outcomes.get("recorded", 0) == 3, timeout=timer / 3)
        await booked(db, env, row.order_id, sent.broker_order_id)
