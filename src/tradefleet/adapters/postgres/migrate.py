"""Plain SQL migrations applied in file order, recorded in ``schema_migrations``.

Several workers may start at once: a transaction-level advisory lock serialises them, so the
first applies what is missing and the others find nothing left to do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import asyncpg

# Arbitrary constant: the advisory-lock key that guards migrating (bytes of "tfmigrat").
MIGRATION_LOCK_KEY = 0x74666D6967726174


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


def available_migrations() -> list[Migration]:
    folder = resources.files("tradefleet.adapters.postgres") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions: {versions}")
    return found


_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)"""


async def migrate(conn: asyncpg.Connection) -> list[Migration]:
    """Apply every missing migration; return those applied by this call (empty = no-op)."""
    applied_now: list[Migration] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
        await conn.execute(_CREATE_TABLE)
        done = {r["version"]: r["checksum"] for r in
                await conn.fetch("SELECT version, checksum FROM schema_migrations")}
        for m in available_migrations():
            if m.version in done:
                if done[m.version] != m.checksum:
                    raise RuntimeError(
                        f"migration {m.version}_{m.name} changed after it was applied")
                continue
            await conn.execute(m.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                m.version, m.name, m.checksum)
            applied_now.append(m)
    return applied_now


async def status(conn: asyncpg.Connection) -> list[tuple[Migration, object | None]]:
    """Each known migration with its applied_at (None = pending)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    applied = {}
    if exists:
        applied = {r["version"]: r["applied_at"] for r in
                   await conn.fetch("SELECT version, applied_at FROM schema_migrations")}
    return [(m, applied.get(m.version)) for m in available_migrations()]
