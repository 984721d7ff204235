"""``tradefleet backtest``: the production workers over recorded days (``tradefleet record``),
on a clock that jumps from poll to poll instead of sleeping.

Each day of ``--from``..``--to`` that KRX traded and ``--data`` holds runs from the open (or
``--start``) to the close: ``--workers`` workers, interleaved on one clock, scan, lock,
enter, exit and liquidate against the simulator's matching over the recorded quotes, with
KRX fees and tax, each day in a fresh database on the embedded PostgreSQL (or the server of
``--pg-dsn``). Settings come from ``--config`` (a worker's YAML; without it the shipped
defaults with 5,000,000 won of capital and a 1,000,000 won daily loss limit per worker),
then ``--strategy`` and ``--params``, or ``--param-version``: a stored version's strategy
and params, read (only) from the fleet's database, found as ``tradefleet params`` finds it
(commands/backtest_version.py). Else the TRADEFLEET_* environment is not read, so the same
data, files and flags print the same summary, byte for byte. Progress goes to stderr, the
per-day and total table to stdout, and an HTML report (equity and drawdown on the session
clock, per-day, tuning and per-trade tables, the parameter version) to ``--report``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import date, datetime
from pathlib import Path

from tradefleet.commands.arguments import int_in
from tradefleet.commands.backtest_version import version_wanted

MAX_WORKERS = 50            # as replay.backtest_fleet (not imported: --help stays light)
MAX_JOBS = 64               # as replay.parallel_days


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def _clock_time(text: str):  # noqa: ANN202 - an argparse type
    try:
        return datetime.strptime(text, "%H:%M").time()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HH:MM, got {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("backtest", help="run the workers over recorded days",
                              description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, metavar="DIR",
                   help="data directory of recorded days (tradefleet record --out)")
    p.add_argument("--from", dest="first", type=_day, required=True, metavar="D1",
                   help="first day (YYYY-MM-DD)")
    p.add_argument("--to", dest="last", type=_day, default=None, metavar="D2",
                   help="last day (YYYY-MM-DD; default: --from)")
    p.add_argument("--workers", type=int_in(1, MAX_WORKERS), default=1, metavar="N",
                   help="workers on one clock (1)")
    p.add_argument("--strategy", default=None, metavar="NAME",
                   help="strategy by name (shipped or entry point; default: the config's)")
    p.add_argument("--params", type=Path, default=None, metavar="FILE",
                   help="strategy parameters, a JSON or YAML mapping")
    p.add_argument("--param-version", type=version_wanted, default=None,
                   metavar="N|latest-approved",
                   help="a stored parameter version's strategy and params, read from the "
                        "fleet's database (as tradefleet params); not with --params")
    p.add_argument("--config", type=Path, default=None, metavar="FILE",
                   help="worker settings YAML (risk, filters, exits, strategy)")
    p.add_argument("--start", type=_clock_time, default=None, metavar="HH:MM",
                   help="start each day at this session time (default: the open)")
    p.add_argument("--skip-still-polls", action="store_true",
                   help="speed: no poll while the market has not stepped (10 s steps)")
    p.add_argument("--unknown-market", default=None, metavar="MARKET",
                   choices=("KOSPI", "KOSDAQ", "KONEX", "ETF", "ETN"),
                   help="market of symbols a day does not name (CSV bars; sets the sell tax)")
    p.add_argument("--pg-dsn", default=None, metavar="DSN",
                   help="PostgreSQL server for the backtest's databases (default: embedded)")
    p.add_argument("--report", type=Path, default=None, metavar="FILE",
                   help="HTML report to write (default: DIR/reports/backtest-D1_D2.html)")
    p.add_argument("--jobs", type=int_in(1, MAX_JOBS), default=None, metavar="N",
                   help="days run at once, each in a process of its own (default: one per "
                        "core, at most one per day); the summary is the same for any N")
    p.add_argument("--keep-databases", action="store_true",
                   help="keep each day's database (tfbt_*) for inspection")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tradefleet.commands.console import command_console
    from tradefleet.domain.errors import ConfigError

    console = command_console()
    console.stderr = True
    try:
        return asyncio.run(_backtest(args, console))
    except ConfigError as exc:
        console.print(f"[red]backtest:[/red] {exc}", highlight=False)
        return 2
    except KeyboardInterrupt:
        return 130


async def _backtest(args: argparse.Namespace, console) -> int:  # noqa: ANN001
    from tradefleet.adapters.calendar_cache import krx_calendar
    from tradefleet.adapters.telemetry.logging import configure_logging
    from tradefleet.domain.errors import ConfigError
    from tradefleet.replay.backtest import plan_days, run_backtest
    from tradefleet.replay.backtest_fleet import fleet_settings
    from tradefleet.replay.backtest_html import write_backtest_html
    from tradefleet.replay.backtest_report import build_report
    from tradefleet.replay.backtest_summary import figures, format_summary, speed_line
    from tradefleet.replay.parallel_days import default_jobs

    last = args.last or args.first
    if not args.data.is_dir():
        raise ConfigError(f"--data {args.data}: no such directory")
    # every flag checked before a database is touched
    fleet = fleet_settings(args.workers, config=args.config, strategy=args.strategy,
                           params=args.params)
    fleet, version = await _on_stored_version(args, fleet)
    planned = plan_days(args.data, args.first, last, krx_calendar(last))
    runnable = [p for p in planned if p.folder is not None]
    if not runnable:
        raise ConfigError(f"--data {args.data}: no recorded KRX session in "
                          f"{args.first}..{last}")
    configure_logging(level="error", stream=sys.stderr)     # a lock lost to a peer is no news
    dsn = args.pg_dsn or _embedded_server()
    jobs = min(args.jobs, len(runnable)) if args.jobs else default_jobs(len(runnable))
    console.print(f"backtest: {len(runnable)} day(s), {args.workers} worker(s), strategy "
                  f"{fleet[0].strategy.name}, {jobs} day(s) at a time", highlight=False)

    def on_day(p, run, k, n) -> None:  # noqa: ANN001
        f = figures(str(p.day), run.trades)
        console.print(f"  [{k}/{n}] {p.day}: {f.trades} trades, PnL {f.pnl:,} won "
                      f"({run.wall_s:.1f} s, {run.speed:,.0f}x)"
                      + (f" [{p.note}]" if p.note else ""), highlight=False)

    def in_day(at: datetime, polls: int) -> None:
        console.print(f"      {at:%Y-%m-%d %H:%M}  {polls:,} polls", highlight=False)

    began = time.perf_counter()
    result = await run_backtest(planned, fleet, dsn, start=args.start,
                                keep_databases=args.keep_databases, on_day=on_day,
                                skip_still=args.skip_still_polls, progress=in_day,
                                unknown_market=args.unknown_market, jobs=args.jobs)
    console.print(speed_line(result.runs, args.workers, wall=time.perf_counter() - began),
                  highlight=False)
    title = (f"backtest {args.first}..{last}: {args.workers} worker(s), strategy "
             f"{fleet[0].strategy.name}" + (f", from {args.start:%H:%M}" if args.start else "")
             + (", polls skipped while the market is still" if args.skip_still_polls else "")
             + (f", parameter version {version.label}" if version is not None else ""))
    sys.stdout.write(format_summary(result, title=title))
    sys.stdout.flush()
    configured = [f"{fleet[0].strategy.name} params {fleet[0].trading_rules()[0].param_version}"]
    path = args.report or args.data / "reports" / f"backtest-{args.first}_{last}.html"
    path = write_backtest_html(build_report(result, title=title, configured=configured), path)
    console.print(f"report: {path}", highlight=False)
    return 0


async def _on_stored_version(args: argparse.Namespace, fleet: list):  # noqa: ANN202
    """The fleet on the stored version ``--param-version`` names (else the config's
    ``strategy.param_version``: a backtest of what the live fleet would take), and that
    version (read only); with neither, the fleet as it is and None."""
    from tradefleet.commands.backtest_version import (
        on_version,
        read_version,
        refuse_beside_params,
    )
    from tradefleet.replay.backtest_fleet import fleet_settings

    wanted, named = args.param_version, "--param-version"
    if wanted is None and fleet[0].strategy.param_version is not None:
        wanted = fleet[0].strategy.param_version
        named = f"strategy.param_version (--config {args.config})"
    if wanted is None:
        return fleet, None
    refuse_beside_params(wanted, args.params, named=named)
    version = await read_version(wanted, strategy=fleet[0].strategy.name,
                                 strategy_asked=args.strategy is not None, config=args.config,
                                 named=named)
    return on_version(fleet_settings(args.workers, config=args.config,
                                     strategy=version.strategy), version), version


def _embedded_server() -> str:
    from tradefleet.adapters.postgres.embedded import default_data_dir, start_embedded

    return start_embedded(default_data_dir(), database="tradefleet")
