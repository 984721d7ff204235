"""``tradefleet console``: the fleet's live web page (tradefleet/console). Registered under
the name ``console`` (cli.py maps it here: ``commands/console.py`` is the terminal's)."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from tradefleet.commands.arguments import iso_day
from tradefleet.commands.console import command_console

TOKEN_ENV = "TRADEFLEET_CONSOLE_TOKEN"  # noqa: S105 - the variable's name


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "console", help="serve the fleet console (live web page; pause/resume/liquidate)",
        description="Reads the configured database (TRADEFLEET_DB__DSN, else the embedded "
                    "one the demo uses). Read-only unless an action token is given "
                    f"(--token-file, or {TOKEN_ENV}).")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (127.0.0.1; a pod binds 0.0.0.0)")
    p.add_argument("--port", type=int, default=8710, help="port (8710)")
    p.add_argument("--dsn", default=None, help="database DSN (overrides the settings)")
    p.add_argument("--token-file", type=Path, default=None,
                   help="file holding the action token (a mounted Secret)")
    p.add_argument("--kube-namespace", default=None,
                   help="act by patching TradingWorkers in this namespace (under Kubernetes)")
    p.add_argument("--date", type=iso_day, default=None, help="trading day (default: today's)")
    p.add_argument("--secure-cookie", action="store_true",
                   help="mark the session cookie Secure (served behind TLS)")
    p.set_defaults(handler=_run)


def read_token(path: Path | None) -> str | None:
    if path is not None:
        try:
            token = path.read_text().strip()
        except OSError as exc:
            raise SystemExit(f"--token-file: cannot read {path}: {exc.strerror}") from None
        if len(token) < 16:
            raise SystemExit("--token-file: the token must be at least 16 characters")
        return token
    token = os.environ.get(TOKEN_ENV, "").strip() or None
    if token is not None and len(token) < 16:
        raise SystemExit(f"{TOKEN_ENV}: the token must be at least 16 characters")
    return token


async def _connect(dsn: str | None):  # noqa: ANN202 - Database
    """The fleet's database as the operator reaches it (DSN, TLS, CA from the settings), or
    the embedded one the demo uses."""
    from tradefleet.adapters.postgres.connect import connect_database
    from tradefleet.adapters.telemetry.redaction import register_secret
    from tradefleet.settings import load_database_settings

    settings = load_database_settings(None, dict(os.environ))
    if dsn is None and settings.dsn is None:
        from tradefleet.adapters.postgres.embedded import start_embedded
        from tradefleet.local_fleet.demo_db import DEMO_DB

        dsn = await asyncio.to_thread(start_embedded, None, database=DEMO_DB)
    dsn = dsn or settings.dsn.get_secret_value()
    register_secret(dsn)
    return await connect_database(
        dsn, sslmode=settings.sslmode,
        sslrootcert=str(settings.sslrootcert) if settings.sslrootcert else None, max_size=6)


async def _serve(args: argparse.Namespace, token: str | None) -> int:
    from tradefleet.console.server import start_console

    db = await _connect(args.dsn)
    kube = None
    if args.kube_namespace:
        from tradefleet.operator.kube import KubeApi

        kube = await KubeApi.from_environment()
    server = await start_console(db, host=args.host, port=args.port, token=token, kube=kube,
                                 namespace=args.kube_namespace, day=args.date,
                                 secure_cookie=args.secure_cookie)
    mode = "actions enabled (token)" if token else "read-only (no token)"
    command_console().print(f"fleet console at {server.url} ({mode}); Ctrl-C stops it")
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
        if kube is not None:
            await kube.close()
        await db.close()
    return 0


def _run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise SystemExit("--port: must be 0..65535")
    token = read_token(args.token_file)
    try:
        return asyncio.run(_serve(args, token))
    except KeyboardInterrupt:
        return 130
