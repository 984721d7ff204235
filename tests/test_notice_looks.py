"""A pushed fill notice reaches every worker of the account, and each looks whether it is of
one of its own orders (issue 20, fill-to-record at 20 workers). A notice judged not ours is
looked at again only while a send of this process still awaits its answer (its number may be
the notice's once written); with none awaited the first look is final. Counted looks, no
timing: the retry timers here are a hundredth of a second, so a recorder that looked again
regardless would look four times."""

from __future__ import annotations

import asyncio

from tests.test_feed_fill_notices import rig_hearing_fills, small_symbol

from tradefleet.ports.feed import FillNotice
from tradefleet.services.order_answers import OrderAnswers


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


async def test_an_answer_written_while_a_notice_was_looked_at_is_not_waited_for_again():
    """The look that judged a notice not ours may have started before our answer was
    written: the answer counted before the look lets it look again at once, not after the
    retry timer (no event loop turn passes here, let alone the half minute)."""
    answers = OrderAnswers(send_window_s=10.0)
    seen = answers.written
    answers.answer_written()                       # while the notice was being looked at
    waiting = asyncio.get_running_loop().create_task(answers.next_answer(30.0, since=seen))
    for _ in range(3):
        await asyncio.sleep(0)
    assert waiting.done()
    quiet = asyncio.get_running_loop().create_task(
        answers.next_answer(30.0, since=answers.written))
    for _ in range(3):
        await asyncio.sleep(0)
    assert not quiet.done()                        # none since: it waits for the next one
    answers.answer_written()
    await quiet
