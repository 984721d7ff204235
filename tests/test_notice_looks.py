"""A pushed fill notice reaches every worker of the account, and each looks whether it is of
one of its own orders (issue 20, fill-to-record at 20 workers). A notice judged not ours is
looked at again only while a send of this process still awaits its answer (its number may be
the notice's once written); with none awaited the first look is final. Counted looks, no
timing: the retry timers here are a hundredth of a second, so a recorder that looked again
regardless would look four times."""

from __future__ import annotations

from tests.test_feed_fill_notices import rig_hearing_fills, small_symbol

from tradefleet.ports.feed import FillNotice


async def test_a_notice_not_ours_is_looked_at_once_when_no_answer_of_ours_is_awaited(
        db, pg_dsn):
    async with rig_hearing_fills(db, pg_dsn, not_ours_retry_s=(0.01, 0.01, 0.01)) as (
            env, rig, recorder, _heard):
        symbol = small_symbol(env)
        assert not rig.cycle.paths.orders.answers_pending()
        persons = FillNotice("0000099999", symbol, "BUY", 3, env.market.quote(symbol).ask,
                             "100000")
        assert await recorder.record(persons) == "not ours"
        assert recorder.looks == 1
        assert await db.pool.fetchval("SELECT count(*) FROM fill_notices") == 0
