"""A strategy's own exit parameters and filters reach the worker (issue 21, item 4): the
settings' exits are wide (±29.9 %, a trend window the morning cannot fill, no time exit), the
strategy's parameters set a stop-loss and take-profit of 0.01 %, and the worker's own HOLD
polls sell on them. Nothing but the strategy's exits can fire here."""

from __future__ import annotations

import json

from tests.scenarios.harness import build, enter, liquid_symbol, poll_until

STRATEGY = json.dumps({"window": 5, "stop_loss_pct": "0.01", "take_profit_pct": "0.01",
                       "min_traded_value": 0})


async def test_the_strategys_own_exits_sell_where_the_settings_would_hold(db):
    rig = await build(db, worker_id="w-own-exits", TRADEFLEET_STRATEGY__NAME="volume_surge",
                      TRADEFLEET_STRATEGY__PARAMS=STRATEGY,
                      TRADEFLEET_FILTERS__MIN_TRADED_VALUE="999999999999999")
    symbol = liquid_symbol(rig.market)
    await enter(rig, symbol)
    await poll_until(rig, lambda: rig.cycle.holding is None, max_polls=120)
    pos = await db.pool.fetchrow("SELECT * FROM positions WHERE symbol = $1", symbol)
    assert (pos["status"], pos["qty"]) == ("CLOSED", 0)
    assert pos["exit_reason"] in ("STOP_LOSS", "TAKE_PROFIT")
    assert pos["strategy_name"] == "volume_surge"
    # the strategy's traded-value floor (0) replaced the settings' impossible one: the
    # worker's next scan lets symbols through its filters to the strategy
    await rig.step()
    passed = await db.pool.fetchval(
        "SELECT count(*) FROM candidates WHERE worker_id = 'w-own-exits' AND passed_filters")
    assert passed > 0
