"""SC-011's tuning notes as rows (migration 0021, issue 21 speed): the same notes give the
same ``tuning`` JSON the summary row's appended list gave before, an upgraded database keeps
its lists, and a retried close notes its trade once. Real PostgreSQL."""

from __future__ import annotations

import json
import random
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from tests.scenarios.harness import build, liquid_symbol

from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.migrate import available_migrations, migrate
from tradefleet.adapters.postgres.report_queries import fetch_daily_report
from tradefleet.adapters.postgres.summary_store import (
    PostgresSummaryStore,
    append_tuning,
    note_trade,
    record_trade,
)
from tradefleet.domain.orders import OrderReport, Side
from tradefleet.domain.pnl import TradePnl
from tradefleet.ports.feed import FillNotice
from tradefleet.ports.trade_store import StrategyTag
from tradefleet.services.lock_service import LockService
from tradefleet.tuning.sc011 import read_tuning_notes

DAY = date(2026, 3, 2)
NEXT_DAY = date(2026, 3, 3)

# The append as it was before migration 0021 (summary_store.append_tuning at 09ccb66): the
# previous behaviour, run here on the column it wrote, to compare the new rows against.
OLD_APPEND = """
INSERT INTO daily_summaries AS d (trading_day, worker_id, tuning)
VALUES ($1, $2, jsonb_build_object($3::text, jsonb_build_array($4::jsonb)))
ON CONFLICT (trading_day, worker_id) DO UPDATE SET
    tuning = jsonb_set(d.tuning, ARRAY[$3::text],
                       coalesce(d.tuning -> $3::text, '[]'::jsonb) || jsonb_build_array($4::jsonb)),
    updated_at = now()"""


async def old_append(conn: Any, day: date, worker_id: str, key: str, item: dict) -> None:
    await conn.execute(OLD_APPEND, day, worker_id, key, json.loads(json.dumps(item, default=str)))


async def _workers(conn: Any, *ids: str) -> None:
    for wid in ids:
        await conn.execute(
            "INSERT INTO workers (worker_id, pid, host, mode, status, lock_ttl_seconds) "
            "VALUES ($1, 1, 'h', 'sim', 'SCAN', 30)", wid)


def _notes(seed: int, n: int) -> list[tuple[str, dict]]:
    """A day's notes in the order they are written: closed trades (the close's path) mixed
    with the services' notes, values of every kind a note holds (Decimal, None, nested)."""
    rnd = random.Random(seed)
    keys = ["trades", "trades", "trades", "adverse_fills", "liquidation_impact",
            "liquidity_shortfall"]
    notes = [("adverse_fills", {"order_id": 1, "symbol": "005930", "side": Side.BUY,
                                "decision_price": 70000, "avg_fill_price": Decimal("70100.00"),
                                "ticks": "1.00"})]      # before any trade: no summary row yet
    for i in range(n):
        notes.append((rnd.choice(keys), {
            "position_id": i, "symbol": f"{rnd.randrange(10**6):06d}",
            "pnl": rnd.randint(-50_000, 50_000), "exit_reason": "STOP_LOSS",
            "ratio": Decimal(rnd.randint(1, 999)) / 7, "note": "한글 ok", "none": None,
            "entry_scan": None if rnd.random() < 0.3 else {
                "passed_filters": ["volume", "spread"], "rejected_by": None,
                "indicators": {"ma": rnd.random() * 1000, "n": rnd.randint(0, 9)},
                "spread_ticks": rnd.randint(1, 3), "traded_value": rnd.randint(0, 10**12)}}))
    return notes


async def _write_old(db: Database, worker_id: str, day: date, notes: list) -> None:
    for key, item in notes:
        if key == "trades":
            async with db.transaction() as conn:
                await record_trade(conn, trading_day=day, worker_id=worker_id,
                                   pnl=TradePnl(item["pnl"], 0, 0, item["pnl"], "win"))
                await old_append(conn, day, worker_id, key, item)
        else:
            await old_append(db.pool, day, worker_id, key, item)


async def _write_new(db: Database, worker_id: str, day: date, notes: list) -> None:
    summaries = PostgresSummaryStore(db)
    for key, item in notes:
        if key == "trades":           # as position_store._close does
            async with db.transaction() as conn:
                await record_trade(conn, trading_day=day, worker_id=worker_id,
                                   pnl=TradePnl(item["pnl"], 0, 0, item["pnl"], "win"))
                await note_trade(conn, trading_day=day, worker_id=worker_id, item=item)
        else:                         # as the order and liquidation services do
            await summaries.append_tuning(worker_id, day, key, item)


