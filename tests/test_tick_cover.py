"""The HOLD poll judges on the feed's last judged tick (worker/tick_cover.py, issue 20): while
that tick is fresh, of the held symbol and of the current minute, the poll makes no REST read
(the simulator's quote and bar reads are set to fail, and must not be asked); otherwise it
reads by REST as before. A worker built by production wiring on the simulator's market."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from tests.feed_holder_env import running_holder, until
from tests.tick_rig import NO_EXIT, rig_on_feed, sells

from tradefleet.adapters.sim.universe import STEP_SECONDS
from tradefleet.domain.exits import ExitParams
from tradefleet.ports.feed import PriceTick
from tradefleet.worker.tick_cover import FRESH_S, TickCover

STOP_5 = ExitParams(Decimal("5"), Decimal("29.9"), 120, 0)   # a stop the quote does not cross


class Monotonic:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def reads_failing(market) -> list[int]:
    """Every quote and bar read by REST now fails; the rules' ids, to count what was asked."""
    return [market.faults.add("get_quotes", "error"),
            market.faults.add("get_minute_bars", "error")]


def asked(market, rules: list[int]) -> int:
    return sum(market.faults.fired_count(r) for r in rules)


async def monitored_prices(db) -> list[int]:
    return [r["price"] for r in await db.pool.fetch(
        "SELECT (payload->>'price')::bigint AS price FROM events "
        "WHERE event_type = 'MonitoringEvent' ORDER BY event_id")]


def below_the_stop(rig) -> int:
    return int(rig.cycle.holding.entry_price * Decimal("0.9"))


async def test_a_fresh_tick_below_the_stop_sells_on_the_poll_with_no_rest_read(db, pg_dsn):
    async with rig_on_feed(db, pg_dsn, exits=STOP_5) as (env, rig, symbol, *_):
        cover = rig.cycle.watch.ticks = TickCover(monotonic=Monotonic())
        cover.judged(symbol, below_the_stop(rig), None, env.clock.now())
        rules = reads_failing(env.market)
        await rig.cycle.poll()
        assert asked(env.market, rules) == 0
        rows = [r for r in await sells(db) if r["symbol"] == symbol]
        assert [(r["purpose"], r["status"]) for r in rows] == [("STOP_LOSS", "FILLED")]
        assert rig.cycle.holding is None


async def test_a_fresh_tick_that_crosses_nothing_is_monitored_with_no_rest_read(db, pg_dsn):
    async with rig_on_feed(db, pg_dsn, exits=STOP_5) as (env, rig, symbol, *_):
        cover = rig.cycle.watch.ticks = TickCover(monotonic=Monotonic())
        price = int(rig.cycle.holding.entry_price) + 7
        cover.judged(symbol, price, None, env.clock.now())
        rules = reads_failing(env.market)
        await rig.cycle.poll()
        assert asked(env.market, rules) == 0
        assert (await monitored_prices(db))[-1] == price
        assert await sells(db) == [] and rig.cycle.holding is not None


async def test_a_tick_older_than_the_bound_leaves_the_poll_to_rest(db, pg_dsn):
    async with rig_on_feed(db, pg_dsn, exits=STOP_5) as (env, rig, symbol, *_):
        real = Monotonic()
        cover = rig.cycle.watch.ticks = TickCover(monotonic=real)
        cover.judged(symbol, below_the_stop(rig), None, env.clock.now())
        real.now += FRESH_S + 0.01
        await rig.cycle.poll()        # the REST quote, near the entry: no stop
        assert await sells(db) == [] and rig.cycle.holding is not None
        assert (await monitored_prices(db))[-1] == env.market.quote(symbol).price


