"""From settings to a connected, migrated Database: embedded PostgreSQL when no DSN is set,
otherwise the DSN as given, with TLS (sslmode / sslrootcert) applied (spec §5.1)."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.migrate import migrate
from tradefleet.domain.errors import ConfigError

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def ssl_context(sslmode: str | None, sslrootcert: str | None) -> ssl.SSLContext | str | None:
    """What asyncpg's ``ssl=`` takes for a libpq-style sslmode. None leaves it to the DSN's
    own ``?sslmode=``. verify-* without a root certificate trusts the system CA store."""
    if sslmode is not None and sslmode not in SSLMODES:
        raise ConfigError(f"db.sslmode: {sslmode!r} is not one of {', '.join(SSLMODES)}")
    if sslmode in (None, "disable", "allow", "prefer", "require"):
        return sslmode
    if sslrootcert is not None and not Path(sslrootcert).is_file():
        raise ConfigError(f"db.sslrootcert: no such file: {sslrootcert}")
    ctx = ssl.create_default_context(cafile=sslrootcert)
    ctx.check_hostname = sslmode == "verify-full"
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


async def connect_database(
    dsn: str | None, *, sslmode: str | None = None, sslrootcert: str | None = None,
    min_size: int = 1, max_size: int = 10, durable_by_default: bool = True,
) -> Database:
    """The process's Database. ``dsn=None``: the embedded server under the state dir."""
    if dsn is None:
        from tradefleet.adapters.postgres.embedded import start_embedded

        dsn = await asyncio.to_thread(start_embedded)
    return await Database.connect(
        dsn, min_size=min_size, max_size=max_size, ssl=ssl_context(sslmode, sslrootcert),
        durable_by_default=durable_by_default)


async def migrate_database(db: Database) -> list:
    """Apply missing migrations (safe when several processes start at once)."""
    async with db.pool.acquire() as conn:
        return await migrate(conn)
