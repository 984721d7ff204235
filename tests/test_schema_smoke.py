from tradefleet.adapters.postgres.migrate import available_migrations, migrate, status


async def test_migrated_database_has_core_tables(db):
    names = {r["tablename"] for r in await db.pool.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    for table in ("workers", "candidates", "stock_locks", "orders", "fills", "positions",
                  "daily_summaries", "events", "schema_migrations"):
        assert table in names


async def test_rerunning_migrations_is_a_noop(db):
    async with db.pool.acquire() as conn:
        assert await migrate(conn) == []
        rows = await status(conn)
    assert len(rows) == len(available_migrations())
    assert all(applied is not None for _, applied in rows)