async def test_a_tick_of_an_earlier_minute_leaves_the_poll_to_rest(db, pg_dsn):
    async with rig_on_feed(db, pg_dsn, exits=STOP_5) as (env, rig, symbol, *_):
        cover = rig.cycle.watch.ticks = TickCover(monotonic=Monotonic())
        cover.judged(symbol, below_the_stop(rig), None,
                     env.clock.now() - timedelta(minutes=1))
        await rig.cycle.poll()
        assert await sells(db) == [] and rig.cycle.holding is not None
        assert (await monitored_prices(db))[-1] == env.market.quote(symbol).price


async def test_a_tick_of_another_symbol_leaves_the_poll_to_rest(db, pg_dsn):
    async with rig_on_feed(db, pg_dsn, exits=STOP_5) as (env, rig, symbol, *_):
        cover = rig.cycle.watch.ticks = TickCover(monotonic=Monotonic())
        other = next(s for s in env.market.symbols() if s != symbol)
        cover.judged(other, 1, None, env.clock.now())
        rules = reads_failing(env.market)
        await rig.cycle.poll()
        assert asked(env.market, rules) >= 1


async def test_the_feed_going_off_takes_the_tick_back_from_the_poll(db, pg_dsn):
    async with rig_on_feed(db, pg_dsn, exits=STOP_5) as (env, rig, symbol, _h, _l,
                                                         ex, _modes):
        cover = rig.cycle.watch.ticks = TickCover(monotonic=Monotonic())
        cover.judged(symbol, below_the_stop(rig), None, env.clock.now())
        await ex.follow()                  # no holder: the feed is not live
        assert not ex.live
        await rig.cycle.poll()
        assert await sells(db) == [] and rig.cycle.holding is not None
        assert (await monitored_prices(db))[-1] == env.market.quote(symbol).price


async def test_ticks_judged_on_the_live_feed_are_lent_to_the_poll(db, pg_dsn):
    async with rig_on_feed(db, pg_dsn, exits=NO_EXIT) as (env, rig, symbol, h, _l,
                                                         ex, _modes):
        cover = rig.cycle.watch.ticks
        async with running_holder(h):
            task = asyncio.create_task(ex.run())
            try:
                await until(lambda: ex.live)
                decided = ex.decided
                env.clock.advance(STEP_SECONDS)            # the tape moves: ticks pushed
                await until(lambda: ex.decided > decided
                            and cover.fresh(symbol, env.clock.now()) is not None)
                heard = cover.fresh(symbol, env.clock.now())
                rules = reads_failing(env.market)
                await rig.cycle.poll()
                assert asked(env.market, rules) == 0
                assert (await monitored_prices(db))[-1] == heard.price
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        assert await sells(db) == [] and rig.cycle.holding is not None


async def test_a_tick_judged_while_the_feed_is_not_live_is_not_lent(db, pg_dsn):
    async with rig_on_feed(db, pg_dsn, exits=NO_EXIT) as (env, rig, symbol, _h, _l,
                                                         ex, _modes):
        await ex.follow()                  # no holder: not live
        price = int(rig.cycle.holding.entry_price)
        assert await ex.on_tick(PriceTick(symbol, price, env.clock.now())) is None
        assert ex.decided == 1
        assert rig.cycle.watch.ticks.fresh(symbol, env.clock.now()) is None


async def test_a_tick_judged_without_its_bars_is_not_lent(db, pg_dsn):
    async with rig_on_feed(db, pg_dsn, exits=NO_EXIT) as (env, rig, symbol, h, _l,
                                                         ex, _modes):
        async with running_holder(h):
            task = asyncio.create_task(ex.run())
            try:
                await until(lambda: ex.live)
                rule = env.market.faults.add("get_minute_bars", "error")
                env.clock.advance(60)              # a new minute: its average unread
                price = int(rig.cycle.holding.entry_price)
                assert await ex.on_tick(PriceTick(symbol, price, env.clock.now())) is None
                assert env.market.faults.fired_count(rule) >= 1
                assert rig.cycle.watch.ticks.fresh(symbol, env.clock.now()) is None
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
