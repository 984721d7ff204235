"""The worker decides exits on the tick (issue 20): the account's feed holder pushes the held
symbol's trades through PostgreSQL to the worker, whose exit rules judge each one and sell
through the cycle's own order path; tick and poll never both sell; with the feed gone the
worker says so and its poll decides. A worker built by production wiring (the scenario
harness) on the simulator's market, whose real WebSocket feed the holder reads."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

from tests.feed_env import feed_env
from tests.feed_holder_env import running_holder, until
from tests.scenarios.harness import build, enter, liquid_symbol
from tests.tick_rig import ANY_MOVE, NO_EXIT, WIDE, rig_on_feed, sells

from tradefleet.adapters.sim.universe import STEP_SECONDS
from tradefleet.domain.exits import ExitParams
from tradefleet.ports.feed import FeedState, PriceTick
from tradefleet.worker.tick_exits import TickExits


async def test_a_tick_that_crosses_the_stop_sells_without_a_poll(db, pg_dsn):
    async with rig_on_feed(db, pg_dsn, exits=ANY_MOVE) as (env, rig, symbol, h, listener,
                                                          ex, modes):
        entry = rig.cycle.holding.entry_price
        async with running_holder(h):
            task = asyncio.create_task(ex.run())
            try:
                await until(lambda: ex.live and listener.state()[0] is FeedState.LIVE)
                for _ in range(30):                    # no poll: only the tape moves
                    env.clock.advance(STEP_SECONDS)
                    if env.market.quote(symbol).price != entry:
                        break
                await until(lambda: rig.cycle.holding is None)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        rows = await sells(db)
        assert len(rows) == 1 and rows[0]["status"] == "FILLED"
        assert rows[0]["purpose"] == str(ex.sold[0]) in ("STOP_LOSS", "TAKE_PROFIT")
        pos = await db.pool.fetchrow("SELECT * FROM positions WHERE symbol = $1", symbol)
        assert (pos["qty"], pos["status"]) == (0, "CLOSED")
        assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 0
        assert modes[:2] == [False, True]      # polled until the feed was heard, then ticks


async def test_tick_and_poll_never_both_sell_one_position(db, pg_dsn):
    async with rig_on_feed(db, pg_dsn, exits=ANY_MOVE) as (env, rig, symbol, _h, _l,
                                                          ex, _modes):
        held = rig.cycle.holding
        for _ in range(30):
            env.clock.advance(STEP_SECONDS)
            if env.market.quote(symbol).price != held.entry_price:
                break
        tick = PriceTick(symbol, env.market.quote(symbol).price, env.clock.now())
        # two deliveries of the tick and a poll, all at once: each sees the exit
        await asyncio.gather(ex.on_tick(tick), rig.cycle.poll(), ex.on_tick(tick))
        rows = [r for r in await sells(db) if r["symbol"] == symbol]
        assert len(rows) == 1, [(r["purpose"], r["status"]) for r in rows]
        assert rows[0]["status"] == "FILLED"
        pos = await db.pool.fetchrow("SELECT * FROM positions WHERE position_id = $1",
                                     held.position_id)
        assert (pos["qty"], pos["sold_qty"], pos["status"]) == (0, pos["bought_qty"], "CLOSED")
        assert len(ex.sold) <= 1        # the poll may have won the turn first: then it sold
        # (whoever sold, the poll then scanned afresh: what it holds now is a new position)
        assert rig.cycle.holding is None or rig.cycle.holding.position_id != held.position_id


class CountedTurn(asyncio.Lock):
    """The cycle's turn, saying how many are waiting for it (a tick that crossed an exit)."""

    waiting = 0

    async def acquire(self) -> bool:
        self.waiting += 1
        try:
            return await super().acquire()
        finally:
            self.waiting -= 1


async def test_a_tick_that_crosses_an_exit_waits_for_the_polls_turn(db, pg_dsn):
    """Deterministic: while a poll holds the turn, two deliveries of an exit-crossing tick
    wait for it (and write nothing); the poll sells; then both ticks find nothing to sell."""
    async with rig_on_feed(db, pg_dsn, exits=ANY_MOVE) as (env, rig, symbol, _h, _l,
                                                          ex, _modes):
        held = rig.cycle.holding
        for _ in range(30):
            env.clock.advance(STEP_SECONDS)
            if env.market.quote(symbol).price != held.entry_price:
                break
        tick = PriceTick(symbol, env.market.quote(symbol).price, env.clock.now())
        turn = rig.cycle.turn = CountedTurn()
        async with turn:                       # a poll is running
            ticks = [asyncio.create_task(ex.on_tick(tick)) for _ in range(2)]
            await until(lambda: turn.waiting == 2)
            assert await sells(db) == [] and ex.sold == []
            await rig.cycle.hold_poll()        # the poll's own step sells
        assert await asyncio.gather(*ticks) == [None, None]
        rows = [r for r in await sells(db) if r["symbol"] == symbol]
        assert len(rows) == 1 and rows[0]["status"] == "FILLED" and ex.sold == []
        assert rig.cycle.holding is None


