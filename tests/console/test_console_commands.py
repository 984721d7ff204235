"""``tradefleet console`` and the console beside ``tradefleet demo``: loopback by default, the
demo's token in a file only its user reads (never printed), a taken port falls back to a free
one, bad arguments named."""

from __future__ import annotations

import socket
import stat

import aiohttp
import pytest

from tradefleet.cli import build_parser
from tradefleet.commands.console_web import read_token
from tradefleet.local_fleet.demo_console import start_demo_console


def test_console_command_binds_loopback_unless_told_and_checks_its_token(tmp_path, monkeypatch):
    args = build_parser(["console"]).parse_args(["console"])
    assert args.host == "127.0.0.1" and args.kube_namespace is None
    short = tmp_path / "short"
    short.write_text("abc\n")
    with pytest.raises(SystemExit, match="--token-file: the token must be at least 16"):
        read_token(short)
    with pytest.raises(SystemExit, match="--token-file: cannot read"):
        read_token(tmp_path / "missing")
    monkeypatch.delenv("TRADEFLEET_CONSOLE_TOKEN", raising=False)
    assert read_token(None) is None                     # read-only
    monkeypatch.setenv("TRADEFLEET_CONSOLE_TOKEN", "x" * 20)
    assert read_token(None) == "x" * 20


def test_demo_serves_the_console_unless_told_not_to():
    demo = build_parser(["demo"])
    assert demo.parse_args(["demo"]).no_console is False
    assert demo.parse_args(["demo", "--no-console"]).no_console is True


async def test_the_demo_console_writes_its_token_privately_and_falls_back_to_a_free_port(
        pg_dsn, tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    console = await start_demo_console(pg_dsn, tmp_path, port)
    try:
        assert console.server.host == "127.0.0.1" and console.server.port != port
        mode = stat.S_IMODE(console.token_file.stat().st_mode)
        assert mode == 0o600
        token = console.token_file.read_text().strip()
        async with aiohttp.ClientSession() as http:
            async with http.get(console.server.url) as resp:
                assert resp.status == 200 and token not in await resp.text()
            async with http.post(console.server.url + "actions",
                                 data={"action": "pause", "reason": "demo check"},
                                 headers={"Authorization": f"Bearer {token}"}) as resp:
                assert resp.status == 200, await resp.text()
    finally:
        await console.stop()
        taken.close()
