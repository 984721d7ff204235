"""Applying fills to the worker's position, on the caller's connection so that a fill row and
the position change it causes commit together (a crash never leaves one without the other)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import asyncpg

from tradefleet.domain.events import Event, PositionEnteredEvent
from tradefleet.ports.trade_store import StrategyTag

_OPEN = """SELECT * FROM positions WHERE worker_id = $1 AND symbol = $2 AND status = 'OPEN'
            FOR UPDATE"""


async def apply_fill(
    conn: asyncpg.Connection, *, worker_id: str, trading_day: date, symbol: str, side: str,
    qty: int, amount: int, fencing_token: int, purpose: str, strategy: StrategyTag,
) -> list[Event]:
    """A BUY opens or grows the OPEN position (entry price = weighted average of buys); a SELL
    shrinks it and, at zero, closes it with the exit reason and average exit price."""
    pos = await conn.fetchrow(_OPEN, worker_id, symbol)
    if side == "BUY":
        if pos is None:
            row = await conn.fetchrow(
                """INSERT INTO positions (worker_id, trading_day, symbol, status, qty, bought_qty,
                       buy_amount, entry_price, entry_at, strategy_name, strategy_version,
                       param_version, fencing_token)
                   VALUES ($1, $2, $3, 'OPEN', $4, $4, $5, $6, now(), $7, $8, $9, $10)
                   RETURNING position_id, entry_at""",
                worker_id, trading_day, symbol, qty, amount, Decimal(amount) / qty,
                strategy.name, strategy.version, strategy.param_version, fencing_token)
            return [PositionEnteredEvent(
                worker_id=worker_id, symbol=symbol, position_id=row["position_id"], qty=qty,
                entry_price=str(_q(Decimal(amount) / qty)), entry_at=row["entry_at"],
                strategy_name=strategy.name, strategy_version=strategy.version,
                param_version=strategy.param_version, fencing_token=fencing_token)]
        await conn.execute(
            """UPDATE positions SET qty = qty + $2, bought_qty = bought_qty + $2,
                   buy_amount = buy_amount + $3,
                   entry_price = (buy_amount + $3)::numeric / (bought_qty + $2),
                   updated_at = now()
               WHERE position_id = $1""", pos["position_id"], qty, amount)
        return []
    if pos is None:
        raise RuntimeError(f"symbol: SELL fill for {symbol} but {worker_id} has no OPEN position")
    if qty > pos["qty"]:
        raise RuntimeError(f"qty: SELL fill of {qty} exceeds held {pos['qty']} of {symbol}")
    await conn.execute(
        """UPDATE positions SET qty = qty - $2, sold_qty = sold_qty + $2,
               sell_amount = sell_amount + $3, updated_at = now(),
               status = CASE WHEN qty - $2 = 0 THEN 'CLOSED' ELSE status END,
               exit_reason = CASE WHEN qty - $2 = 0 THEN $4 ELSE exit_reason END,
               exit_at = CASE WHEN qty - $2 = 0 THEN now() ELSE exit_at END,
               exit_price = CASE WHEN qty - $2 = 0
                   THEN (sell_amount + $3)::numeric / (sold_qty + $2) ELSE exit_price END
           WHERE position_id = $1""", pos["position_id"], qty, amount, purpose)
    return []


def _q(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.0001"))


async def open_positions(conn: asyncpg.Connection | asyncpg.Pool, worker_id: str
                         ) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM positions WHERE worker_id = $1 AND status = 'OPEN' ORDER BY position_id",
        worker_id)
