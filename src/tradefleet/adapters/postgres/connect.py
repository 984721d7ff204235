"""From settings to a connected, migrated Database: embedded PostgreSQL when no DSN is set,
otherwise the DSN as given, with TLS (sslmode / sslrootcert) applied (spec §5.1).

The settings decide what is allowed (settings/database_rules.py: paper and real mode need
verified TLS to a network database unless db.allow_insecure); here, whatever the caller, the
DSN's password is registered for redaction before any connection attempt, an undecrypted
``enc:`` password is refused, and a network connection without certificate verification is
logged as a WARNING.

A database that is not reachable yet (a pod started before its PostgreSQL, a failover in
progress) is waited for, with backoff, up to ``wait_seconds``; then, as for a DSN the server
refuses (wrong password, no such database), the caller gets a ConfigError naming ``db.dsn``,
never a traceback."""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path
from urllib.parse import quote

import asyncpg

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.migrate import migrate
from tradefleet.adapters.telemetry.logging import get_logger
from tradefleet.adapters.telemetry.redaction import redact_text, register_secret
from tradefleet.domain.errors import ConfigError, DatabaseUnreachable
from tradefleet.settings.dsn import VERIFYING, DsnError, parse_dsn
from tradefleet.settings.secrets import is_encrypted

# the server is not there (yet): worth waiting for
_UNREACHABLE = (OSError, asyncio.TimeoutError, asyncpg.CannotConnectNowError,
                asyncpg.TooManyConnectionsError, asyncpg.ConnectionDoesNotExistError)
# the server answered and refused: waiting would not change it
_REFUSED = (asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidPasswordError,
            asyncpg.InvalidCatalogNameError, ssl.SSLError)
WAIT_SECONDS = 30.0

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
    wait_seconds: float = WAIT_SECONDS,
) -> Database:
    """The process's Database. ``dsn=None``: the embedded server under the state dir."""
    if dsn is None:
        from tradefleet.adapters.postgres.embedded import start_embedded

        dsn = await asyncio.to_thread(start_embedded)
    else:
        check_transport(dsn, sslmode)
    tls = ssl_context(sslmode, sslrootcert)
    deadline = time.monotonic() + wait_seconds
    delay, attempt = 0.25, 0
    while True:
        attempt += 1
        try:
            return await Database.connect(dsn, min_size=min_size, max_size=max_size, ssl=tls,
                                          durable_by_default=durable_by_default)
        except _REFUSED as exc:
            raise ConfigError(f"db.dsn: the database refused the connection "
                              f"({type(exc).__name__}: {redact_text(str(exc))})") from None
        except _UNREACHABLE as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DatabaseUnreachable(
                    f"db.dsn: the database is not reachable after {attempt} attempt(s) over "
                    f"{wait_seconds:g} s ({type(exc).__name__}: {redact_text(str(exc))})") from None
            get_logger().warning("database not reachable yet; retrying", attempt=attempt,
                                 error_type=type(exc).__name__, retry_in_s=round(delay, 2))
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, 5.0)


def check_transport(dsn: str, sslmode: str | None) -> None:
    """Mask the password in every later log line; refuse one still encrypted; warn when the
    database is reached over the network without certificate verification."""
    register_secret(dsn)
    if is_encrypted(dsn):
        raise ConfigError("db.dsn: is still encrypted (load it through the settings, which "
                          "decrypt it with key_file)")
    try:
        parsed = parse_dsn(dsn)
    except DsnError as exc:
        raise ConfigError(f"db.dsn: {exc}") from None
    if parsed.password is not None:
        register_secret(parsed.password)
        register_secret(quote(parsed.password, safe=""))     # as it stands in the DSN
    if parsed.password is not None and is_encrypted(parsed.password):
        raise ConfigError("db.dsn: the password is still encrypted (load it through the "
                          "settings, which decrypt it with key_file)")
    effective = sslmode or parsed.sslmode or "prefer"
    if parsed.network_hosts() and effective not in VERIFYING:
        # no host names: in a malformed DSN they may be pieces of the password
        get_logger().warning(
            "database reached over the network without certificate verification",
            sslmode=effective, allowed_by="db.allow_insecure (paper/real) or sim mode")


async def migrate_database(db: Database) -> list:
    """Apply missing migrations (safe when several processes start at once)."""
    async with db.pool.acquire() as conn:
        return await migrate(conn)
