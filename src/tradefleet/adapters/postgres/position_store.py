"""Applying fills to the worker's position, on the caller's connection so that a fill row and
the position change it causes commit together (a crash never leaves one without the other)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import asyncpg

from tradefleet.adapters.postgres.summary_store import note_trade, record_trade
from tradefleet.domain.costs import CostModel
from tradefleet.domain.events import (
    Event,
    FillUnmatchedEvent,
    PnlCalculatedEvent,
    PositionEnteredEvent,
    PositionExitedEvent,
)
from tradefleet.domain.markets import Market, parse_market
from tradefleet.domain.pnl import compute_trade_pnl
from tradefleet.ports.trade_store import StrategyTag

_OPEN = """SELECT * FROM positions WHERE worker_id = $1 AND symbol = $2 AND status = 'OPEN'
            FOR UPDATE"""
# the sender's own position after an adopter took it over (never another worker's own)
_OPEN_ADOPTED = """SELECT * FROM positions WHERE symbol = $1 AND status = 'OPEN'
                     AND adopted_from = $2 ORDER BY position_id LIMIT 1 FOR UPDATE"""


async def apply_fill(
    conn: asyncpg.Connection, *, worker_id: str, trading_day: date, symbol: str, side: str,
    qty: int, amount: int, fencing_token: int, purpose: str, strategy: StrategyTag,
    costs: CostModel, order_id: int = 0, market: Market | None = None,
) -> list[Event]:
    """A BUY opens or grows the OPEN position (entry price = weighted average of buys); a SELL
    shrinks it and, at zero, closes it: exit reason, average exit price, PnL after costs.
    ``market`` (of the symbol, known at entry) is recorded on the position it opens; the close
    charges that market's taxes, or the highest of any market when it is NULL (unknown).

    Never raises for a fill the exchange made: a BUY lands in this worker's own position
    whatever happened to its lock; a SELL lands in the sender's own position, or (taken over
    by an adopter meanwhile) that same position under its adopter, never in another worker's
    position of the symbol, and what no position covers is reported, not dropped."""
    pos = await conn.fetchrow(_OPEN, worker_id, symbol)
    if pos is None and side == "SELL":
        pos = await conn.fetchrow(_OPEN_ADOPTED, symbol, worker_id)
    if side == "BUY":
        if pos is None:
            row = await conn.fetchrow(
                """INSERT INTO positions (worker_id, trading_day, symbol, status, qty, bought_qty,
                       buy_amount, entry_price, entry_at, strategy_name, strategy_version,
                       param_version, fencing_token, market)
                   VALUES ($1, $2, $3, 'OPEN', $4, $4, $5, $6, now(), $7, $8, $9, $10, $11)
                   RETURNING position_id, entry_at""",
                worker_id, trading_day, symbol, qty, amount, Decimal(amount) / qty,
                strategy.name, strategy.version, strategy.param_version, fencing_token,
                None if market is None else Market(market).value)
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
    unmatched: list[Event] = []
    if pos is None or qty > pos["qty"]:
        held = 0 if pos is None else pos["qty"]
        unmatched = [FillUnmatchedEvent(worker_id=worker_id, symbol=symbol, order_id=order_id,
                                        side=side, qty=qty, unmatched_qty=qty - held)]
        if pos is None:
            return unmatched
        amount = amount * held // qty
        qty = held
    if qty < pos["qty"]:
        await conn.execute(
            """UPDATE positions SET qty = qty - $2, sold_qty = sold_qty + $2,
                   sell_amount = sell_amount + $3, updated_at = now()
               WHERE position_id = $1""", pos["position_id"], qty, amount)
        return unmatched
    return unmatched + await _close(conn, pos, qty=qty, amount=amount, purpose=purpose,
                                    costs=costs)


async def _close(conn: asyncpg.Connection, pos: asyncpg.Record, *, qty: int, amount: int,
                 purpose: str, costs: CostModel) -> list[Event]:
    """Last shares sold: PnL after costs on the whole round trip, and the day's summary."""
    sell_amount = pos["sell_amount"] + amount
    sold_qty = pos["sold_qty"] + qty
    market = None if pos["market"] is None else parse_market(pos["market"])
    pnl = compute_trade_pnl(pos["buy_amount"], sell_amount, costs, market)
    exit_price = Decimal(sell_amount) / sold_qty
    await conn.execute(
        """UPDATE positions SET qty = 0, sold_qty = $2, sell_amount = $3, status = 'CLOSED',
               exit_reason = $4, exit_price = $5, exit_at = now(), realized_pnl = $6,
               fees = $7, taxes = $8, updated_at = now()
           WHERE position_id = $1""",
        pos["position_id"], sold_qty, sell_amount, purpose, exit_price, pnl.net, pnl.fees,
        pnl.taxes)
    common = {"worker_id": pos["worker_id"], "symbol": pos["symbol"],
              "position_id": pos["position_id"]}
    summary = await record_trade(conn, trading_day=pos["trading_day"],
                                 worker_id=pos["worker_id"], pnl=pnl)
    await note_trade(conn, trading_day=pos["trading_day"], worker_id=pos["worker_id"],
                     item=await _trade_note(conn, pos, pnl.net, purpose))
    return [
        PositionExitedEvent(**common, qty=sold_qty, entry_price=str(_q(pos["entry_price"])),
                            exit_price=str(_q(exit_price)), exit_reason=purpose,
                            realized_pnl=pnl.net, result=pnl.result),
        PnlCalculatedEvent(**common, pnl=pnl.net, result=pnl.result, gross=pnl.gross,
                           fees=pnl.fees, taxes=pnl.taxes),
        summary,
    ]


# The scan row behind an entry (index candidates_worker_symbol_day_time, migration 0020).
ENTRY_SCAN = """SELECT passed_filters, rejected_by, indicators, spread_ticks, traded_value
             FROM candidates WHERE worker_id = $1 AND symbol = $2 AND trading_day = $3
              AND scanned_at <= $4 ORDER BY scanned_at DESC LIMIT 1"""


async def _trade_note(conn: asyncpg.Connection, pos: asyncpg.Record, pnl: int,
                      purpose: str) -> dict:
    """What tuning needs per closed trade: the scan row (filters, indicators) behind the entry."""
    scan = await conn.fetchrow(
        ENTRY_SCAN, pos["worker_id"], pos["symbol"], pos["trading_day"], pos["entry_at"])
    return {"position_id": pos["position_id"], "symbol": pos["symbol"], "pnl": pnl,
            "exit_reason": purpose, "strategy": pos["strategy_name"],
            "param_version": pos["param_version"],
            "entry_scan": None if scan is None else {
                "passed_filters": scan["passed_filters"], "rejected_by": scan["rejected_by"],
                "indicators": scan["indicators"], "spread_ticks": scan["spread_ticks"],
                "traded_value": scan["traded_value"]}}


def _q(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.0001"))


async def open_positions(conn: asyncpg.Connection | asyncpg.Pool, worker_id: str
                         ) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM positions WHERE worker_id = $1 AND status = 'OPEN' ORDER BY position_id",
        worker_id)
