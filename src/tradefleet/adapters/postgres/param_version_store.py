"""Parameter versions in PostgreSQL (issue 21): written by ``tradefleet tune``, approved by a
person (``tradefleet params approve``), taken by a worker once per session. Every time is
the database clock's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from tradefleet.adapters.postgres.database import Database
from tradefleet.domain.errors import ConfigError

LATEST_APPROVED = "latest-approved"


@dataclass(frozen=True, slots=True)
class ParamVersion:
    version_id: int
    strategy: str
    params: dict[str, Any]
    evidence: dict[str, Any]
    created_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    approve_reason: str | None

    @property
    def label(self) -> str:
        """What entries record as their ``param_version`` (SC-005)."""
        return f"pv-{self.version_id}"

    @property
    def approved(self) -> bool:
        return self.approved_at is not None


_COLUMNS = ("version_id, strategy, params, evidence, created_at, approved_by, approved_at, "
            "approve_reason")


def _version(row: asyncpg.Record) -> ParamVersion:
    return ParamVersion(**dict(row))


async def insert_version(conn: asyncpg.Connection | asyncpg.Pool, *, strategy: str,
                         params: dict[str, Any], evidence: dict[str, Any]) -> ParamVersion:
    """A new, unapproved version (params already validated by the strategy's schema)."""
    row = await conn.fetchrow(
        f"INSERT INTO param_versions (strategy, params, evidence) VALUES ($1, $2, $3) "
        f"RETURNING {_COLUMNS}", strategy, params, evidence)
    return _version(row)


async def list_versions(conn: asyncpg.Connection | asyncpg.Pool,
                        strategy: str | None = None) -> list[ParamVersion]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM param_versions WHERE $1::text IS NULL OR strategy = $1 "
        f"ORDER BY version_id", strategy)
    return [_version(r) for r in rows]


async def get_version(conn: asyncpg.Connection | asyncpg.Pool,
                      version_id: int) -> ParamVersion | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM param_versions WHERE version_id = $1",
                              version_id)
    return None if row is None else _version(row)


async def latest_approved(conn: asyncpg.Connection | asyncpg.Pool,
                          strategy: str) -> ParamVersion | None:
    """The version ``latest-approved`` names for ``strategy`` now (None: none approved)."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM param_versions WHERE strategy = $1 AND approved_at "
        f"IS NOT NULL ORDER BY approved_at DESC, version_id DESC LIMIT 1", strategy)
    return None if row is None else _version(row)


async def approve_version(conn: asyncpg.Connection | asyncpg.Pool, version_id: int, *,
                          by: str, reason: str | None) -> ParamVersion:
    """Approve once; approving an approved version again is refused (its record stands)."""
    row = await conn.fetchrow(
        f"UPDATE param_versions SET approved_by = $2, approved_at = now(), approve_reason = $3 "
        f"WHERE version_id = $1 AND approved_at IS NULL RETURNING {_COLUMNS}",
        version_id, by, reason)
    if row is not None:
        return _version(row)
    existing = await get_version(conn, version_id)
    if existing is None:
        raise ConfigError(f"ID: no parameter version {version_id}")
    raise ConfigError(f"ID: version {version_id} was already approved by "
                      f"{existing.approved_by} at {existing.approved_at.isoformat()}")


async def take_session_version(conn: asyncpg.Connection | asyncpg.Pool, *, worker_id: str,
                               trading_day: date, strategy: str,
                               wanted: str) -> ParamVersion:
    """The approved version this worker trades ``trading_day`` with. The first start of the
    day picks it (``wanted``: a version id, or ``latest-approved``) and pins it; a restart
    the same day gets the pinned one, so a version approved mid-session waits for the next.
    ``wanted`` is checked every time (approval is never withdrawn, so what was chosen at
    the start is still choosable)."""
    chosen = await _choose(conn, strategy, wanted)
    # one statement: the first start's pin is kept (the no-op update returns it), so a
    # restart, or a twin racing this start, trades what the session started with
    pinned = await conn.fetchval(
        "INSERT INTO session_param_versions AS s (trading_day, worker_id, version_id) "
        "VALUES ($1, $2, $3) ON CONFLICT (trading_day, worker_id) "
        "DO UPDATE SET version_id = s.version_id RETURNING version_id",
        trading_day, worker_id, chosen.version_id)
    version = await get_version(conn, pinned)
    assert version is not None      # noqa: S101 - a foreign key holds it
    if version.strategy != strategy:
        raise ConfigError(f"strategy.param_version: this session took version "
                          f"{version.version_id} of {version.strategy}, settings run {strategy}")
    return version


async def _choose(conn: asyncpg.Connection | asyncpg.Pool, strategy: str,
                  wanted: str) -> ParamVersion:
    where = "strategy.param_version (TRADEFLEET_STRATEGY__PARAM_VERSION)"
    if wanted == LATEST_APPROVED:
        latest = await latest_approved(conn, strategy)
        if latest is None:
            raise ConfigError(f"{where}: no approved parameter version of {strategy} yet "
                              f"(tradefleet params approve ID --by NAME)")
        return latest
    version = await get_version(conn, int(wanted))
    if version is None:
        raise ConfigError(f"{where}: no parameter version {wanted}")
    if version.strategy != strategy:
        raise ConfigError(f"{where}: version {wanted} is for {version.strategy}, "
                          f"settings run {strategy}")
    if not version.approved:
        raise ConfigError(f"{where}: version {wanted} is not approved "
                          f"(tradefleet params approve {wanted} --by NAME)")
    return version


class PostgresParamVersions:
    """The operator's read of the versions (ports.param_versions.ParamVersionReader)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def version(self, version_id: int) -> ParamVersion | None:
        return await get_version(self._db.pool, version_id)

    async def latest_approved(self, strategy: str) -> ParamVersion | None:
        return await latest_approved(self._db.pool, strategy)