async def test_the_notes_read_back_as_the_json_the_old_append_kept(db: Database) -> None:
    await _workers(db.pool, "w-old", "w-new")
    for day, seed in ((DAY, 1), (NEXT_DAY, 2)):
        notes = _notes(seed, 60)
        await _write_old(db, "w-old", day, notes)
        await _write_new(db, "w-new", day, notes)
        old = await db.pool.fetchval("SELECT tuning FROM daily_summaries "
                                     "WHERE trading_day = $1 AND worker_id = 'w-old'", day)
        new = await db.pool.fetchval("SELECT daily_tuning($1, 'w-new')", day)
        expected: dict[str, list] = {}
        for key, item in notes:
            expected.setdefault(key, []).append(json.loads(json.dumps(item, default=str)))
        assert old == expected                  # the reference itself is what it should be
        assert new == old
        assert json.dumps(new) == json.dumps(old)     # key order and values, as read
        counts = "realized_pnl, trades_count, win_count, loss_count, max_loss, fees, taxes"
        assert dict(await db.pool.fetchrow(
            f"SELECT {counts} FROM daily_summaries WHERE trading_day = $1 "
            "AND worker_id = 'w-new'", day)) == dict(await db.pool.fetchrow(
                f"SELECT {counts} FROM daily_summaries WHERE trading_day = $1 "
                "AND worker_id = 'w-old'", day))
    # the readers: the report's summaries, the tune command's SC-011 notes
    report = await fetch_daily_report(db, DAY)
    by_worker = {s.worker_id: s.tuning for s in report.summaries}
    assert by_worker["w-new"] == by_worker["w-old"] != {}
    adverse = sum(k == "adverse_fills" for seed in (1, 2) for k, _ in _notes(seed, 60))
    assert (await read_tuning_notes(db.pool, [DAY, NEXT_DAY])).adverse_fills == 2 * adverse


async def test_a_note_before_the_days_first_trade_makes_the_summary_row(db: Database) -> None:
    """As the old append did (an upsert): readers list summary rows, so a note of a worker
    whose day has no row yet must bring one, or it would not be seen."""
    await _workers(db.pool, "w-1")
    await append_tuning(db.pool, trading_day=DAY, worker_id="w-1", key="liquidity_shortfall",
                        item={"symbol": "005930", "unsold_qty": 3, "attempts": 3})
    report = await fetch_daily_report(db, DAY)
    assert [(s.worker_id, s.trades_count, s.tuning) for s in report.summaries] == [
        ("w-1", 0, {"liquidity_shortfall": [
            {"symbol": "005930", "unsold_qty": 3, "attempts": 3}]})]
    notes = await read_tuning_notes(db.pool, [DAY])
    assert (notes.shortfalls, notes.thin_symbols) == (1, ("005930",))
    with pytest.raises(asyncpg.ForeignKeyViolationError):   # and the schema holds to it
        await db.pool.execute("INSERT INTO daily_tuning_notes (trading_day, worker_id, key, "
                              "item) VALUES ($1, 'w-1', 'trades', '{}')", NEXT_DAY)


# ---- the upgrade: a database migrated up to 0020, with notes in the column ----

async def _database_at(dsn: str, last: int) -> asyncpg.Connection:
    """``dsn`` (an empty database) with migrations 1..``last`` applied as migrate records
    them, so a later ``migrate`` applies only the newer ones."""
    conn = await asyncpg.connect(dsn)
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads,
                              schema="pg_catalog")
    await conn.execute("""CREATE TABLE schema_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now())""")
    for m in available_migrations():
        if m.version <= last:
            await conn.execute(m.sql)
            await conn.execute("INSERT INTO schema_migrations (version, name, checksum) "
                               "VALUES ($1, $2, $3)", m.version, m.name, m.checksum)
    return conn


async def test_the_migration_carries_the_old_lists_over(empty_pg_dsn: str) -> None:
    conn = await _database_at(empty_pg_dsn, 20)
    try:
        await _workers(conn, "w-a", "w-b", "w-c")
        written: dict[tuple[date, str], list] = {}
        for day, wid, seed in ((DAY, "w-a", 3), (DAY, "w-b", 4), (NEXT_DAY, "w-a", 5)):
            notes = _notes(seed, 25)
            for key, item in notes:
                await old_append(conn, day, wid, key, item)
            written[(day, wid)] = notes
        await conn.execute("INSERT INTO daily_summaries (trading_day, worker_id) "
                           "VALUES ($1, 'w-c')", DAY)        # a row with no note
        before = {(r["trading_day"], r["worker_id"]): r["tuning"] for r in await conn.fetch(
            "SELECT trading_day, worker_id, tuning FROM daily_summaries")}
        assert [m.version for m in await migrate(conn)] == [
            m.version for m in available_migrations() if m.version > 20]
        after = {(r["trading_day"], r["worker_id"]): r["tuning"] for r in await conn.fetch(
            "SELECT trading_day, worker_id, daily_tuning(trading_day, worker_id) AS tuning "
            "FROM daily_summaries")}
        assert after == before
        assert after[(DAY, "w-c")] == {}
        for (day, wid), notes in written.items():      # every item, once, in its order
            rows = await conn.fetch("SELECT key, item FROM daily_tuning_notes WHERE "
                                    "trading_day = $1 AND worker_id = $2 ORDER BY note_id",
                                    day, wid)
            for key in {k for k, _ in notes}:
                assert [r["item"] for r in rows if r["key"] == key] == [
                    json.loads(json.dumps(i, default=str)) for k, i in notes if k == key]
        assert await conn.fetchval("SELECT count(*) FROM daily_summaries "
                                   "WHERE tuning <> '{}'") == 0
        # a worker of the previous version, still running, appends to the column: still seen
        # (after the rows)
        late = {"symbol": "000660", "unsold_qty": 1, "attempts": 3}
        await old_append(conn, DAY, "w-a", "liquidity_shortfall", late)
        seen = await conn.fetchval("SELECT daily_tuning($1, 'w-a')", DAY)
        assert seen["liquidity_shortfall"] == [*before[(DAY, "w-a")].get(
            "liquidity_shortfall", []), late]
    finally:
        await conn.close()


