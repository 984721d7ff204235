"""Replay-only: a replayed day's statements run on connections taken from the day's pool
once and held for the day, not acquired from it and released for every statement (issue
21, speed).

A stepped fleet (``replay.runner``) runs one worker's poll at a time, so it needs one or
two connections, and an asyncpg pool's acquire and release around each statement (the
holder queue, the inactivity timer, the shielded release task) was about a third of the
cost of a replayed round trip. ``HeldConnections`` stands where the day's ``Database``
pool stood and runs the same statements, in the same order, on connections of that same
pool: the same database, the same codecs and server settings (the pool's ``init`` ran on
each). What a release did to a connection is still done before it is used again:

1. an open transaction is rolled back (``Connection._reset``, as the pool's release does);
   the stores open theirs inside ``async with``, so none is left open in practice;
2. a statement or block that ended in an exception (a cancelled one included) gives its
   connection back to the pool, whose release does all its checks (a connection left
   cancelling or broken is closed there), and the next one takes another;
3. no session state is kept between statements: the backtest's pools already skip the
   reset query for that reason (``Database.connect(reset_sessions=False)``: advisory
   locks per transaction, ``SET LOCAL`` only, LISTEN on a connection of its own).

What is left out is the pool's bookkeeping, not a statement: trades, fills and summaries
are the same (the parity test replays with it against the simulated day without).
Anything else asked of it (``close``, ``is_closing``, ...) is the pool's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


class HeldConnections:
    """The statements of a ``Database`` pool's callers on connections held for the day."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._free: list[Any] = []
        self._held: list[Any] = []
        self.taken = 0                      # connections taken from the pool
        # rows kept for the next statement that can see their table, stored first
        # (``replay.deferred_inserts``: the events, the candidate rows)
        self.deferred: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)

    async def _take(self) -> Any:
        if self._free:
            return self._free.pop()
        conn = await self._pool.acquire()
        self._held.append(conn)
        self.taken += 1
        return conn

    async def _keep(self, conn: Any) -> None:
        """Back to the free list after a statement that ended normally (see 1.)."""
        if conn.is_in_transaction():
            await conn._reset()  # noqa: SLF001 - what the pool's release does first
        self._free.append(conn)

    async def _give_back(self, conn: Any) -> None:
        """To the pool, after a statement that ended in an exception (see 2.)."""
        self._held.remove(conn)
        await asyncio.shield(self._pool.release(conn))

    async def _before(self, conn: Any, query: Any = None) -> None:
        """What must be in the database before a statement: each kind of kept rows, unless
        the statement's text does not name their table (``replay.deferred_events``, 1.;
        ``replay.deferred_candidates``); before a block of statements (``query`` None)
        always."""
        for kept in self.deferred:
            if kept.due() and kept.names(query):
                await kept.store(conn)

    async def _run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        conn = await self._take()
        try:
            await self._before(conn, args[0] if args else None)
            result = await getattr(conn, method)(*args, **kwargs)
        except BaseException:
            await self._give_back(conn)
            raise
        await self._keep(conn)
        return result

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:
        return await self._run("fetch", *args, **kwargs)

    async def fetchrow(self, *args: Any, **kwargs: Any) -> Any:
        return await self._run("fetchrow", *args, **kwargs)

    async def fetchval(self, *args: Any, **kwargs: Any) -> Any:
        return await self._run("fetchval", *args, **kwargs)

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return await self._run("execute", *args, **kwargs)

    async def executemany(self, *args: Any, **kwargs: Any) -> Any:
        return await self._run("executemany", *args, **kwargs)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        conn = await self._take()
        try:
            await self._before(conn)
            yield conn
        except BaseException:
            await self._give_back(conn)
            raise
        await self._keep(conn)

    async def flush(self) -> None:
        """Store what is kept now (the end of the day), with no statement of its own."""
        if any(kept.due() for kept in self.deferred):
            async with self.acquire():
                pass

    async def release_all(self) -> None:
        """Every held connection back to the pool (the end of the day)."""
        held, self._held, self._free = self._held, [], []
        for conn in held:
            await self._pool.release(conn)
