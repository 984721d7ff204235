"""What the backtest command's tests share: settings under which a 40-symbol simulated day
trades (open filters, tight exits), a strategy version that is not the shipped default, and
the backtests' databases as the server lists them (to see that none is left behind)."""

from __future__ import annotations

import asyncio

import asyncpg

SETTINGS = {
    "poll_interval_seconds": 5,
    "risk": {"capital_limit": 5_000_000, "daily_loss_limit": 10_000_000},
    "filters": {"min_volume": 0, "min_traded_value": 0, "max_spread_ticks": 50},
    "exits": {"stop_loss_pct": "0.4", "take_profit_pct": "0.4", "trend_ma_window": 120,
              "time_exit_minutes": 0},
}
PARAMS = {"short": 2, "long": 5, "breakout_window": 5}      # not the shipped defaults


async def backtest_databases_of(server: str) -> list[str]:
    conn = await asyncpg.connect(server)
    try:
        return [r["datname"] for r in await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE 'tfbt_%'")]
    finally:
        await conn.close()


def backtest_databases(server: str) -> list[str]:
    return asyncio.run(backtest_databases_of(server))


def drop_databases(server: str, names: list[str]) -> None:
    """Drop the backtests' databases a test kept (``--keep-databases``)."""
    asyncio.run(_drop(server, names))


async def _drop(server: str, names: list[str]) -> None:
    conn = await asyncpg.connect(server)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
