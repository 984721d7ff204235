"""PostgreSQL as a local process behind a Service: the test's own server (a unix socket)
forwarded to a TCP address on ``lo`` that a selector-less Service's Endpoints name, so pods
reach it as ``<service>:5432`` like any in-cluster database."""

from __future__ import annotations

import asyncio
import contextlib
import threading


class TcpToUnix:
    def __init__(self, host: str, port: int, socket_path: str) -> None:
        self.host, self.port, self._path = host, port, socket_path
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="pg-forward")
        self._server: asyncio.AbstractServer | None = None

    def __enter__(self) -> TcpToUnix:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, self.host, self.port), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self._path)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()
