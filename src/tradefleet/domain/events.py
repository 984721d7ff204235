"""Typed events named by the spec. Each event is stored in ``events`` and logged (spec §6).

``level`` is the log level spec §6.1 gives for the event; ``message`` is the human log line.
Events never carry secrets: account numbers, keys and tokens are not fields of any event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

LogLevel = Literal["debug", "info", "warning", "error", "critical"]


class Event(BaseModel):
    # defer_build: an event's validator is built when the event is first made, not at import
    # (a worker publishes a handful of the ~30 kinds; start-up does not build them all)
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    level: ClassVar[LogLevel] = "info"
    message: ClassVar[str] = ""

    worker_id: str | None = None
    symbol: str | None = None

    @property
    def event_type(self) -> str:
        return type(self).__name__

    def payload(self) -> dict[str, Any]:
        """Fields other than worker_id/symbol, JSON-ready, for the ``events.payload`` column."""
        return self.model_dump(mode="json", exclude={"worker_id", "symbol"})


# --- worker lifecycle (INFO; failures ERROR) -------------------------------------------------
class WorkerStartedEvent(Event):
    message: ClassVar[str] = "worker started"
    pid: int
    host: str
    status: str          # mode is deliberately absent: spec §5.1 keeps it out of the logs
    epoch: int
    capital_limit: int
    daily_loss_limit: int
    liquidation_at: datetime | None = None


class WorkerStoppedEvent(Event):
    message: ClassVar[str] = "worker stopped"
    pid: int
    status: str
    reason: str


class StateTransitionedEvent(Event):
    message: ClassVar[str] = "state transition"
    from_status: str
    to_status: str
    reason: str = ""


class AuthenticatedEvent(Event):
    message: ClassVar[str] = "broker authentication succeeded"
    token_expires_at: datetime | None = None
    reused: bool = False


class MarketClosedEvent(Event):
    """The exchange has no session on the worker's day: it does not trade and exits."""
    level: ClassVar[LogLevel] = "warning"
    message: ClassVar[str] = "KRX is closed today: not trading, exiting"
    trading_day: str                 # ISO date
    reason: str                      # e.g. "9th nationwide local elections (calendar override)"


class WorkerFailedEvent(Event):
    level: ClassVar[LogLevel] = "error"
    message: ClassVar[str] = "worker failure detected; locks reclaimed"
    last_heartbeat_at: datetime
    locks_reclaimed: int
    detected_by: str | None = None


class BrokerCallFailedEvent(Event):
    level: ClassVar[LogLevel] = "error"
    message: ClassVar[str] = "broker call failed"
    operation: str
    error_type: str
    error: str
    attempts: int


# --- scanning -------------------------------------------------------------------------------
class CandidateScannedEvent(Event):
    message: ClassVar[str] = "candidates scanned"
    scan_id: str
    universe_size: int
    passed_filters: int
    signals: int
    candidates: list[str] = Field(default_factory=list)
    filter_rejections: dict[str, int] = Field(default_factory=dict)
    duration_ms: float
    shared: bool = False          # read from the account's shared scan, computed elsewhere
    cpu_ms: float | None = None   # this process's CPU time for the scan


# --- locks (acquired/released INFO, rejected WARN) -------------------------------------------
class LockAcquiredEvent(Event):
    message: ClassVar[str] = "lock acquired"
    fencing_token: int
    locked_at: datetime
    ttl_seconds: int


class LockRejectedEvent(Event):
    level: ClassVar[LogLevel] = "warning"
    message: ClassVar[str] = "lock rejected: symbol held by another worker; trying other symbols"
    held_by: str | None = None


class LockReleasedEvent(Event):
    message: ClassVar[str] = "lock released"
    fencing_token: int
    locked_at: datetime
    reason: str                      # EXITED, REJECTED, RECLAIMED, SHUTDOWN ...


# --- orders (created/sent/filled INFO; rejected/unfilled WARN) -------------------------------
class OrderCreatedEvent(Event):
    message: ClassVar[str] = "order created"
    order_id: int
    client_order_id: str
    side: str
    order_type: str
    qty: int
    limit_price: int | None = None
    status: str
    purpose: str
    fencing_token: int


class OrderSentEvent(Event):
    message: ClassVar[str] = "order sent"
    order_id: int
    client_order_id: str
    broker_order_id: str | None
    side: str
    qty: int
    status: str
    latency_ms: float | None = None


class OrderFilledEvent(Event):
    message: ClassVar[str] = "fill received"
    order_id: int
    fill_id: int
    side: str
    price: str                       # Decimal as text
    qty: int
    cumulative_qty: int
    status: str


class OrderRejectedEvent(Event):
    level: ClassVar[LogLevel] = "warning"
    message: ClassVar[str] = "order rejected"
    order_id: int
    client_order_id: str
    side: str
    qty: int
    status: str
    code: str
    reason: str


class OrderUnresolvedEvent(Event):
    level: ClassVar[LogLevel] = "error"
    message: ClassVar[str] = "order outcome ambiguous; not resent, reconciling with broker"
    order_id: int
    client_order_id: str
    side: str
    qty: int
    error: str


