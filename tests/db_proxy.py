"""A unix-socket proxy in front of a PostgreSQL server, that a test can cut and restore: a
network partition between one worker and its database (every connection dropped, new ones
refused), while the rest of the fleet still reaches the server directly."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path


class PgProxy:
    def __init__(self, target_socket: Path, listen_dir: Path) -> None:
        self._target = str(target_socket)
        self.listen_dir = listen_dir
        self._listen = str(listen_dir / target_socket.name)
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.listen_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            Path(self._listen).unlink()
        self._server = await asyncio.start_unix_server(self._serve, path=self._listen)

    async def cut(self) -> None:
        """Drop every connection and refuse new ones (the socket file goes away)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        with contextlib.suppress(FileNotFoundError):
            Path(self._listen).unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self._target)
        except OSError:
            writer.close()
            return
        self._writers.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()
                self._writers.discard(dst)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
