"""The replay's kept scans (``replay.deferred_candidates``): a scan's candidate rows stay in
memory until a statement on the day's held connections names ``candidates``, a block of
statements begins, or the day ends; then the scans kept are stored by one statement, in
the order kept, each column as the scan's own insert stores it and ``scanned_at`` the time
it was scanned (on the database's clock). A replayed day stores the same candidate rows
and trade notes with and without them."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, time, timedelta

from tests.test_candidate_store import COLUMNS, DAY, ROWS, _register
from tests.test_held_connections import close_unless_held
from tests.test_replay_runner import DAY as SIM_DAY
from tests.test_replay_runner import SEED, SYMBOLS, _env, _fresh_db

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.postgres.candidate_store import PostgresCandidateStore
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.replay.deferred_candidates import DeferredCandidates
from tradefleet.replay.deferred_events import DeferredEvents
from tradefleet.replay.held_connections import HeldConnections
from tradefleet.replay.runner import run_fleet_day
from tradefleet.settings import load_settings

# two scans of different workers, days and strategies: no column of one leaks into another
SCANS = [dict(worker_id="w-1", trading_day=DAY, strategy_name="ma_breakout",
              strategy_version="1.0.0", param_version="p-7", rows=ROWS),
         dict(worker_id="w-2", trading_day=DAY + timedelta(days=1), strategy_name="other",
              strategy_version="2", param_version="p-8", rows=ROWS[::-1])]


async def _stored(db: Database, scan_ids: list[uuid.UUID]) -> list[list[dict]]:
    """Each scan's rows (every column as text too) in id order; the ids in order."""
    rows = await db.pool.fetch(
        f"SELECT candidate_id, scan_id, {COLUMNS} FROM candidates WHERE scan_id = ANY($1) "
        "ORDER BY candidate_id", scan_ids)
    assert [r["scan_id"] for r in rows] == sorted(
        (r["scan_id"] for r in rows), key=scan_ids.index)            # scans in kept order
    return [[{k: v for k, v in dict(r).items() if k not in ("candidate_id", "scan_id")}
             for r in rows if r["scan_id"] == s] for s in scan_ids]


def _kept(db: Database) -> tuple[HeldConnections, DeferredCandidates, PostgresCandidateStore]:
    held = HeldConnections(db.pool)
    kept = DeferredCandidates()
    held.deferred = [DeferredEvents(), kept]            # as the runner has them: events first
    store = PostgresCandidateStore(Database(held))
    kept.watch(store)
    return held, kept, store


async def test_kept_scans_are_stored_in_one_statement_as_their_own_inserts_store_them(
        pg_server_uri) -> None:  # noqa: ANN001
    db = await _fresh_db(pg_server_uri)
    held, kept, store = _kept(db)
    try:
        for worker in ("w-1", "w-2"):
            await _register(db, worker)
        theirs = [uuid.uuid4() for _ in SCANS]
        for scan_id, scan in zip(theirs, SCANS, strict=True):       # each its own insert
            await PostgresCandidateStore(db).save_scan(scan_id=scan_id, **scan)
        ours = [uuid.uuid4() for _ in SCANS]
        for scan_id, scan in zip(ours, SCANS, strict=True):
            assert await store.save_scan(scan_id=scan_id, **scan) == len(ROWS)
        assert len(kept.pending) == 2 and kept.statements == 0
        assert await held.fetchval("SELECT count(*) FROM candidates") == 4 * len(ROWS)
        assert kept.pending == [] and kept.statements == 1 and kept.stored == 2
        expected, got = await _stored(db, theirs), await _stored(db, ours)
        assert [[r["symbol"] for r in scan] for scan in got] == [
            [r.symbol for r in scan["rows"]] for scan in SCANS]       # rows in their order
        assert got == expected
        await held.release_all()
    finally:
        await close_unless_held(db)


async def test_kept_scans_wait_for_a_statement_naming_candidates_a_block_or_the_day_end(
        pg_server_uri) -> None:  # noqa: ANN001
    db = await _fresh_db(pg_server_uri)
    held, kept, store = _kept(db)
    count = "SELECT count(*) FROM candidates"
    try:
        await _register(db, "w-1")
        assert await store.save_scan(scan_id=uuid.uuid4(), **{**SCANS[0], "rows": []}) == 0
        assert kept.pending == []                                     # an empty scan: none
        await store.save_scan(scan_id=uuid.uuid4(), **SCANS[0])
        await held.fetchval("SELECT count(*) FROM workers")           # cannot see them
        assert len(kept.pending) == 1 and await db.pool.fetchval(count) == 0
        assert await held.fetchval(count) == len(ROWS)                # names them

        await store.save_scan(scan_id=uuid.uuid4(), **SCANS[0])
        async with held.acquire() as conn:                            # a block: stored first
            assert kept.pending == []
            assert await conn.fetchval(count) == 2 * len(ROWS)
        await store.save_scan(scan_id=uuid.uuid4(), **SCANS[0])
        await held.execute("SELECT 1")
        assert len(kept.pending) == 1
        await held.flush()                                            # the day's end
        assert kept.pending == [] and await db.pool.fetchval(count) == 3 * len(ROWS)
        assert kept.statements == 3
        await held.release_all()
    finally:
        await close_unless_held(db)


