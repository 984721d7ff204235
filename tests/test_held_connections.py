"""The replay's held connections (``replay.held_connections``): statements run on
connections taken from the day's pool once; a block that leaves a transaction open has it
rolled back before the connection serves again, a statement or block that fails gives its
connection back to the pool, and the end of the day gives every one back. (The parity
test, ``test_replay_runner``, replays with it against the simulated day without.)"""

from __future__ import annotations

import asyncpg
import pytest
from tests.test_replay_runner import _fresh_db

from tradefleet.replay.held_connections import HeldConnections


async def test_statements_share_held_connections_each_left_as_a_release_leaves_it(
        pg_server_uri) -> None:  # noqa: ANN001
    db = await _fresh_db(pg_server_uri)
    try:
        held = HeldConnections(db.pool)
        assert await held.fetchval("SELECT 1") == 1
        assert await held.fetchval("SELECT 2") == 2 and held.taken == 1   # one connection

        async with held.acquire() as conn:            # a transaction left open
            await conn.execute("BEGIN")
            await conn.execute("CREATE TEMP TABLE left_open (x int)")
        assert await held.fetchval("SELECT pg_current_xact_id_if_assigned()") is None
        assert await held.fetchval("SELECT to_regclass('pg_temp.left_open')") is None
        assert held.taken == 1

        with pytest.raises(asyncpg.PostgresSyntaxError):
            await held.execute("SELEC 1")                 # fails: back to the pool
        assert await held.fetchval("SELECT 3") == 3 and held.taken == 2
        with pytest.raises(RuntimeError):
            async with held.acquire():
                raise RuntimeError("a block that fails")
        assert await held.fetchval("SELECT 4") == 4 and held.taken == 3

        async with held.acquire() as first, held.acquire() as second:   # two at once
            assert first is not second
        await held.release_all()
        assert db.pool.get_idle_size() == db.pool.get_size()   # every one given back
    finally:
        await close_unless_held(db)


async def close_unless_held(db) -> None:  # noqa: ANN001 - a Database
    """Close ``db``'s pool; terminate it instead while a connection is still out (a
    graceful close would wait for it for ever)."""
    if db.pool.get_idle_size() == db.pool.get_size():
        await db.close()
    else:
        db.pool.terminate()
