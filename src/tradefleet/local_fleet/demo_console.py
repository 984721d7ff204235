"""The fleet console beside ``tradefleet demo``: served on loopback for the demo's database,
its action token written to a file only the user can read (never printed)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from tradefleet.adapters.postgres.database import Database
from tradefleet.console.server import ConsoleServer, start_console


@dataclass
class DemoConsole:
    server: ConsoleServer
    db: Database
    token_file: Path

    async def stop(self) -> None:
        await self.server.stop()
        await self.db.close()


def write_token(path: Path) -> str:
    token = secrets.token_urlsafe(24)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    return token


async def start_demo_console(dsn: str, log_dir: Path, port: int) -> DemoConsole:
    """On ``port``, or on a free one when that is taken (another demo's console)."""
    db = await Database.connect(dsn, min_size=1, max_size=4)
    token_file = log_dir / "console-token"
    token = write_token(token_file)
    try:
        try:
            server = await start_console(db, port=port, token=token)
        except OSError:
            server = await start_console(db, port=0, token=token)
    except BaseException:
        await db.close()
        raise
    return DemoConsole(server, db, token_file)
