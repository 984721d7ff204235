"""The feed holder's lease in Postgres (migration 0014): acquire, renew, release, and the
fenced publish. Each is ONE statement, so the check and the act cannot be split by a pause:
the primary key on ``account_key`` and ``ON CONFLICT ... WHERE lapsed`` decide an election
race (one row version wins; the others re-check the committed row and find it live), and a
publish sends its notifications only in the statement that found its token still holding an
unexpired lease, by the database clock."""

from __future__ import annotations

from collections.abc import Sequence

from tradefleet.adapters.postgres.database import Database

_ACQUIRE = """
INSERT INTO feed_holders (account_key, holder_id, lease_token, ttl_seconds)
VALUES ($1, $2, nextval('feed_lease_token_seq'), $3)
ON CONFLICT (account_key) DO UPDATE
   SET holder_id = EXCLUDED.holder_id, lease_token = EXCLUDED.lease_token,
       ttl_seconds = EXCLUDED.ttl_seconds, acquired_at = now(), renewed_at = now()
 WHERE feed_holders.renewed_at <= now() - make_interval(secs => feed_holders.ttl_seconds)
RETURNING lease_token
"""

# A lapsed lease is lost even if nobody took it yet: the holder must be elected again.
_RENEW = """
UPDATE feed_holders SET renewed_at = now()
 WHERE account_key = $1 AND lease_token = $2
   AND renewed_at > now() - make_interval(secs => ttl_seconds)
RETURNING lease_token
"""

# the holder of a live lease, and the seconds since it renewed (database clock)
LIVE_HOLDER = ("SELECT holder_id, extract(epoch FROM now() - renewed_at)::float8 AS age "
               "FROM feed_holders WHERE renewed_at > now() - make_interval(secs => ttl_seconds) "
               "ORDER BY renewed_at DESC LIMIT 1")
_RELEASE = "DELETE FROM feed_holders WHERE account_key = $1 AND lease_token = $2"

_PUBLISH = """
WITH holds AS (
    SELECT EXISTS (SELECT 1 FROM feed_holders
                    WHERE account_key = $1 AND lease_token = $2
                      AND renewed_at > now() - make_interval(secs => ttl_seconds)) AS ok
)
SELECT holds.ok,
       (SELECT count(pg_notify(t.channel, t.payload))
          FROM unnest($3::text[], $4::text[]) AS t(channel, payload)
         WHERE holds.ok) AS sent
  FROM holds
"""


class PostgresFeedLeaseStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def try_acquire(self, account_key: str, holder_id: str, ttl_seconds: float
                          ) -> int | None:
        """The new lease's token, or None while another holder's lease is unexpired."""
        return await self._db.pool.fetchval(_ACQUIRE, account_key, holder_id,
                                            float(ttl_seconds))

    async def renew(self, account_key: str, token: int) -> bool:
        return await self._db.pool.fetchval(_RENEW, account_key, token) is not None

    async def release(self, account_key: str, token: int) -> None:
        await self._db.pool.execute(_RELEASE, account_key, token)

    async def publish(self, account_key: str, token: int,
                      messages: Sequence[tuple[str, str]]) -> bool:
        """NOTIFY each (channel, payload) if ``token`` still holds the lease; False (nothing
        sent) when it does not."""
        channels = [c for c, _ in messages]
        payloads = [p for _, p in messages]
        row = await self._db.pool.fetchrow(_PUBLISH, account_key, token, channels, payloads)
        return bool(row["ok"])

    async def held_symbols(self) -> set[str]:
        """What the fleet holds (its symbol locks): the ticks the holder registers. One
        database is one account's fleet, as for the locks themselves."""
        return {r["symbol"] for r in await self._db.pool.fetch("SELECT symbol FROM stock_locks")}

    async def holder(self, account_key: str) -> tuple[str, int] | None:
        row = await self._db.pool.fetchrow(
            "SELECT holder_id, lease_token FROM feed_holders WHERE account_key = $1",
            account_key)
        return None if row is None else (row["holder_id"], row["lease_token"])

    async def live_holder(self) -> tuple[str, float] | None:
        """The holder of a live lease and the seconds since it renewed (database clock), for
        the demo's live view; None while no lease is live (every worker polls)."""
        row = await self._db.pool.fetchrow(LIVE_HOLDER)
        return None if row is None else (row["holder_id"], float(row["age"]))
