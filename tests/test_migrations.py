"""Migrations: concurrent start-up, idempotent re-runs, refusing edited history; db command."""

from __future__ import annotations

import asyncio
import multiprocessing as mp

import asyncpg
import pytest

from tradefleet.adapters.postgres.migrate import available_migrations, migrate
from tradefleet.cli import main


def _migrate_child(dsn: str, barrier, out) -> None:
    async def run() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            await asyncio.to_thread(barrier.wait)
            return len(await migrate(conn))
        finally:
            await conn.close()

    out.put(asyncio.run(run()))


async def test_two_processes_migrating_at_once_both_succeed(empty_pg_dsn):
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_migrate_child, args=(empty_pg_dsn, barrier, out))
             for _ in range(2)]
    for p in procs:
        p.start()
    applied = sorted([await asyncio.to_thread(out.get, True, 60) for _ in procs])
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert applied == [0, len(available_migrations())]   # one applied all, the other none
    conn = await asyncpg.connect(empty_pg_dsn)
    versions = [r["version"] for r in await conn.fetch(
        "SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == [m.version for m in available_migrations()]
    assert await migrate(conn) == []                      # re-running is a no-op
    await conn.close()


async def test_edited_migration_is_refused(pg_dsn):
    conn = await asyncpg.connect(pg_dsn)
    await conn.execute("UPDATE schema_migrations SET checksum = 'tampered' WHERE version = 1")
    with pytest.raises(RuntimeError, match="changed after it was applied"):
        await migrate(conn)
    await conn.close()


def test_db_migrate_and_status_commands(empty_pg_dsn, monkeypatch, capsys):
    monkeypatch.setenv("TRADEFLEET_DB__DSN", empty_pg_dsn)
    assert main(["db", "migrate"]) == 0
    out = capsys.readouterr().out
    assert f"applied {len(available_migrations())} migration(s)" in out
    assert main(["db", "status"]) == 0
    out = capsys.readouterr().out
    assert "pending" not in out and "stock_locks" in out and "TLS off" in out
    assert main(["db", "migrate"]) == 0
    assert "already up to date" in capsys.readouterr().out


def test_db_command_rejects_bad_tls_settings(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("TRADEFLEET_DB__SSLMODE", "verify-full")
    assert main(["db", "status"]) == 2
    assert "sslrootcert" in capsys.readouterr().err


def test_db_status_without_dsn_uses_embedded_server_under_state_dir(
        monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("TRADEFLEET_DB__DSN", raising=False)
    monkeypatch.delenv("TRADEFLEET_CONFIG", raising=False)
    monkeypatch.setenv("TRADEFLEET_STATE_DIR", str(tmp_path / "state"))
    try:
        assert main(["db", "migrate"]) == 0
        assert f"applied {len(available_migrations())} migration(s)" in capsys.readouterr().out
        assert main(["db", "status"]) == 0
        out = capsys.readouterr().out
        assert "pending" not in out and "tradefleet on" in out
        assert (tmp_path / "state" / "pgdata" / "PG_VERSION").exists()
    finally:
        _stop_postmaster(tmp_path / "state" / "pgdata")


def _stop_postmaster(pgdata) -> None:
    """The embedded server outlives the command on purpose (reused by later runs); the test
    stops the one it started (fast shutdown) and waits for it to go."""
    import os
    import signal
    import time

    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().split()[0])
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def test_db_command_reports_unreachable_server_without_echoing_dsn(monkeypatch, capsys):
    import socket

    with socket.socket() as s:          # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("TRADEFLEET_DB__DSN", f"postgresql://u:pw-s3cret@127.0.0.1:{port}/x")
    assert main(["db", "status", "--wait", "0.5"]) == 1
    err = capsys.readouterr().err
    assert "db.dsn: the database is not reachable" in err and "pw-s3cret" not in err
