"""``Database.money_transaction`` opens with one round trip ("BEGIN; SET LOCAL
synchronous_commit = on" in one simple-protocol message) instead of asyncpg's BEGIN and then
the SET LOCAL. What asyncpg's ``conn.transaction()`` gave and must still hold, judged by
PostgreSQL: the commit waits for the disk on a pool whose default does not, and the setting
ends with the transaction; a body that raises, or a task cancelled in the body or during the
COMMIT, leaves nothing written; the connection goes back to the pool outside any
transaction, rolled back by us (asyncpg's release would complain through the loop's
exception handler if it had to); and a savepoint cannot be opened inside (asyncpg
refuses)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tradefleet.adapters.postgres.database import Database

# a deferred constraint trigger runs as the COMMIT runs: it notes the setting in force then,
# and, for a row marked slow, sleeps there (a COMMIT to cancel)
_SCHEMA = """
CREATE TABLE money_probe (id int PRIMARY KEY, slow boolean NOT NULL DEFAULT false);
CREATE TABLE commit_noted (id int, synchronous_commit text);
CREATE FUNCTION note_money_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO commit_noted VALUES (NEW.id, current_setting('synchronous_commit'));
  IF NEW.slow THEN PERFORM pg_sleep(60); END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER note_money_commit AFTER INSERT ON money_probe
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION note_money_commit();
"""


class Boom(Exception):
    pass


async def _async_pool(pg_dsn: str) -> Database:
    # one connection, never reset (as the replay's pools): whatever a use leaves behind
    # shows on the next one
    db = await Database.connect(pg_dsn, min_size=1, max_size=1, durable_by_default=False,
                                reset_sessions=False)
    await db.pool.execute(_SCHEMA)
    return db


def _complaints() -> list[dict]:
    """What asyncpg tells the loop's exception handler (e.g. resetting a connection with an
    active transaction) from now on, in this test's loop."""
    seen: list[dict] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: seen.append(ctx))
    return seen


async def _clean(db: Database) -> None:
    async with db.pool.acquire() as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SHOW synchronous_commit") == "off"


async def _wait_for_query(db: Database, pg_dsn: str, query: str) -> None:
    """Until another session shows ``query`` running (judged by the server, not a sleep)."""
    probe = await asyncpg.connect(pg_dsn)
    try:
        for _ in range(2000):
            if await probe.fetchval(
                    """SELECT count(*) FROM pg_stat_activity WHERE state = 'active'
                         AND wait_event = 'PgSleep' AND rtrim(query, ';') = $1""", query):
                return
            await asyncio.sleep(0.005)
        raise AssertionError(f"never saw {query!r} running")
    finally:
        await probe.close()


async def test_a_money_transaction_commits_to_disk_on_an_async_pool_and_the_setting_ends(
        pg_dsn):
    db = await _async_pool(pg_dsn)
    try:
        seen = _complaints()
        async with db.money_transaction() as conn:
            assert conn.is_in_transaction()
            assert await conn.fetchval("SHOW synchronous_commit") == "on"
            await conn.execute("INSERT INTO money_probe (id) VALUES (1)")
        noted = await db.pool.fetch("SELECT id, synchronous_commit FROM commit_noted")
        assert [(r["id"], r["synchronous_commit"]) for r in noted] == [(1, "on")]
        await _clean(db)
        assert seen == []
    finally:
        await db.close()


async def test_a_money_transaction_whose_body_raises_writes_nothing_and_rolls_back_itself(
        pg_dsn):
    db = await _async_pool(pg_dsn)
    try:
        seen = _complaints()
        with pytest.raises(Boom):
            async with db.money_transaction() as conn:
                await conn.execute("INSERT INTO money_probe (id) VALUES (1)")
                raise Boom
        assert await db.pool.fetchval("SELECT count(*) FROM money_probe") == 0
        await _clean(db)
        assert seen == []       # rolled back by money_transaction, not by the pool's release
        # and the connection still works as a money transaction
        async with db.money_transaction() as conn:
            await conn.execute("INSERT INTO money_probe (id) VALUES (1)")
        assert await db.pool.fetchval("SELECT count(*) FROM money_probe") == 1
    finally:
        await db.close()


async def test_a_money_transaction_after_a_failed_statement_raises_it_and_writes_nothing(
        pg_dsn):
    db = await _async_pool(pg_dsn)
    try:
        with pytest.raises(asyncpg.UniqueViolationError):
            async with db.money_transaction() as conn:
                await conn.execute("INSERT INTO money_probe (id) VALUES (1)")
                await conn.execute("INSERT INTO money_probe (id) VALUES (1)")
        assert await db.pool.fetchval("SELECT count(*) FROM money_probe") == 0
        await _clean(db)
    finally:
        await db.close()


async def test_a_task_cancelled_inside_a_money_transaction_writes_nothing(pg_dsn):
    db = await _async_pool(pg_dsn)
    try:
        seen = _complaints()

        async def body() -> None:
            async with db.money_transaction() as conn:
                await conn.execute("INSERT INTO money_probe (id) VALUES (1)")
                await conn.execute("SELECT pg_sleep(60)")

        task = asyncio.create_task(body())
        await _wait_for_query(db, pg_dsn, "SELECT pg_sleep(60)")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await db.pool.fetchval("SELECT count(*) FROM money_probe") == 0
        await _clean(db)
        assert seen == []
    finally:
        await db.close()


async def test_a_task_cancelled_during_the_commit_writes_nothing_and_frees_the_connection(
        pg_dsn):
    db = await _async_pool(pg_dsn)
    try:
        async def body() -> None:
            async with db.money_transaction() as conn:
                await conn.execute("INSERT INTO money_probe (id, slow) VALUES (1, true)")

        task = asyncio.create_task(body())
        await _wait_for_query(db, pg_dsn, "COMMIT")     # the deferred trigger sleeps in it
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await db.pool.fetchval("SELECT count(*) FROM money_probe") == 0
        await _clean(db)
    finally:
        await db.close()


async def test_a_savepoint_cannot_be_opened_inside_a_money_transaction(pg_dsn):
    db = await _async_pool(pg_dsn)
    try:
        with pytest.raises(asyncpg.InterfaceError):
            async with db.money_transaction() as conn:
                await conn.execute("INSERT INTO money_probe (id) VALUES (1)")
                async with conn.transaction():
                    pass
        assert await db.pool.fetchval("SELECT count(*) FROM money_probe") == 0
        await _clean(db)
    finally:
        await db.close()
