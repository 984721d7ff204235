"""``tradefleet demo``: the main job — a local fleet trading a simulated KRX session."""

from __future__ import annotations

import argparse
import asyncio
from datetime import time as dtime
from pathlib import Path

from tradefleet.commands.arguments import float_in, positive_int
from tradefleet.commands.console import command_console

MAX_WORKERS = 100


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="run a local fleet against the built-in exchange simulator",
        description="Start embedded Postgres, the KIS-dialect exchange simulator and N worker "
                    "processes on one simulated clock; trade a whole session including the "
                    "forced liquidation; print the daily summary.")
    p.add_argument("--workers", type=positive_int, default=3, help="worker processes (3)")
    p.add_argument("--speed", type=float_in(1, 5000), default=600.0,
                   help="simulated seconds per real second, at most (600: a session in ~40 s;"
                        " less for a fleet the machine's cores cannot keep up with)")
    p.add_argument("--lag-limit", type=float_in(0.1, 60), default=5.0,
                   help="session minutes one poll may last; the session clock is slowed to "
                        "keep every worker within it (5)")
    p.add_argument("--seed", type=int, default=7, help="market seed (7)")
    p.add_argument("--symbols", type=positive_int, default=60, help="universe size (60)")
    p.add_argument("--capital-limit", type=positive_int, default=5_000_000,
                   help="won per worker per position (5,000,000)")
    p.add_argument("--no-live", action="store_true", help="no live table (for logs / CI)")
    p.add_argument("--feed", action="store_true",
                   help="the exchange's WebSocket feed: one worker holds it, every worker "
                        "decides exits on each tick (off: on the poll)")
    p.add_argument("--record", type=Path, default=None, metavar="DIR",
                   help="leave the day behind as a recorded day in DIR (for backtest, tune)")
    p.add_argument("--strategy", default=None, metavar="NAME",
                   help="the workers' strategy (shipped, entry point, or in --strategy-path)")
    p.add_argument("--strategy-path", type=Path, default=None, metavar="FILE",
                   help="your own strategy's .py file or package folder")
    p.add_argument("--from", dest="start_at", type=_start_at, default=None, metavar="HH:MM",
                   help="start the session clock at this KST time instead of the open: a short "
                        "session, the end of the day only (09:00-15:00)")
    p.add_argument("--no-console", action="store_true",
                   help="do not serve the fleet console (a live web page on 127.0.0.1)")
    p.add_argument("--console-port", type=positive_int, default=8710,
                   help="the console's port (8710; a free one when taken)")
    p.set_defaults(handler=_run)


def _start_at(text: str) -> dtime:
    try:
        at = dtime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HH:MM, got {text!r}") from None
    if not dtime(9, 0) <= at <= dtime(15, 0):
        raise argparse.ArgumentTypeError(f"must be within 09:00-15:00 (the close is 15:30, "
                                         f"the forced liquidation before it), got {text}")
    return at


def _run(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from tradefleet.domain.errors import ConfigError
    from tradefleet.local_fleet.demo import DemoOptions, run_demo

    if args.workers > MAX_WORKERS:
        raise SystemExit(f"--workers: at most {MAX_WORKERS} on one machine")
    if args.strategy or args.strategy_path:      # named before anything starts
        from tradefleet.settings.strategy import StrategySettings

        try:
            StrategySettings(name=args.strategy or "ma_breakout", path=args.strategy_path)
        except ValueError as exc:
            command_console().print(f"[red]configuration error:[/red] {escape(str(exc))}")
            return 2
    opts = DemoOptions(workers=args.workers, speed=args.speed, seed=args.seed,
                       symbols=args.symbols, capital_limit=args.capital_limit,
                       live=not args.no_live, lag_limit_minutes=args.lag_limit,
                       feed=args.feed, record=args.record, strategy=args.strategy,
                       strategy_path=args.strategy_path,
                       start_at=args.start_at, console=not args.no_console,
                       console_port=args.console_port)
    from tradefleet.local_fleet.forked_start import fleet_start_method

    console = command_console()
    try:
        fleet_start_method()            # checked before anything is started or written
        return asyncio.run(run_demo(opts, console))
    except ConfigError as exc:
        console.print(f"[red]configuration error:[/red] {escape(str(exc))}")
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]stopped: every process of the fleet was terminated[/yellow]")
        return 130
