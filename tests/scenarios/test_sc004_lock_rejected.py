"""SC-004: the worker's scan ranks first a symbol another worker already holds; its entry
is refused that lock and goes on to the next candidate of the same scan.

검증: stock_locks row of that symbol unchanged (same worker, token, locked_at),
LockRejectedEvent, log lines (lock rejected, WARN; trying the next candidate)."""

from __future__ import annotations

from tests.scenarios.evidence import events, lines, one_line, worker_row
from tests.scenarios.harness import build, poll_until_holding


async def test_symbol_held_by_another_worker_is_refused_and_the_next_candidate_bought(db, logs):
    a = await build(db, worker_id="w-a")
    b = await build(db, worker_id="w-b", market=a.market, clock=a.clock)
    held = await poll_until_holding(a)               # worker A's own scan and entry
    [a_scan] = (await events(db, "CandidateScannedEvent", worker_id="w-a"))[-1:]
    assert a_scan["candidates"][0] == held           # A took its best candidate
    before = dict(await db.pool.fetchrow("SELECT * FROM stock_locks WHERE symbol = $1", held))

    await b.cycle.poll()                             # B polls at the same moment

    [b_scan] = await events(db, "CandidateScannedEvent", worker_id="w-b")
    assert b_scan["candidates"] == a_scan["candidates"]      # the same tape, the same ranking
    after = dict(await db.pool.fetchrow("SELECT * FROM stock_locks WHERE symbol = $1", held))
    assert after == before                           # no new lock, A's untouched
    assert await db.pool.fetchval(
        "SELECT count(*) FROM stock_locks WHERE symbol = $1", held) == 1
    [rejected] = await events(db, "LockRejectedEvent")
    assert (rejected["worker_id"], rejected["symbol"], rejected["held_by"]) == \
        ("w-b", held, "w-a")
    assert await db.pool.fetchval(
        "SELECT count(*) FROM orders WHERE worker_id = 'w-b' AND symbol = $1", held) == 0
    # B went on to the next candidate of the same scan and bought it
    assert b.cycle.holding is not None and b.cycle.holding.position_id != 0
    taken = b.cycle.holding.lock.symbol
    assert taken == b_scan["candidates"][1]
    row = await worker_row(db, "w-b")
    assert (row["status"], row["current_symbol"]) == ("HOLD", taken)

    line = one_line(logs, event_type="LockRejectedEvent", worker_id="w-b")
    assert line["level"] == "warning" and line["symbol"] == held and line["held_by"] == "w-a"
    assert "trying other symbols" in line["message"]
    [moving_on] = lines(logs, event="lock held by another worker; trying next candidate",
                        worker_id="w-b")
    assert moving_on["level"] == "warning" and moving_on["symbol"] == held
    acquired = one_line(logs, event_type="LockAcquiredEvent", worker_id="w-b")
    assert acquired["symbol"] == taken
    assert logs.records.index(line) < logs.records.index(acquired)
