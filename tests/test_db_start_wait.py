"""A worker pod may start before its PostgreSQL is reachable (or during a failover): the
connection is waited for with backoff; a database that never comes, or that refuses the
credentials, ends in one clear error naming db.dsn, not a traceback."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from db_proxy import PgProxy
from tradefleet.adapters.postgres.connect import connect_database
from tradefleet.domain.errors import ConfigError


def _socket_dir(dsn: str) -> Path:
    return Path(parse_qs(urlsplit(dsn).query)["host"][0])


async def test_database_that_comes_up_late_is_waited_for(pg_dsn, tmp_path, logs):
    socket = next(_socket_dir(pg_dsn).glob(".s.PGSQL.*[0-9]"))
    proxy = PgProxy(socket, tmp_path / "late")
    proxied = pg_dsn.replace(str(_socket_dir(pg_dsn)), str(proxy.listen_dir))
    assert proxied != pg_dsn
    connecting = asyncio.create_task(connect_database(proxied, wait_seconds=20))
    await asyncio.sleep(1.5)                   # nothing listens yet: attempts are refused
    assert not connecting.done()
    await proxy.start()
    db = await asyncio.wait_for(connecting, 15)
    try:
        assert await db.pool.fetchval("SELECT 1") == 1
    finally:
        await db.close()
        await proxy.cut()
    retries = [r for r in logs.records if r["event"] == "database not reachable yet; retrying"]
    assert len(retries) >= 2 and all(r["level"] == "warning" for r in retries)


async def test_database_that_never_comes_is_a_clear_error_naming_the_field(tmp_path):
    dsn = f"postgresql://app@/trading?host={tmp_path}"
    with pytest.raises(ConfigError, match=r"^db\.dsn: the database is not reachable after"):
        await connect_database(dsn, wait_seconds=1.0)


async def test_refused_credentials_are_not_waited_for(pg_dsn):
    missing = pg_dsn.replace(urlsplit(pg_dsn).path, "/no_such_database_here")
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ConfigError, match=r"^db\.dsn: the database refused the connection"):
        await connect_database(missing, wait_seconds=30)
    assert loop.time() - started < 10          # not the 30 s wait
