"""``tradefleet worker``: run one trading worker for the day.

``--sim`` trades the in-process simulated market on a simulated clock that starts a minute
before the open of a KRX session day (today, or the next one), with that day's hours, so a
whole KRX day passes in seconds, and prints a summary at the end. Without ``--sim`` the KIS
REST broker is used (paper or real mode from the settings): the worker trades only inside
the exchange's session of the day, and on a day KRX is closed it says so and exits 0."""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from tradefleet.commands.arguments import float_in, positive_int

if TYPE_CHECKING:
    from rich.console import Console

SIM_DEFAULTS = {"TRADEFLEET_WORKER_ID": "sim-worker", "TRADEFLEET_MODE": "sim",
                "TRADEFLEET_RISK__CAPITAL_LIMIT": "5000000",
                "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "1000000"}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("worker", help="run one trading worker",
                              description=__doc__.split("\n\n", 1)[1] if __doc__ else None)
    p.add_argument("--sim", action="store_true", help="trade the in-process simulated market")
    p.add_argument("--seed", type=int, default=7, help="simulated market seed (7)")
    p.add_argument("--speed", type=float_in(1, 10_000), default=600.0,
                   help="simulated seconds per real second (600)")
    p.add_argument("--symbols", type=positive_int, default=60,
                   help="simulated universe size (60)")
    p.add_argument("--config", type=Path, default=None, help="YAML settings file")
    p.set_defaults(handler=_run)


def _session_day() -> date:
    """Today in Seoul if it is a KRX session, else the next one (a year ahead at most)."""
    from tradefleet.adapters.calendar_cache import krx_calendar
    from tradefleet.adapters.clock import SEOUL

    day = datetime.now(SEOUL).date()
    calendar = krx_calendar(day)
    for _ in range(366):
        if calendar.session(day) is not None:
            return day
        day += timedelta(days=1)
    return datetime.now(SEOUL).date()


def _config_error(exc: Exception) -> int:
    """Exit 2 with the error in red. rich is imported only here (and for ``--sim``'s
    summary): a worker pod prints nothing else, and its start-up skips rich."""
    from tradefleet.commands.console import command_console

    command_console().print(f"[red]configuration error:[/red] {exc}")
    return 2


def _run(args: argparse.Namespace) -> int:
    # a worker does no linear algebra: one OpenBLAS thread, not one per core per process
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from tradefleet.adapters.telemetry.logging import configure_logging
    from tradefleet.adapters.telemetry.tracing import configure_tracing, flush_tracing
    from tradefleet.domain.errors import ConfigError
    from tradefleet.settings import load_settings

    environ = {**SIM_DEFAULTS, **os.environ} if args.sim else dict(os.environ)
    try:
        settings = load_settings(args.config, environ)
        if args.sim and settings.feed.enabled:
            raise ConfigError("feed.enabled (TRADEFLEET_FEED__ENABLED): --sim's in-process "
                              "market has no WebSocket; run a `tradefleet exchange --ws-port`")
        if args.sim and settings.mode != "sim":
            raise ConfigError(f"mode: --sim needs mode sim, settings say {settings.mode}")
        if not args.sim and settings.mode == "sim" and not settings.broker.base_url:
            raise ConfigError("mode: sim needs --sim (in-process market) or broker.base_url "
                              "(a `tradefleet exchange` simulator)")
    except ConfigError as exc:
        return _config_error(exc)
    configure_logging(level=settings.log_level)
    try:
        configure_tracing("tradefleet-worker", worker_id=settings.worker_id)
    except ConfigError as exc:
        return _config_error(exc)
    runner = _run_sim(settings, args) if args.sim else _run_kis(settings)
    try:
        return asyncio.run(runner)
    except ConfigError as exc:
        return _config_error(exc)
    finally:            # every exit (a SIGTERM ends the run too): the last spans go out
        flush_tracing()


async def _run_sim(settings, args: argparse.Namespace) -> int:  # noqa: ANN001
    from tradefleet.adapters.calendar_cache import krx_calendar
    from tradefleet.adapters.clock import SimClock
    from tradefleet.adapters.postgres.connect import migrate_database
    from tradefleet.adapters.sim.broker import SimBroker
    from tradefleet.adapters.sim.engine import SimMarket
    from tradefleet.commands.configured import connect_configured
    from tradefleet.domain.calendar import regular_session
    from tradefleet.worker.launch import launch

    day = _session_day()
    session = krx_calendar(day).session(day) or regular_session(day)
    clock = SimClock(session.open - timedelta(minutes=1), args.speed)
    market = SimMarket(args.seed, n_symbols=args.symbols, clock=clock,
                       session_open=session.open.time(), session_close=session.close.time())
    universe = settings.universe or market.symbols()
    db = await connect_configured(settings)
    try:
        await migrate_database(db)
        code = await launch(settings, broker=SimBroker(market), clock=clock,
                            universe=universe, db=db, markets=_universe_markets(
                                [(s.symbol, s.market) for s in market.symbol_infos()]))
        from tradefleet.commands.console import command_console

        await _print_summary(db, settings.worker_id, clock.now().date(), command_console())
        return code
    finally:
        await db.close()