async def test_a_kept_scan_is_stamped_with_the_time_it_was_scanned(pg_server_uri
                                                                  ) -> None:  # noqa: ANN001
    """Kept across statements that cannot see it and stored half a second and more later,
    a scan's ``scanned_at`` is still when it was scanned (the database's clock), not when
    it was stored; two scans keep their own times; a block after a scan (a fill's
    transaction, whose ``now()`` is a position's ``entry_at``) is later than its scan."""
    db = await _fresh_db(pg_server_uri)
    held, kept, store = _kept(db)
    clock = "SELECT clock_timestamp()"
    try:
        await _register(db, "w-1")
        ids = [uuid.uuid4() for _ in range(3)]
        before = await db.pool.fetchval(clock)
        await store.save_scan(scan_id=ids[0], **SCANS[0])
        await asyncio.sleep(0.5)
        between = await db.pool.fetchval(clock)
        await asyncio.sleep(0.5)
        await store.save_scan(scan_id=ids[1], **SCANS[0])
        await held.execute("SELECT 1")                                # cannot see them
        await asyncio.sleep(0.5)
        scanned = await db.pool.fetchval(clock)
        await asyncio.sleep(0.5)
        assert len(kept.pending) == 2
        await held.flush()
        await store.save_scan(scan_id=ids[2], **SCANS[0])
        async with held.acquire() as conn:
            entry_at = await conn.fetchval("SELECT now()")
        stamps = {r["scan_id"]: r["scanned_at"] for r in await db.pool.fetch(
            "SELECT DISTINCT scan_id, scanned_at FROM candidates")}
        assert len(stamps) == 3                                       # one stamp a scan
        assert before <= stamps[ids[0]] < between < stamps[ids[1]] < scanned
        assert scanned < stamps[ids[2]] <= entry_at
        await held.release_all()
    finally:
        await close_unless_held(db)


async def _day(server: str, kept: bool) -> tuple[list, list, list, int]:
    """A simulated day polled from 13:40 to its close at 14:40 by one worker (the
    candidate rows, scans numbered in order; the trade notes; the trades; scans kept)."""
    db = await _fresh_db(server)
    try:
        clock = FrozenClock(datetime.combine(SIM_DAY, time(13, 40), tzinfo=SEOUL))
        market = SimMarket(SEED, n_symbols=SYMBOLS, clock=clock, session_close=time(14, 40))
        run = await run_fleet_day(market, clock, db, [load_settings(None, _env())],
                                  kept_scans=kept)
        rows = await db.pool.fetch(
            "SELECT dense_rank() OVER (ORDER BY first) AS scan, c.*, "
            "       c.change_rate::text AS change_rate_text, c.indicators::text AS ind_text "
            "  FROM candidates c JOIN (SELECT scan_id, min(candidate_id) AS first "
            "                          FROM candidates GROUP BY scan_id) f USING (scan_id) "
            " ORDER BY candidate_id")
        candidates = [{k: v for k, v in dict(r).items() if k not in ("scan_id", "scanned_at")}
                      for r in rows]
        notes = [(r["worker_id"], r["key"], r["item"]) for r in await db.pool.fetch(
            "SELECT worker_id, key, item::text AS item FROM daily_tuning_notes "
            "ORDER BY note_id")]
        return candidates, notes, run.trades, run.scans_kept
    finally:
        await db.close()


async def test_a_replayed_day_stores_the_rows_and_trade_notes_it_stored_unkept(
        pg_server_uri) -> None:  # noqa: ANN001
    """The same candidate rows (ids, scans, every column), trade notes (each closed trade's
    entry scan, read by ``scanned_at`` against ``entry_at``) and trades, with every other
    shortcut of the replay on."""
    unkept, kept = [await _day(pg_server_uri, k) for k in (False, True)]
    assert unkept[3] == 0 and kept[3] > 0
    assert kept[0] and any('"entry_scan": {' in item for _, _, item in kept[1])
    assert kept[:3] == unkept[:3]
