"""One asyncpg pool per process, plus the JSON codecs every store relies on."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (one round trip per release). asyncpg still
    rolls back a transaction left open and drops listeners before this runs."""


def database_dsn(server_dsn: str, database: str) -> str:
    """``server_dsn`` (any database of the server) pointed at ``database``."""
    head, _, query = server_dsn.partition("?")
    return f"{head.rsplit('/', 1)[0]}/{database}" + (f"?{query}" if query else "")


# ``SET LOCAL`` holds until this transaction ends; ``ROLLBACK`` or ``COMMIT`` outside a
# transaction is a server warning, never an error (asyncpg drops it: no log listener).
_BEGIN_DURABLE = "BEGIN; SET LOCAL synchronous_commit = on"


async def _rollback(conn: asyncpg.Connection) -> None:
    """ROLLBACK unless the connection is gone (its transaction went with it); asyncpg waits
    for a cancelled statement to end before sending it."""
    if not conn.is_closed():
        await conn.execute("ROLLBACK")


class Database:
    """Owns the process's connection pool. Stores receive it; nothing else opens connections."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(
        cls, dsn: str, *, min_size: int = 1, max_size: int = 10, ssl: Any = None,
        command_timeout: float | None = 10.0, durable_by_default: bool = True,
        reset_sessions: bool = True, server_timeout_s: float | None = None,
    ) -> Database:
        """``durable_by_default=False`` makes plain statements (locks, heartbeats, events)
        commit asynchronously; money writes must then use ``money_transaction``.

        ``reset_sessions=False`` (replay only: ``replay.backtest``) skips asyncpg's reset
        query on every release, which was half the round trips of a replayed poll. It is
        safe where no pooled connection keeps session state: our stores take advisory locks
        per transaction (``pg_advisory_xact_lock``), set ``SET LOCAL`` only, and LISTEN on
        a connection of their own (``feed/listener``); an open transaction is still rolled
        back by asyncpg.

        ``command_timeout=None`` with ``server_timeout_s`` (replay only:
        ``replay.day_database``) leaves the hung-statement guard to the server's
        ``statement_timeout``: asyncpg arms and cancels a loop timer for every statement
        otherwise, ~5 us each of a replayed day's ~66,000."""
        settings = {} if durable_by_default else {"synchronous_commit": "off"}
        if server_timeout_s is not None:
            settings["statement_timeout"] = f"{round(server_timeout_s * 1000)}ms"
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, ssl=ssl, init=_init_connection,
            command_timeout=command_timeout, server_settings=settings,
            reset=None if reset_sessions else _keep_session,
        )
        assert pool is not None
        return cls(pool)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn

    @asynccontextmanager
    async def money_transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction that is on disk when it returns, whatever the pool's default.

        Orders, fills and positions go through this. Because WAL is flushed in order, making
        this commit durable also makes every earlier asynchronous commit (the lock it was
        placed under, its heartbeats) durable: a lock can only be lost in a crash if nothing
        was ever ordered under it.

        asyncpg's ``conn.transaction()`` semantics that matter, kept by hand because its BEGIN
        cannot carry the SET LOCAL: rollback when the body raises or is cancelled (here, not
        left to the pool's release, which would log it), a COMMIT cancelled or failed left
        to the server and the pool's release, and the connection back to the pool outside
        any transaction. One difference: the body may not open ``conn.transaction()``
        (asyncpg refuses inside a manual BEGIN); no money path nests one."""
        async with self.pool.acquire() as conn:
            # one round trip, not two: both statements in one simple-protocol message, so
            # the transaction is open and durable before the body's first statement
            try:
                await conn.execute(_BEGIN_DURABLE)
                yield conn
            except BaseException:
                await _rollback(conn)            # raised, or cancelled, in the body
                raise
            # as asyncpg's: a COMMIT that fails or is cancelled ends the transaction on the
            # server (committed or not); the pool's release rolls back anything left open
            await conn.execute("COMMIT")

    async def db_now(self):  # noqa: ANN201 - datetime
        """The database clock: every age (heartbeat, TTL) is judged by this, never by ours."""
        return await self.pool.fetchval("SELECT now()")
