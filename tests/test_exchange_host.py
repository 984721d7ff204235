"""``tradefleet exchange --host``: in a pod the simulator must listen on every address so its
Service reaches it; by default it stays on 127.0.0.1. A socket bound to 127.0.0.1 refuses a
connection to 127.0.0.2 (another loopback address on Linux); one bound to 0.0.0.0 takes it."""

from __future__ import annotations

import asyncio
import socket
import sys

import aiohttp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _reachable(url: str) -> bool:
    async with aiohttp.ClientSession() as session:
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                return resp.status == 200
        except aiohttp.ClientConnectorError:
            return False


async def _serving(*host: str) -> tuple[bool, bool]:
    """(reachable on 127.0.0.1, reachable on 127.0.0.2) of an exchange started with ``host``."""
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradefleet.cli", "exchange", "--port", str(port),
        "--symbols", "3", *host, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        for _ in range(150):
            if await _reachable(f"http://127.0.0.1:{port}/_admin/health"):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("exchange did not come up")
        return True, await _reachable(f"http://127.0.0.2:{port}/_admin/health")
    finally:
        proc.terminate()
        await proc.wait()


async def test_the_exchange_listens_on_every_address_only_when_asked():
    assert await _serving("--host", "0.0.0.0") == (True, True)
    assert await _serving() == (True, False)
