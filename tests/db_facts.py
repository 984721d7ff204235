"""Facts read straight from a database, for tests that check nothing was written."""

from __future__ import annotations

import asyncpg


async def public_tables(dsn: str) -> int:
    """How many tables the ``public`` schema has (0: nothing was migrated there)."""
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