async def test_the_migration_refuses_a_value_that_is_not_a_list(empty_pg_dsn: str) -> None:
    conn = await _database_at(empty_pg_dsn, 20)
    try:
        await _workers(conn, "w-a")
        await conn.execute("INSERT INTO daily_summaries (trading_day, worker_id, tuning) "
                           "VALUES ($1, 'w-a', $2)", DAY, {"trades": {"not": "a list"}})
        with pytest.raises(asyncpg.RaiseError, match="not a list"):
            await migrate(conn)
        assert await conn.fetchval("SELECT tuning FROM daily_summaries") == {
            "trades": {"not": "a list"}}
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == 20
    finally:
        await conn.close()


# ---- a retried close notes its trade once ----

TAG = StrategyTag("t", "1", "1")


def _report(odno: str, symbol: str, side: Side, filled: int, amount: int) -> OrderReport:
    return OrderReport(odno, symbol, side, filled, filled, amount, 0, 0, 0,
                       datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL))


async def test_a_retried_close_notes_its_trade_once(db: Database) -> None:
    """The note is written in the close's transaction: a close that fails after writing it
    (here: the order's status update refused once, as a crash before commit would) leaves
    nothing, and the retry, a repeated report and the same execution pushed all note it once
    (the fill's key admits the close once)."""
    rig = await build(db)
    symbol = liquid_symbol(rig.market)
    lock = await LockService(PostgresLockStore(db), rig.sink, ttl_seconds=30).acquire_lock(
        symbol, rig.worker_id, epoch=rig.cycle.epoch)
    orders, store = rig.cycle.paths.orders, rig.cycle.paths.orders._store
    buy = await orders.create_order(lock, side="BUY", qty=3, order_type="MARKET",
                                    limit_price=None, purpose="ENTRY")
    await store.mark_sent(buy.order_id, "0000000001", None, 0.0)
    await store.apply_report(buy.order_id, _report("0000000001", symbol, Side.BUY, 3, 210_000),
                             TAG)
    sell = await orders.create_order(lock, side="SELL", qty=3, order_type="MARKET",
                                     limit_price=None, purpose="STOP_LOSS")
    await store.mark_sent(sell.order_id, "0000000002", None, 0.0)
    await db.pool.execute("""
        CREATE SEQUENCE refuse_once;
        CREATE FUNCTION refuse_once() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.status = 'FILLED' AND NEW.side = 'SELL' AND nextval('refuse_once') = 1 THEN
                RAISE EXCEPTION 'crash before commit';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_once BEFORE UPDATE ON orders
            FOR EACH ROW EXECUTE FUNCTION refuse_once();""")
    sold = _report("0000000002", symbol, Side.SELL, 3, 207_000)
    with pytest.raises(asyncpg.RaiseError, match="crash before commit"):
        await store.apply_report(sell.order_id, sold, TAG)
    assert await db.pool.fetchval("SELECT count(*) FROM daily_tuning_notes") == 0
    await store.apply_report(sell.order_id, sold, TAG)         # the retry
    await store.apply_report(sell.order_id, sold, TAG)         # the same report again
    await store.record_fill_notice(rig.worker_id, rig.cycle.trading_day(), FillNotice(
        "0000000002", symbol, "SELL", 3, 69_000, "100000"), TAG)
    [position] = await db.pool.fetch("SELECT position_id, status FROM positions")
    assert position["status"] == "CLOSED"
    tuning = await db.pool.fetchval(
        "SELECT daily_tuning(trading_day, worker_id) FROM daily_summaries")
    assert [n["position_id"] for n in tuning["trades"]] == [position["position_id"]]
    assert await db.pool.fetchval("SELECT trades_count FROM daily_summaries") == 1
