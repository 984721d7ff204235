"""``tradefleet record``: write a trading day's market data to files, one folder per day
(the format: ``tradefleet.replay.day_format``; minute bars, quotes and their book levels).

Sources, one per run:

- ``--sim``: the exchange simulator's day for ``--seed``/``--symbols`` (the market
  ``tradefleet exchange`` and the demo run), written at once without waiting for the day;
- ``--csv FILE...``: your own minute bars (``symbol,start,open,high,low,close,volume``; see
  ``tradefleet.replay.csv_bars``), one folder per day they hold; bad rows are named by line
  and column and nothing is written;
- neither: record the live session through the settings' broker, like a worker (``--config``
  or TRADEFLEET_* env): ``mode: sim`` with ``broker.base_url`` = a ``tradefleet exchange``
  simulator over HTTP, or KIS paper/real, sharing the fleet's token and rate budget through
  its database. The universe is the settings' ``universe``; a quote snapshot every
  ``--every`` seconds until the close, then every symbol's minute bars."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from datetime import date, datetime
from pathlib import Path

from tradefleet.commands.arguments import int_in, positive_int

RECORDER_DEFAULTS = {"TRADEFLEET_WORKER_ID": "recorder",
                     # the settings need risk limits; a recorder places no order
                     "TRADEFLEET_RISK__CAPITAL_LIMIT": "1",
                     "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "1"}


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("record", help="record a day's market data to files",
                              description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="data directory (one folder a day)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--sim", action="store_true", help="the exchange simulator's day")
    source.add_argument("--csv", type=Path, nargs="+", metavar="FILE",
                        help="import your own minute bars from CSV")
    p.add_argument("--seed", type=int, default=7, help="--sim: market seed (7)")
    p.add_argument("--symbols", type=positive_int, default=100, help="--sim: universe (100)")
    p.add_argument("--day", type=_day, default=None,
                   help="--sim: the day (YYYY-MM-DD; default today in Seoul), its KRX hours")
    p.add_argument("--every", type=int_in(1, 3600), default=10,
                   help="seconds between quote snapshots (10; --sim: a multiple of 10)")
    p.add_argument("--config", type=Path, default=None, help="live: YAML settings file")
    p.add_argument("--overwrite", action="store_true", help="replace a day already recorded")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tradefleet.commands.console import command_console
    from tradefleet.domain.errors import ConfigError

    console = command_console()
    try:
        import pyarrow  # noqa: F401 - the day format's files
    except ModuleNotFoundError:
        console.print("[red]record:[/red] needs pyarrow: pip install 'tradefleet[replay]'")
        return 2
    try:
        if args.csv:
            return _import_csv(args, console)
        if args.sim:
            return _record_sim(args, console)
        return asyncio.run(_record_live(args, console))
    except (ConfigError, ValueError) as exc:
        console.print(f"[red]record:[/red] {exc}", highlight=False)
        return 2
    except KeyboardInterrupt:
        return 130


def _import_csv(args: argparse.Namespace, console) -> int:  # noqa: ANN001
    from tradefleet.domain.errors import ConfigError
    from tradefleet.replay.csv_bars import import_csv, sessions_from_calendar
    from tradefleet.replay.day_format import day_dir, write_day

    days = import_csv(args.csv, session_of=sessions_from_calendar())
    if not args.overwrite:      # every day checked before the first is written
        taken = [str(day_dir(args.out, d.meta.day)) for d in days
                 if day_dir(args.out, d.meta.day).exists()]
        if taken:
            raise ConfigError(f"--out: already recorded: {', '.join(taken)} (pass --overwrite)")
    for day in days:
        path = write_day(args.out, day, overwrite=args.overwrite)
        console.print(f"{day.meta.day}: {len(day.bars['start']):,} bars of "
                      f"{len(day.meta.symbols)} symbols -> {path}", highlight=False)
    return 0


def _record_sim(args: argparse.Namespace, console) -> int:  # noqa: ANN001
    import time

    from tradefleet.adapters.calendar_cache import krx_calendar
    from tradefleet.adapters.clock import SEOUL
    from tradefleet.domain.calendar import regular_session
    from tradefleet.domain.errors import ConfigError
    from tradefleet.replay.day_format import day_dir, write_day
    from tradefleet.replay.sim_source import record_sim_day

    day = args.day or datetime.now(SEOUL).date()
    calendar = krx_calendar(day)
    session = calendar.session(day) if calendar.knows(day) else regular_session(day)
    if session is None:
        raise ConfigError(f"--day: {day} is not a KRX session ({calendar.closed_reason(day)})")
    if day_dir(args.out, day).exists() and not args.overwrite:
        raise ConfigError(f"--out: {day_dir(args.out, day)} already exists "
                          f"(pass --overwrite to replace it)")
    started = time.perf_counter()

    def progress(at: datetime, rows: int) -> None:
        console.print(f"  {at:%H:%M} {rows:,} quote rows", highlight=False)

    recorded = record_sim_day(args.seed, args.symbols, day, every_s=args.every,
                              session_open=session.open.time(),
                              session_close=session.close.time(), progress=progress)
    path = write_day(args.out, recorded, overwrite=args.overwrite)
    console.print(f"{day} ({session.open:%H:%M}-{session.close:%H:%M}): "
                  f"{len(recorded.bars['start']):,} bars, {len(recorded.quotes['at']):,} "
                  f"quotes of {args.symbols} symbols in {time.perf_counter() - started:.1f} s "
                  f"-> {path}", highlight=False)
    return 0


async def _record_live(args: argparse.Namespace, console) -> int:  # noqa: ANN001
    import aiohttp

    from tradefleet.adapters.calendar_cache import krx_calendar
    from tradefleet.adapters.clock import SimClock, WallClock
    from tradefleet.adapters.kis.fleet import build_fleet_kis_broker
    from tradefleet.adapters.postgres.connect import migrate_database
    from tradefleet.commands.configured import connect_configured, token_cipher
    from tradefleet.domain.errors import ConfigError
    from tradefleet.replay.day_format import day_dir, write_day
    from tradefleet.replay.live_recorder import LiveRecorder
    from tradefleet.settings import load_settings
    from tradefleet.worker.session import market_day
    from tradefleet.worker.wiring import kis_config

    settings = load_settings(args.config, {**RECORDER_DEFAULTS, **os.environ})
    if not settings.broker.base_url:
        raise ConfigError("broker.base_url (TRADEFLEET_BROKER__BASE_URL): required to record "
                          "live (KIS, or a `tradefleet exchange` simulator in mode sim); "
                          "or pass --sim or --csv")
    if not settings.universe:
        raise ConfigError("universe (TRADEFLEET_UNIVERSE): list the symbols to record")
    simulated = settings.mode == "sim"
    shared_clock = os.environ.get("TRADEFLEET_SIM_CLOCK")
    clock = SimClock.from_env(shared_clock) if simulated and shared_clock else WallClock()
    today = clock.now().date()
    market = market_day(today, mode=settings.mode, liquidation_offset=_offset(settings),
                        calendar=krx_calendar(today))
    if market.session is None:
        console.print(f"{today}: KRX is closed ({market.closed_reason}); nothing to record")
        return 0
    if day_dir(args.out, today).exists() and not args.overwrite:
        raise ConfigError(f"--out: {day_dir(args.out, today)} already exists "
                          f"(pass --overwrite to replace it)")
    cipher = token_cipher(settings, simulated=simulated)
    config = kis_config(settings)
    db = await connect_configured(settings, max_size=2)
    try:
        await migrate_database(db)
        async with aiohttp.ClientSession() as http:
            broker = await build_fleet_kis_broker(
                config, http, db, clock, cipher=cipher, share_quotes_window=None,
                limit_per_second=settings.broker.rate_limit_per_second)

            def progress(at: datetime, status) -> None:  # noqa: ANN001
                if status.snapshots % 30 == 1:
                    console.print(f"  {at:%H:%M:%S} {status.snapshots} snapshots "
                                  f"({status.failed_snapshots} failed)", highlight=False)

            recorder = LiveRecorder(
                broker, clock, settings.universe, session_open=market.session.open,
                session_close=market.session.close, every_s=args.every, progress=progress,
                source=f"{'exchange' if simulated else 'kis'}:{settings.mode}",
                markets={s: m.value for s, m in settings.costs.markets.items()})
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, recorder.stop)
            recorded = await recorder.record()
    finally:
        await db.close()
    path = write_day(args.out, recorded, overwrite=args.overwrite)
    s = recorder.status
    console.print(f"{today}: {s.snapshots} snapshots ({s.failed_snapshots} failed), bars of "
                  f"{s.symbols_with_bars} symbols ({s.failed_bar_reads} failed)"
                  f"{'' if recorded.meta.complete else ', INCOMPLETE'} -> {path}",
                  highlight=False)
    return 0 if recorded.meta.complete else 1


def _offset(settings):  # noqa: ANN001, ANN202
    from datetime import timedelta

    return timedelta(minutes=settings.risk.liquidation_offset_minutes)
