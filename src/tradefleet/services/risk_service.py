"""The pre-trade gate (EC-004). A breach blocks buying for the rest of the day (selling is
never blocked, so positions can still be closed) and no order row is ever written for it."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_CEILING, Decimal

from tradefleet.domain.events import RiskViolationEvent
from tradefleet.domain.risk import RiskLimits, RiskVerdict, check_entry
from tradefleet.ports.events import EventSink
from tradefleet.ports.trade_store import SummaryStore

BUY_BLOCKED = "BUY_BLOCKED"


class RiskService:
    def __init__(self, store: SummaryStore, sink: EventSink, limits: RiskLimits) -> None:
        self._store = store
        self._sink = sink
        self._limits = limits

    async def check_entry(self, worker_id: str, trading_day: date, *, price: int, qty: int,
                          stop_loss_pct: Decimal) -> RiskVerdict:
        """Allowed, or refused with the rule; a refusal is recorded and stops buying."""
        _positive_int("price", price)
        _positive_int("qty", qty)
        if not isinstance(stop_loss_pct, Decimal) or stop_loss_pct <= 0:
            raise ValueError(f"stop_loss_pct: expected a positive Decimal, got {stop_loss_pct!r}")
        blocked = await self._store.buy_blocked(worker_id)
        if blocked is not None:
            return RiskVerdict(False, BUY_BLOCKED, f"buying stopped for the day: {blocked}")
        realized = await self._store.realized_pnl_today(worker_id, trading_day)
        order_value = price * qty
        expected_loss = int((Decimal(order_value) * stop_loss_pct / 100)
                            .to_integral_value(rounding=ROUND_CEILING))
        verdict = check_entry(self._limits, realized_pnl_today=realized,
                              order_value=order_value, expected_loss=expected_loss)
        if not verdict.allowed:
            limit = self._limits.capital_limit if verdict.rule == "CAPITAL_LIMIT" \
                else self._limits.daily_loss_limit
            event = RiskViolationEvent(worker_id=worker_id, rule=verdict.rule or "",
                                       detail=verdict.detail, daily_pnl=realized, limit=limit)
            await self._store.block_buying(worker_id, f"{verdict.rule}: {verdict.detail}", event)
            self._sink.log([event])
        return verdict


def _positive_int(field: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{field}: expected a positive integer, got {value!r}")