async def test_no_decision_on_the_tick_while_the_lease_lapsed(db, pg_dsn):
    async with rig_on_feed(db, pg_dsn, exits=ANY_MOVE) as (env, rig, symbol, _h, _l,
                                                          ex, _modes):
        entry = rig.cycle.holding.entry_price
        rig.worker.lease.revoke()
        price = entry + 1000 if entry > 0 else 1
        assert await ex.on_tick(PriceTick(symbol, int(price), env.clock.now())) is None
        assert await sells(db) == []
        assert rig.cycle.holding is not None


async def test_feed_gone_the_worker_says_so_and_its_poll_decides(db, pg_dsn, logs):
    async with rig_on_feed(db, pg_dsn, exits=NO_EXIT, stale_after_s=0.5) as (
            env, rig, symbol, h, listener, ex, modes):
        task = asyncio.create_task(ex.run())
        try:
            async with running_holder(h):
                await until(lambda: ex.live)
            # the holder is gone: the listener hears no heartbeat, the worker falls back
            await until(lambda: not ex.live, timeout=3.0)
            assert modes == [False, True, False]
            assert b"tradefleet_feed_live 0.0" in ex.metrics.render()
            assert listener.state()[0] is FeedState.STALE
            line = [r for r in logs.records
                    if r.get("event") == "feed not live: exits decided on the poll only"]
            assert line and line[-1]["feed_state"] == "stale"
            # the poll still judges the position: a tight stop now, decided on the poll
            ex._exits = rig.cycle._watch._exits = ANY_MOVE
            entry = rig.cycle.holding.entry_price
            for _ in range(30):
                env.clock.advance(STEP_SECONDS)
                if env.market.quote(symbol).price != entry:
                    break
            await rig.step(0)
            assert rig.cycle.holding is None
            rows = await sells(db)
            assert len(rows) == 1 and ex.sold == []
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_no_sell_on_the_tick_while_an_order_on_the_symbol_is_followed(db, pg_dsn):
    """A sell of the position already written (its outcome being followed): a tick that
    crosses the stop again writes no second sell."""
    async with rig_on_feed(db, pg_dsn, exits=ANY_MOVE) as (env, rig, symbol, _h, _l,
                                                          ex, _modes):
        held = rig.cycle.holding
        await rig.cycle.paths.orders.create_order(
            held.lock, side="SELL", qty=held.qty, order_type="MARKET", limit_price=None,
            purpose="STOP_LOSS")
        price = int(held.entry_price) // 2                   # far through any stop
        assert await ex.on_tick(PriceTick(symbol, price, env.clock.now())) is None
        assert len(await sells(db)) == 1 and ex.sold == []


async def test_liquidation_time_is_the_polls_not_the_ticks(db, pg_dsn):
    async with rig_on_feed(db, pg_dsn, exits=ANY_MOVE) as (env, rig, symbol, _h, _l,
                                                          ex, _modes):
        held = rig.cycle.holding
        env.clock.advance((rig.cycle.liquidation_at - env.clock.now()).total_seconds() + 1)
        price = int(held.entry_price) // 2
        assert await ex.on_tick(PriceTick(symbol, price, env.clock.now())) is None
        assert await sells(db) == [] and rig.cycle.holding is held


async def test_a_tick_below_the_stop_sells_with_no_bar_read_on_its_way(db, pg_dsn):
    """The stop outranks the trend: its tick goes to the wire without reading minute bars
    (here they cannot be read at all)."""
    async with rig_on_feed(db, pg_dsn, exits=ANY_MOVE) as (env, rig, symbol, _h, _l,
                                                          ex, _modes):
        rule = env.market.faults.add("get_minute_bars", "error")
        price = int(rig.cycle.holding.entry_price * Decimal("0.99"))
        assert await ex.on_tick(PriceTick(symbol, price, env.clock.now())) == "STOP_LOSS"
        assert env.market.faults.fired_count(rule) == 0
        rows = await sells(db)
        assert [(r["purpose"], r["status"]) for r in rows] == [("STOP_LOSS", "FILLED")]


