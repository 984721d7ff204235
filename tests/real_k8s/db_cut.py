"""Postgres behind a TCP forward that a test can cut (every connection closed, the port
refusing) and restore: a database outage as the operator sees it, with the server itself
untouched."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from urllib.parse import parse_qs, urlsplit

from tests.real_k8s.tcp_forward import _pipe

from tradefleet.local_fleet.processes import free_port


class CuttableDb:
    def __init__(self, dsn: str) -> None:
        """``dsn``: a pgserver DSN (``postgresql://user:@/db?host=/socket/dir``)."""
        parts = urlsplit(dsn)
        self._socket = f"{parse_qs(parts.query)['host'][0]}/.s.PGSQL.5432"
        self.port = free_port()
        self.dsn = f"postgresql://{parts.username}@127.0.0.1:{self.port}{parts.path}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="pg-cuttable")
        self._server: asyncio.AbstractServer | None = None
        self._open: set[asyncio.StreamWriter] = set()

    def __enter__(self) -> CuttableDb:
        self._thread.start()
        self.restore()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self, coro):  # noqa: ANN001, ANN202
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def restore(self) -> None:
        async def start() -> None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self._run(start())

    def cut(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
                self._server = None
            for writer in list(self._open):
                with contextlib.suppress(Exception):
                    writer.close()
            self._open.clear()
        self._run(stop())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self._socket)
        except OSError:
            writer.close()
            return
        self._open.update((writer, up_writer))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

