"""A worker on the simulator's feed, holding a liquid symbol, with its exits on the tick
(shared by the tests of worker/tick_exits.py and worker/tick_cover.py)."""

from __future__ import annotations

import contextlib
from decimal import Decimal

from tests.feed_env import feed_env
from tests.feed_holder_env import holder, listening
from tests.scenarios.harness import build, enter, liquid_symbol

from tradefleet.adapters.telemetry.metrics import WorkerMetrics
from tradefleet.domain.exits import ExitParams
from tradefleet.worker.tick_exits import TickExits

TIGHT, WIDE = Decimal("0.01"), Decimal("29.9")
ANY_MOVE = ExitParams(TIGHT, TIGHT, 120, 0)      # any price but the entry's is an exit
NO_EXIT = ExitParams(WIDE, WIDE, 120, 0)


async def sells(db) -> list:
    return await db.pool.fetch("SELECT * FROM orders WHERE side = 'SELL' ORDER BY order_id")


@contextlib.asynccontextmanager
async def rig_on_feed(db, pg_dsn, *, exits: ExitParams, stale_after_s: float = 2.0):
    """A worker holding a liquid symbol, the account's holder registering what the fleet
    holds (its locks), and the worker's listener."""
    async with feed_env() as env, listening(pg_dsn, stale_after_s=stale_after_s) as listener:
        rig = await build(db, market=env.market, clock=env.clock, exits=exits)
        symbol = liquid_symbol(env.market)
        await enter(rig, symbol)
        h = holder(db, env, "holder-a", None)        # registers what the fleet holds
        modes: list[bool] = []
        metrics = WorkerMetrics()

        def on_mode(live: bool) -> None:
            modes.append(live)
            metrics.set_feed_live(live)

        exits_on_tick = TickExits(rig.cycle, listener, rig.broker, exits, env.clock,
                                  may_trade=rig.worker.lease.valid, on_mode=on_mode)
        exits_on_tick.metrics = metrics
        yield env, rig, symbol, h, listener, exits_on_tick, modes