async def test_a_tick_heard_during_the_entry_is_judged_as_its_position_is_taken(db, pg_dsn):
    """The account's holder registers a symbol once it is locked, so ticks come while the
    buy is still under way. The worker listens from the entry's lock, keeps the last tick
    heard before its position, and judges it as the position is taken (found in a
    20-worker run: a stop crossed by the first tick after the fill waited ~0.5 s for the
    simulator's next push of the same price)."""
    async with rig_on_feed(db, pg_dsn, exits=ANY_MOVE) as (env, rig, symbol, _h, _l,
                                                          ex, _modes):
        held = rig.cycle.holding
        entry = rig.cycle.paths.entry
        rig.cycle.holding, entry.entering = None, symbol        # the entry under way
        await ex.follow()
        price = int(held.entry_price * Decimal("0.99"))
        assert await ex.on_tick(PriceTick(symbol, price, env.clock.now())) is None
        assert await sells(db) == []                # no position yet: nothing judged
        async with rig.cycle.turn:                  # the poll, between entry and position
            entry.entering = None
            await ex.follow()                       # still listening: the turn is held
            rig.cycle.holding = held
        await ex.follow()                           # the position is taken
        task = asyncio.create_task(ex.run())
        try:
            await until(lambda: rig.cycle.holding is None)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        rows = await sells(db)
        assert [(r["purpose"], r["status"]) for r in rows] == [("STOP_LOSS", "FILLED")]
        assert ex.sold == ["STOP_LOSS"]


async def test_an_entry_says_its_symbol_from_its_lock_until_it_returns(db):
    """What the tick side listens to during an entry: the locked symbol, from the lock
    (asked of the entry gate, which runs right after it) until the entry step returns."""
    async with feed_env() as env:
        rig = await build(db, market=env.market, clock=env.clock, exits=NO_EXIT)
        entry = rig.cycle.paths.entry
        symbol = liquid_symbol(env.market)
        said: list[str | None] = []
        gate = entry._gate

        class SayingGate:
            async def refusal(self, sym, at):  # noqa: ANN001, ANN202
                said.append(entry.entering)
                return await gate.refusal(sym, at)

        entry._gate = SayingGate()
        assert entry.entering is None
        await enter(rig, symbol)
        assert said == [symbol]
        assert entry.entering is None


class HeldBarReads:
    """The broker, its minute-bar reads counted and held until ``opened`` is set (a read
    waiting for a place in the account's budget)."""

    def __init__(self, inner) -> None:  # noqa: ANN001
        self._inner = inner
        self.opened = asyncio.Event()
        self.reads = 0

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._inner, name)

    async def get_minute_bars(self, symbol: str, count: int):  # noqa: ANN201
        self.reads += 1
        await self.opened.wait()
        return await self._inner.get_minute_bars(symbol, count)


STOP_ONLY = ExitParams(Decimal("1"), WIDE, 120, 0)      # a 1 % stop; no take-profit in reach


@contextlib.asynccontextmanager
async def exits_on_held_bars(db, pg_dsn):  # noqa: ANN001, ANN201
    """A held position's ``TickExits`` running on bar reads held until ``bars.opened``;
    yields (rig, exits, bars, tick) where ``tick(price)`` is a tick of the held symbol now."""
    async with rig_on_feed(db, pg_dsn, exits=STOP_ONLY) as (env, rig, symbol, _h, listener,
                                                           _ex, _modes):
        bars = HeldBarReads(rig.broker)
        exits = TickExits(rig.cycle, listener, bars, STOP_ONLY, env.clock,
                          may_trade=rig.worker.lease.valid)
        now = env.clock.now()
        task = asyncio.create_task(exits.run())
        try:
            yield rig, exits, bars, lambda price: PriceTick(symbol, price, now)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_a_stop_crossed_while_a_bar_read_waits_sells_without_it(db, pg_dsn):
    """A tick the price alone does not decide waits for its minute's bars, read by REST
    (which waits for a place in the account's budget: up to 3 s at 20 workers). A tick that
    crosses the stop meanwhile sells at once, the read still held (found in a 20-worker run:
    a stop waited 2.1 s in the queue behind the first bar read of a new position)."""
    async with exits_on_held_bars(db, pg_dsn) as (rig, exits, bars, tick):
        held = rig.cycle.holding
        exits.heard(tick(round(held.entry_price)))                  # needs the trend
        await until(lambda: bars.reads == 1)
        exits.heard(tick(int(held.entry_price * Decimal("0.98"))))
        await until(lambda: rig.cycle.holding is None)
        assert not bars.opened.is_set() and bars.reads == 1     # the read still held
        rows = await sells(db)
        assert [(r["purpose"], r["status"]) for r in rows] == [("STOP_LOSS", "FILLED")]
        assert exits.sold == ["STOP_LOSS"]


async def test_ticks_that_give_way_to_newer_ones_share_one_bar_read(db, pg_dsn):
    """Ticks of one minute that gave way while its bars were read start no read of their
    own: once the read answers, the newest is judged on it (no exit here) and the read is
    the minute's one."""
    async with exits_on_held_bars(db, pg_dsn) as (rig, exits, bars, tick):
        held = rig.cycle.holding
        for _ in range(3):
            exits.heard(tick(round(held.entry_price)))
        await until(lambda: exits._ticks.empty() and bars.reads >= 1)
        bars.opened.set()                       # the read answers: the newest tick judged
        await until(lambda: exits._ma is not None)
        exits.heard(tick(round(held.entry_price)))
        await until(lambda: exits._ticks.empty())
        assert bars.reads == 1
        assert await sells(db) == [] and rig.cycle.holding is held
