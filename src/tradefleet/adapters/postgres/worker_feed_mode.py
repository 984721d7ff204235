"""The worker's own word on its feed (live or polling) in its ``workers`` row, where the
operator reads it for the TradingWorker's status. Written only when it changes (the
listener's state flips rarely), so the row costs nothing while the feed is steady."""

from __future__ import annotations

from tradefleet.adapters.postgres.database import Database


class PostgresFeedModeStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def write(self, worker_id: str, live: bool) -> None:
        await self._db.pool.execute(
            "UPDATE workers SET feed_mode = $2 WHERE worker_id = $1 AND status <> 'EXIT'",
            worker_id, "live" if live else "polling")
