"""Worker benchmark. Run: python3 bench/worker.py  (uses TRADEFLEET_BENCH_DSN if set, else
starts an embedded PostgreSQL in a temp dir).

Measures against the in-process simulated market, each with the spec §4.1 budget:
scan compute (filters + strategy, no I/O) for 100 and 2,700 symbols; the same scans
including the market's batch quotes and minute bars; one HOLD monitoring poll (quote, bars,
exit evaluation, MonitoringEvent stored); and the order path (lock, create, send, fill and
position recorded). Targets: 2,700-symbol compute <= 100 ms, every figure >= 10x inside
its budget."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tradefleet.adapters.clock import SEOUL, FrozenClock  # noqa: E402
from tradefleet.adapters.postgres.database import Database  # noqa: E402
from tradefleet.adapters.postgres.migrate import migrate  # noqa: E402
from tradefleet.adapters.sim.broker import SimBroker  # noqa: E402
from tradefleet.adapters.sim.engine import SimMarket  # noqa: E402
from tradefleet.adapters.telemetry.logging import configure_logging  # noqa: E402
from tradefleet.domain.orders import OrderPurpose  # noqa: E402
from tradefleet.domain.states import WorkerStatus  # noqa: E402
from tradefleet.services.scan_service import RankedCandidate  # noqa: E402
from tradefleet.settings import load_settings  # noqa: E402
from tradefleet.worker.wiring import build_worker  # noqa: E402

AT = datetime(2026, 11, 24, 10, 30, 17, tzinfo=SEOUL)
ENV = {"TRADEFLEET_WORKER_ID": "bench", "TRADEFLEET_MODE": "sim",
       "TRADEFLEET_RISK__CAPITAL_LIMIT": "3000000",
       "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "100000000",
       "TRADEFLEET_FILTERS__MIN_VOLUME": "0", "TRADEFLEET_FILTERS__MIN_TRADED_VALUE": "0",
       "TRADEFLEET_FILTERS__MAX_SPREAD_TICKS": "50",
       "TRADEFLEET_EXITS__STOP_LOSS_PCT": "20", "TRADEFLEET_EXITS__TAKE_PROFIT_PCT": "20",
       "TRADEFLEET_EXITS__TIME_EXIT_MINUTES": "0", "TRADEFLEET_EXITS__TREND_MA_WINDOW": "120"}


def ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def timed(fn, repeat: int) -> list[float]:  # noqa: ANN001
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t0)
    return out


async def scan_figures(n: int) -> tuple[float, float]:
    """(compute only, compute + broker batch quotes and bars), median ms."""
    from tradefleet.domain.filters import FilterParams
    from tradefleet.domain.strategies import get_strategy
    from tradefleet.services.scan_service import ScanService

    market = SimMarket(3, n_symbols=n, clock=FrozenClock(AT))
    broker = SimBroker(market)
    strategy = get_strategy("ma_breakout", {})
    scanner = ScanService(broker, None, None, strategy, FilterParams(0, 0, 50),  # type: ignore[arg-type]
                          worker_id="bench")
    universe = market.symbols()
    quotes = list((await broker.get_quotes(universe)).values())
    bars = {q.symbol: market.minute_bars(q.symbol, strategy.bars_needed + 1) for q in quotes}

    async def compute() -> None:
        idx, _ = scanner.prefilter(quotes)
        scanner.evaluate([quotes[i] for i in idx], bars)

    async def with_io() -> None:
        got = list((await broker.get_quotes(universe)).values())
        idx, _ = scanner.prefilter(got)
        passed = [got[i] for i in idx]
        fetched = await scanner._fetch_bars([q.symbol for q in passed])
        scanner.evaluate(passed, fetched)

    return ms(await timed(compute, 7)), ms(await timed(with_io, 5))


async def db_figures(dsn: str) -> tuple[float, float]:
    """(HOLD monitoring poll, order path) median ms, on a real database."""
    db = await Database.connect(dsn, min_size=1, max_size=5)
    try:
        clock = FrozenClock(AT)
        market = SimMarket(3, n_symbols=100, clock=clock, initial_cash=10_000_000_000)
        broker = SimBroker(market)
        worker = build_worker(load_settings(None, ENV), db=db, broker=broker, clock=clock,
                              universe=market.symbols(), track_timeout_s=1.0)
        cycle = await worker.start()
        u = market.universe
        liquid = [s for i, s in enumerate(u.symbols) if not u.thin[i] and u.depth[i] >= 5]
        order_path, monitor = [], []
        for symbol in liquid[:8]:
            quote = market.quote(symbol)
            t0 = time.perf_counter()
            outcome = await cycle.paths.entry.try_enter([RankedCandidate(symbol, quote.price, 1.0,
                                                                    quote)])
            order_path.append(time.perf_counter() - t0)
            assert outcome is not None and outcome.lock is not None
            assert await cycle.adopt(outcome.lock)
            await cycle.move(WorkerStatus.HOLD, symbol=symbol, reason="bench")
            monitor += await timed(cycle.hold_poll, 5)
            cycle.holding.entry_price = Decimal(quote.price)
            await cycle.sell(OrderPurpose.TIME_EXIT)
        return ms(monitor), ms(order_path)
    finally:
        await db.close()


async def main() -> None:
    c100, io100 = await scan_figures(100)
    c2700, io2700 = await scan_figures(2700)
    dsn = os.environ.get("TRADEFLEET_BENCH_DSN")
    if dsn:
        monitor, order = await db_figures(dsn)
    else:
        from tradefleet.adapters.postgres.embedded import scratch_dir, start_embedded

        with scratch_dir() as tmp:
            os.chmod(tmp, 0o777)
            dsn = await asyncio.to_thread(start_embedded, Path(tmp) / "pgdata")
            conn_db = await Database.connect(dsn)
            async with conn_db.pool.acquire() as conn:
                await migrate(conn)
            await conn_db.close()
            monitor, order = await db_figures(dsn)
    rows = [("scan compute, 100 symbols", c100, 2000.0, None),
            ("scan compute, 2,700 symbols", c2700, 54_000.0, 100.0),
            ("scan + sim quotes/bars, 100", io100, 2000.0, None),
            ("scan + sim quotes/bars, 2,700", io2700, 54_000.0, None),
            ("HOLD monitoring poll", monitor, 1000.0, None),
            ("order path (lock→create→send→fill)", order, 500.0, None)]
    table = Table(title="worker benchmark (median ms)")
    for col in ("what", "ms", "§4.1 budget ms", "budget / measured", "extra target"):
        table.add_column(col, justify="left" if col == "what" else "right")
    for name, value, budget, target in rows:
        ratio = budget / value if value else float("inf")
        style = "green" if ratio >= 10 else "red"
        extra = "" if target is None else \
            f"≤ {target:.0f} ms: {'met' if value <= target else 'MISSED'}"
        table.add_row(name, f"{value:.2f}", f"{budget:,.0f}",
                      f"[{style}]{ratio:,.0f}x[/{style}]", extra)
    Console().print(table)
    Console().print("§4.1: scan 2 s per 100 symbols (54 s for 2,700), HOLD poll 1 s, "
                    "order send 500 ms.")


if __name__ == "__main__":
    with open(os.devnull, "w") as quiet:
        configure_logging(json_output=True, level="CRITICAL", stream=quiet)
        asyncio.run(main())
