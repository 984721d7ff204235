"""``tradefleet db migrate|status``: apply the SQL migrations, and show where the database is."""

from __future__ import annotations

import argparse
import asyncio
import sys

from rich.console import Console
from rich.table import Table

from tradefleet.commands.arguments import float_in
from tradefleet.commands.console import command_console

CORE_TABLES = ("workers", "stock_locks", "candidates", "orders", "fills", "positions",
               "daily_summaries", "events")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("db", help="database migrations and status",
                              description="Uses TRADEFLEET_DB__DSN (+ __SSLMODE, "
                                          "__SSLROOTCERT); with none, the embedded PostgreSQL.")
    sub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    for name, text in (("migrate", "apply missing migrations"),
                       ("status", "migrations applied and row counts")):
        s = sub.add_parser(name, help=text)
        s.add_argument("--config", default=None, help="YAML settings file")
        s.add_argument("--wait", type=float_in(0, 600), default=5.0, metavar="SECONDS",
                       help="wait this long for a database that is not reachable yet (5; a "
                            "migration job started beside its database wants more)")
        s.set_defaults(handler=_run, action=name)


async def _main(args: argparse.Namespace, console: Console) -> int:
    from pathlib import Path

    import asyncpg

    from tradefleet.adapters.postgres.connect import connect_database, migrate_database
    from tradefleet.adapters.postgres.migrate import status
    from tradefleet.adapters.telemetry.redaction import redact_text
    from tradefleet.domain.errors import ConfigError, DatabaseUnreachable
    from tradefleet.settings import load_database_settings

    try:
        cfg = load_database_settings(Path(args.config) if args.config else None)
        db = await connect_database(
            cfg.dsn.get_secret_value() if cfg.dsn else None, sslmode=cfg.sslmode,
            sslrootcert=str(cfg.sslrootcert) if cfg.sslrootcert else None, max_size=2,
            wait_seconds=args.wait)
    except DatabaseUnreachable as exc:
        print(exc, file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except (OSError, asyncpg.PostgresError) as exc:
        # The DSN may hold a password: name the failure, never echo the DSN.
        print(f"db.dsn: cannot connect ({type(exc).__name__}: {redact_text(str(exc))})",
              file=sys.stderr)
        return 1
    try:
        if args.action == "migrate":
            applied = await migrate_database(db)
            console.print(f"applied {len(applied)} migration(s)" + (
                ": " + ", ".join(f"{m.version:04d}_{m.name}" for m in applied) if applied
                else " (already up to date)"))
        async with db.pool.acquire() as conn:
            rows = await status(conn)
            table = Table(title="migrations")
            for col in ("version", "name", "applied at"):
                table.add_column(col)
            for m, applied_at in rows:
                table.add_row(f"{m.version:04d}", m.name,
                              str(applied_at) if applied_at else "[yellow]pending[/yellow]")
            console.print(table)
            if all(a is not None for _, a in rows):
                counts = Table(title="rows")
                counts.add_column("table")
                counts.add_column("rows", justify="right")
                for t in CORE_TABLES:
                    counts.add_row(t, f"{await conn.fetchval(f'SELECT count(*) FROM {t}'):,}")
                console.print(counts)
            where = await conn.fetchval("SELECT current_database() || ' on ' || "
                                        "coalesce(inet_server_addr()::text, 'local socket')")
            ssl_on = await conn.fetchval(
                "SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), "
                "false)")
            console.print(f"database {where}, TLS {'on' if ssl_on else 'off'}")
    finally:
        await db.close()
    return 0


def _run(args: argparse.Namespace) -> int:
    return asyncio.run(_main(args, command_console()))
