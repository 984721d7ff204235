"""SC-010: two workers poll at the same moment, see the same ranking and race for the same
best symbol: the database lets exactly one hold it; the other is refused, says so, and buys
the next candidate. No symbol is bought twice.

검증: one stock_locks row for the symbol (the winner's), winner's log (lock acquired, buy),
loser's log (lock refused, next candidate), LockAcquiredEvent (winner) and
LockRejectedEvent (loser)."""

from __future__ import annotations

import asyncio

from tests.scenarios.evidence import events, lines, one_line
from tests.scenarios.harness import POLL_S, build

from tradefleet.domain.orders import Side


async def test_two_workers_racing_for_one_symbol_one_wins_the_other_moves_on(db, logs):
    a = await build(db, worker_id="w-ra")
    b = await build(db, worker_id="w-rb", market=a.market, clock=a.clock)
    for _ in range(50):                              # both poll at each moment, concurrently
        a.clock.advance(POLL_S)
        await asyncio.gather(a.cycle.poll(), b.cycle.poll())
        if await events(db, "LockRejectedEvent"):
            break
    [rejected] = await events(db, "LockRejectedEvent")
    contested = rejected["symbol"]
    loser = rejected["worker_id"]
    [winner] = {"w-ra", "w-rb"} - {loser}
    # the holder is named even when the refusing statement's snapshot predates the winner's
    # commit (a true race): in the stored event and in the refused worker's log line
    assert rejected["held_by"] == winner
    by_id = {"w-ra": a, "w-rb": b}
    scans = {w: (await events(db, "CandidateScannedEvent", worker_id=w))[-1]["candidates"]
             for w in by_id}
    assert scans[winner] == scans[loser] and scans[winner][0] == contested

    rows = await db.pool.fetch("SELECT worker_id FROM stock_locks WHERE symbol = $1", contested)
    assert [r["worker_id"] for r in rows] == [winner]
    # the winner bought the contested symbol; the loser bought the next one, nobody both
    assert by_id[winner].cycle.holding.lock.symbol == contested
    assert by_id[loser].cycle.holding.lock.symbol == scans[loser][1]
    buys = await db.pool.fetch("SELECT worker_id, symbol FROM orders WHERE side = 'BUY'")
    assert sorted((r["worker_id"], r["symbol"]) for r in buys) == sorted(
        [(winner, contested), (loser, scans[loser][1])])
    assert len(a.market.find(contested, Side.BUY, a.clock.now().replace(hour=0))) == 1

    acquired = await events(db, "LockAcquiredEvent", symbol=contested)
    assert [e["worker_id"] for e in acquired] == [winner]
    w_lock = one_line(logs, event_type="LockAcquiredEvent", worker_id=winner)
    w_sent = one_line(logs, event_type="OrderSentEvent", worker_id=winner)
    assert (w_lock["level"], w_lock["symbol"]) == ("info", contested)
    assert (w_sent["level"], w_sent["symbol"], w_sent["side"]) == ("info", contested, "BUY")
    l_refused = one_line(logs, event_type="LockRejectedEvent", worker_id=loser)
    [l_next] = lines(logs, event="lock held by another worker; trying next candidate",
                     worker_id=loser)
    l_lock = one_line(logs, event_type="LockAcquiredEvent", worker_id=loser)
    assert (l_refused["level"], l_refused["symbol"]) == ("warning", contested)
    assert l_refused["held_by"] == winner
    assert (l_next["level"], l_next["symbol"]) == ("warning", contested)
    assert l_lock["symbol"] == scans[loser][1]
