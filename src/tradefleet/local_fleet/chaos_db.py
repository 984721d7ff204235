"""The chaos bench's own embedded PostgreSQL: one server for the whole bench, apart from the
demo's and the tests' (a database fault restarts the server, and must touch nothing else), a
migrated template, and a fresh database per run cloned from it in milliseconds.

Restart, stop and start go through the server's own ``pg_ctl`` (``pgserver/pginstall/bin``),
as the system user pgserver runs the server as when we are root. The unix socket directory
and port do not change across a restart, so a worker's DSN stays valid throughout."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import asyncpg

from tradefleet.adapters.postgres.embedded import start_embedded
from tradefleet.adapters.postgres.migrate import migrate

TEMPLATE = "chaos_template"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
PG_CTL_TIMEOUT_S = 60


class ChaosDatabase:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server = None          # pgserver.PostgresServer once started

    @property
    def _pg_user(self) -> str | None:
        return "pgserver" if os.geteuid() == 0 else None

    async def start(self) -> None:
        """Start (or reuse) the server and build the migrated template, once per bench."""
        import asyncio

        await asyncio.to_thread(self._start_server)
        await self._recreate(TEMPLATE, "")
        conn = await asyncpg.connect(self.dsn(TEMPLATE))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    def _start_server(self) -> None:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        start_embedded(self.data_dir, database="tradefleet")
        import pgserver

        self._server = pgserver.get_server(self.data_dir, cleanup_mode=None)

    def dsn(self, database: str) -> str:
        if self._server is None:
            raise RuntimeError("the chaos database server is not started")
        return self._server.get_uri(database)

    async def fresh(self, name: str) -> str:
        """A new database ``name`` (dropped first if an earlier bench left one), migrated."""
        if not _NAME.match(name):
            raise ValueError(f"name: expected a lowercase SQL identifier, got {name!r}")
        await self._recreate(name, f' TEMPLATE "{TEMPLATE}"')
        return self.dsn(name)

    async def _recreate(self, name: str, template: str) -> None:
        """Drop ``name`` (left by an earlier bench) and create it anew (``template``: the
        SQL suffix naming the database it copies, or empty)."""
        admin = await asyncpg.connect(self.dsn("postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"{template}')
        finally:
            await admin.close()

    # ---- faults (blocking: run them in a thread) ---------------------------------------
    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import POSTGRES_BIN_PATH

        log = self.data_dir / "log"
        subprocess.run(  # noqa: S603 - the server's own pg_ctl, argv list
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.data_dir), "-l", str(log), *args],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            user=self._pg_user, timeout=PG_CTL_TIMEOUT_S)

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every session is cut; the server is back on the same
        socket (pg_ctl reuses the options recorded in postmaster.opts)."""
        self._pg_ctl("-w", "-m", "fast", "restart")

    def stop(self) -> None:
        self._pg_ctl("-w", "-m", "fast", "stop")

    def start_again(self) -> None:
        """Start after ``stop``, on the socket directory and port it had."""
        info = self._server.get_postmaster_info() if self._server else None
        if info is None or info.socket_dir is None:
            raise RuntimeError("unknown socket directory of the chaos database server")
        port = f" -p {info.port}" if info.port else ""
        self._pg_ctl("-w", "-o", f'-h "" -k {info.socket_dir}{port}', "start")

    def _status(self) -> int:
        """pg_ctl status: 0 running, 3 not running (4: no readable data directory)."""
        from pgserver._commands import POSTGRES_BIN_PATH

        return subprocess.run(  # noqa: S603 - the server's own pg_ctl, argv list
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.data_dir), "status"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, user=self._pg_user,
            timeout=PG_CTL_TIMEOUT_S, check=False).returncode

    def ensure_running(self) -> None:
        """Start the server again if a fault left it stopped (a run that broke mid-outage)."""
        if self._server is None or self._status() != 3:
            return
        try:
            self.start_again()
        except subprocess.CalledProcessError:
            if self._status() != 0:         # not started by someone else meanwhile
                raise

    def shutdown(self) -> None:
        """Stop the server at the end of the bench (its data stays for inspection)."""
        if self._server is None:
            return
        if self._status() == 0:
            self.stop()