class OrderUnfilledEvent(Event):
    level: ClassVar[LogLevel] = "warning"
    message: ClassVar[str] = "order not fully filled"
    order_id: int
    side: str
    qty: int
    filled_qty: int
    unfilled_qty: int
    attempt: int
    will_retry: bool


class OrderExpiredEvent(Event):
    level: ClassVar[LogLevel] = "warning"
    message: ClassVar[str] = "order expired: never seen at the broker"
    order_id: int
    previous_status: str
    lookups: int
    reason: str


class FillUnmatchedEvent(Event):
    """A SELL fill with no (or too small an) open position behind it: recorded as a fill,
    never dropped; the account reconciliation and the books show the difference."""

    level: ClassVar[LogLevel] = "error"
    message: ClassVar[str] = "fill without a matching open position"
    order_id: int
    side: str
    qty: int
    unmatched_qty: int


# --- orphans (shares no live worker owns) --------------------------------------------------
class OrphanAdoptedEvent(Event):
    level: ClassVar[LogLevel] = "warning"
    message: ClassVar[str] = "orphaned shares adopted; selling them"
    position_id: int
    qty: int
    adopted_from: str
    fencing_token: int


# --- positions ------------------------------------------------------------------------------
class PositionEnteredEvent(Event):
    message: ClassVar[str] = "position entered"
    position_id: int
    qty: int
    entry_price: str
    entry_at: datetime
    strategy_name: str
    strategy_version: str
    param_version: str
    fencing_token: int


class MonitoringEvent(Event):
    message: ClassVar[str] = "position monitored; exit conditions not met"
    position_id: int
    price: int
    pnl_pct: str
    checks: dict[str, bool]          # stop_loss, take_profit, trend_break, time_exit -> triggered?


class PositionExitedEvent(Event):
    message: ClassVar[str] = "position exited"
    position_id: int
    qty: int
    entry_price: str
    exit_price: str
    exit_reason: str
    realized_pnl: int
    result: Literal["win", "loss", "flat"]


class PnlCalculatedEvent(Event):
    message: ClassVar[str] = "pnl calculated"
    position_id: int
    pnl: int
    result: Literal["win", "loss", "flat"]
    gross: int
    fees: int
    taxes: int


class DailySummaryUpdatedEvent(Event):
    message: ClassVar[str] = "daily summary saved"
    trading_day: str
    realized_pnl: int
    trades_count: int
    win_rate: str | None
    avg_pnl: str | None
    max_loss: int


class MandatoryLiquidationEvent(Event):
    message: ClassVar[str] = "mandatory liquidation started"
    liquidation_at: datetime
    positions: list[str]
    order_of_exit: list[str] = Field(default_factory=list)


class LiquidationShortfallEvent(Event):
    level: ClassVar[LogLevel] = "warning"
    message: ClassVar[str] = "liquidation left shares unsold after retries (illiquid)"
    position_id: int
    unsold_qty: int
    attempts: int


# --- risk (WARN) ----------------------------------------------------------------------------
class RiskViolationEvent(Event):
    level: ClassVar[LogLevel] = "warning"
    message: ClassVar[str] = "risk limit breached; order blocked, buying stopped"
    rule: str                        # DAILY_LOSS_LIMIT, CAPITAL_LIMIT
    detail: str
    daily_pnl: int | None = None
    limit: int | None = None


# --- entry refused on time (WARN) ---------------------------------------------------------
class EntryCutoffEvent(Event):
    """A buy refused right before its order row: the entry cutoff had passed, so the forced
    liquidation would have no time to undo it. Buying stays stopped for the day."""

    level: ClassVar[LogLevel] = "warning"
    message: ClassVar[str] = ("entry refused: past the entry cutoff, the liquidation could "
                              "not undo it")
    now: datetime                    # the session clock at the check
    cutoff_at: datetime              # liquidation_at - entry_cutoff
    liquidation_at: datetime
    quoted_at: datetime              # the scan's quote the entry was decided on


class StaleScanDiscardedEvent(Event):
    """A scan whose quotes were older than the freshness limit when its entry was about to
    be written: discarded, not traded on; the next poll scans again."""

    level: ClassVar[LogLevel] = "warning"
    message: ClassVar[str] = "scan discarded: older than its freshness limit, not traded on"
    quoted_at: datetime
    age_seconds: float
    max_age_seconds: float


ALL_EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        WorkerStartedEvent, WorkerStoppedEvent, StateTransitionedEvent, AuthenticatedEvent,
        MarketClosedEvent, WorkerFailedEvent, BrokerCallFailedEvent, CandidateScannedEvent,
        LockAcquiredEvent,
        LockRejectedEvent, LockReleasedEvent, OrderCreatedEvent, OrderSentEvent, OrderFilledEvent,
        OrderRejectedEvent, OrderUnresolvedEvent, OrderUnfilledEvent, PositionEnteredEvent,
        MonitoringEvent, PositionExitedEvent, PnlCalculatedEvent, DailySummaryUpdatedEvent,
        MandatoryLiquidationEvent, LiquidationShortfallEvent, RiskViolationEvent,
        EntryCutoffEvent, StaleScanDiscardedEvent,
    )
}
