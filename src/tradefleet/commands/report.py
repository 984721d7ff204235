"""``tradefleet report``: the daily summary as tables, and optionally an HTML page of charts."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from rich.console import Console

from tradefleet.commands.arguments import iso_day
from tradefleet.commands.console import command_console


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report", help="print the daily summary (and write an HTML page of charts)",
        description="Reads the configured database (TRADEFLEET_DB__DSN), or with none the "
                    "embedded one the demo uses.")
    p.add_argument("--date", type=iso_day, default=None, help="trading day (default: latest)")
    p.add_argument("--html", type=Path, default=None, help="write an HTML report to FILE")
    p.add_argument("--dsn", default=None, help="database DSN (overrides the settings)")
    p.set_defaults(handler=_run)


async def _report(args: argparse.Namespace, console: Console) -> int:
    from tradefleet.adapters.postgres.database import Database
    from tradefleet.adapters.postgres.report_queries import fetch_daily_report
    from tradefleet.adapters.postgres.session_clock_store import load_session_clock
    from tradefleet.adapters.report.tables import summary_table, trades_table

    dsn = args.dsn or os.environ.get("TRADEFLEET_DB__DSN")
    if not dsn:
        from tradefleet.adapters.postgres.embedded import start_embedded
        from tradefleet.local_fleet.demo_db import DEMO_DB

        dsn = await asyncio.to_thread(start_embedded, None, database=DEMO_DB)
    db = await Database.connect(dsn, min_size=1, max_size=2)
    try:
        report = await fetch_daily_report(db, args.date)
        session_clock = await load_session_clock(db, report.trading_day) \
            if report.trading_day is not None else None
    finally:
        await db.close()
    if report.trading_day is None:
        console.print("no daily summary in this database yet (run `tradefleet demo` first)")
        return 1
    console.print(summary_table(report))
    console.print(trades_table(report))
    if args.html:
        from tradefleet.adapters.report.html import write_html

        path = write_html(report, args.html, session_clock=session_clock)
        console.print(f"HTML report written to {path}")
    return 0


def _run(args: argparse.Namespace) -> int:
    return asyncio.run(_report(args, command_console()))
