"""Shared scan results in ``shared_scans``: claims expire by the database clock, so a claimer
that dies mid-scan is replaced once its claim's lifetime has passed."""

from __future__ import annotations

from typing import Any

from tradefleet.adapters.postgres.database import Database
from tradefleet.ports.shared_scan_store import LatestScan

KEEP_WINDOWS = 10        # older windows of a key are deleted when a newer one is published


class PostgresSharedScanStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, key: str, window: int, claimer: str, ttl_s: float) -> bool:
        claimed = await self._db.pool.fetchval(
            """INSERT INTO shared_scans (scan_key, window_id, claimed_by, claim_expires_at)
               VALUES ($1, $2, $3, now() + make_interval(secs => $4))
               ON CONFLICT (scan_key, window_id) DO UPDATE
                   SET claimed_by = EXCLUDED.claimed_by,
                       claim_expires_at = EXCLUDED.claim_expires_at
                 WHERE shared_scans.result IS NULL AND shared_scans.claim_expires_at < now()
               RETURNING true""", key, window, claimer, float(ttl_s))
        return bool(claimed)

    async def latest(self, key: str) -> LatestScan | None:
        row = await self._db.pool.fetchrow(
            """SELECT window_id, result, claim_expires_at > now() AS live FROM shared_scans
                WHERE scan_key = $1 ORDER BY window_id DESC LIMIT 1""", key)
        if row is None:
            return None
        return LatestScan(int(row["window_id"]), row["result"], bool(row["live"]))

    async def publish(self, key: str, window: int, claimer: str,
                      result: dict[str, Any]) -> bool:
        published = await self._db.pool.fetchval(
            """WITH filled AS (
                   UPDATE shared_scans SET result = $4, computed_at = now()
                    WHERE scan_key = $1 AND window_id = $2 AND claimed_by = $3
                      AND result IS NULL
                   RETURNING true),
               pruned AS (DELETE FROM shared_scans
                           WHERE scan_key = $1 AND window_id < $2 - $5)
               SELECT count(*) > 0 FROM filled""", key, window, claimer, result, KEEP_WINDOWS)
        return bool(published)

    async def release(self, key: str, window: int, claimer: str) -> None:
        await self._db.pool.execute(
            "DELETE FROM shared_scans WHERE scan_key = $1 AND window_id = $2 "
            "AND claimed_by = $3 AND result IS NULL", key, window, claimer)