async def _run_kis(settings, console: Console | None = None, *,  # noqa: ANN001
                   clock=None) -> int:
    """Paper/real KIS, or ``mode: sim`` against a ``tradefleet exchange`` simulator: either
    way the KIS REST adapter, with one token and one rate budget per appkey for the fleet.
    ``clock``: the command leaves it None (wall clock, or the shared simulated clock of a
    local fleet); acceptance tests pass the exchange simulator's clock. ``console``: not
    printed to (a worker logs), kept for callers that pass one."""
    import aiohttp

    from tradefleet.adapters.clock import SimClock, WallClock
    from tradefleet.adapters.kis.fleet import build_fleet_kis_broker
    from tradefleet.adapters.postgres.connect import migrate_database
    from tradefleet.adapters.sim.exchange.books_client import ListedMarkets
    from tradefleet.adapters.telemetry.metrics import WorkerMetrics
    from tradefleet.commands.configured import connect_configured, token_cipher
    from tradefleet.domain.errors import ConfigError
    from tradefleet.worker.launch import launch
    from tradefleet.worker.wiring import kis_config

    if not settings.universe:
        raise ConfigError("universe: list the symbols to trade (the KIS API has no "
                          "whole-market quote list)")
    if not settings.broker.base_url:
        raise ConfigError("broker.base_url: required for paper/real mode")
    simulated = settings.mode == "sim"
    config = kis_config(settings, worker_tag=settings.worker_id)
    shared_clock = os.environ.get("TRADEFLEET_SIM_CLOCK")
    if clock is None:
        clock = SimClock.from_env(shared_clock) if simulated and shared_clock else WallClock()
    cipher = token_cipher(settings, simulated=simulated)
    # a small pool: one per worker process, and a fleet of them shares one server
    db = await connect_configured(settings, max_size=4)
    try:
        await migrate_database(db)
        async with aiohttp.ClientSession() as session:
            # the exchange simulator lists each symbol's market; KIS is asked nothing here
            # (paper has no stock-info API): costs.markets then says, else the highest tax
            markets = ListedMarkets(settings.broker.base_url, session) if simulated else None
            metrics = WorkerMetrics()       # the rate budget reports its waits into it
            broker = await build_fleet_kis_broker(
                config, session, db, clock, cipher=cipher,
                share_quotes_window=settings.poll_interval_seconds,
                limit_per_second=settings.broker.rate_limit_per_second,
                on_budget_wait=metrics.budget_waited)
            return await launch(settings, broker=broker, clock=clock,
                                universe=settings.universe, db=db, markets=markets,
                                metrics=metrics, beside=_feed_beside(
                                    settings, config, db=db, http=session, broker=broker,
                                    clock=clock, cipher=cipher, metrics=metrics))
    finally:
        await db.close()


def _feed_beside(settings, config, **kw):  # noqa: ANN001, ANN003, ANN202
    """The account's feed beside the worker when ``feed.enabled`` (issue 20), else None.
    Imported only then: a worker without the feed loads none of it."""
    if not settings.feed.enabled:
        return None
    from dataclasses import replace

    from tradefleet.adapters.postgres.worker_feed_mode import PostgresFeedModeStore
    from tradefleet.worker.feed_mode import FeedModeReport
    from tradefleet.worker.feed_runtime import WorkerFeed
    from tradefleet.worker.feed_wiring import build_feed_parts

    metrics = kw.pop("metrics")
    report = FeedModeReport(PostgresFeedModeStore(kw["db"]).write, settings.worker_id)

    def on_mode(live: bool) -> None:
        metrics.set_feed_live(live)
        report(live)                    # the worker row, for the operator's status

    parts = replace(build_feed_parts(settings, config, on_mode=on_mode, **kw),
                    mode_report=report)
    return lambda worker: WorkerFeed(settings.feed, parts, worker).running()


def _universe_markets(pairs: list[tuple[str, str]]):  # noqa: ANN202 - a MarketOf
    from tradefleet.domain.markets import Market
    from tradefleet.services.market_directory import MarketTable

    return MarketTable({symbol: Market(market) for symbol, market in pairs})


async def _print_summary(db, worker_id: str, day: date, console: Console) -> None:  # noqa: ANN001
    from rich.table import Table

    rows = await db.pool.fetch(
        """SELECT symbol, qty, bought_qty, entry_price, exit_price, exit_reason, realized_pnl,
                  strategy_name, param_version
           FROM positions WHERE worker_id = $1 AND trading_day = $2 ORDER BY position_id""",
        worker_id, day)
    traded = sorted({f"{r['strategy_name']} params {r['param_version']}" for r in rows})
    table = Table(title=f"{worker_id} — {day}" + (f" — {', '.join(traded)}" if traded else ""))
    for col in ("symbol", "qty", "entry", "exit", "reason", "pnl (won)"):
        table.add_column(col, justify="right" if col not in ("symbol", "reason") else "left")
    total = 0
    for r in rows:
        pnl = r["realized_pnl"] or 0
        total += pnl
        table.add_row(r["symbol"], str(r["bought_qty"]), f"{r['entry_price'] or 0:,.0f}",
                      f"{r['exit_price'] or 0:,.0f}", r["exit_reason"] or "-", f"{pnl:,}")
    table.add_row("total", "", "", "", f"{len(rows)} trades", f"{total:,}")
    console.print(table)
