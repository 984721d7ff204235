"""The money path for one order: write the row first (fenced by the symbol lock), send once,
then follow the broker's cumulative report until the order is done.

An order whose send outcome is unknown is NEVER resent: it becomes UNKNOWN and is settled by
looking it up at the broker (by symbol/side/qty/time, as only the broker knows its id)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import structlog
from opentelemetry import trace

from tradefleet.domain.errors import (
    AuthError,
    LockLost,
    OrderRejected,
    RateLimited,
    SendRefused,
)
from tradefleet.domain.krx import tick_size
from tradefleet.domain.locks import Lock
from tradefleet.domain.orders import (
    OrderPurpose,
    OrderReport,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)
from tradefleet.ports.broker import BrokerPort
from tradefleet.ports.clock import Clock
from tradefleet.ports.events import EventSink
from tradefleet.ports.trade_store import (
    NewOrder,
    OrderRow,
    StrategyTag,
    SummaryStore,
    TradeStore,
)

SEOUL = ZoneInfo("Asia/Seoul")
ADVERSE_TICKS = 2                     # fills worse than this many ticks count as adverse
FIND_MARGIN = timedelta(seconds=5)    # broker and our clocks may differ a little
POLL_SECONDS = 0.2


_tracer = trace.get_tracer("tradefleet.orders")

class OrderService:
    def __init__(self, store: TradeStore, broker: BrokerPort, sink: EventSink, clock: Clock, *,
                 strategy: StrategyTag | None = None, summaries: SummaryStore | None = None,
                 adverse_ticks: int = ADVERSE_TICKS) -> None:
        self._store = store
        self._broker = broker
        self._sink = sink
        self._clock = clock
        self._strategy = strategy or StrategyTag("unknown", "0", "0")
        self._created_at: dict[int, datetime] = {}   # broker-clock time each row was written
        self._summaries = summaries
        self._adverse_ticks = adverse_ticks
        self._decision_price: dict[int, int] = {}    # quote the order was decided on
        # rows written by this process and not yet past their one send: the follower leaves
        # them alone (only this process may still send them)
        self.in_flight: set[int] = set()
        self._log = structlog.get_logger("tradefleet.orders")

    def _trading_day(self) -> date:
        return self._clock.now().astimezone(SEOUL).date()

    def _search_from(self, order: OrderRow) -> datetime:
        """Where a by-symbol lookup starts: just before this process wrote the row, or (row
        from before a restart) the start of its trading day; the broker's clock, not the DB's."""
        known = self._created_at.get(order.order_id)
        if known is not None:
            return known - FIND_MARGIN
        return datetime.combine(order.trading_day, datetime.min.time(), tzinfo=SEOUL)

    async def create_order(self, lock: Lock, *, side: Side | str, qty: int,
                           order_type: OrderType | str, limit_price: int | None,
                           purpose: OrderPurpose | str, attempt: int = 1,
                           decision_price: int | None = None,
                           market: str | None = None) -> OrderRow:
        """Write the NEW row under the lock's fencing token; raises LockLost if refused.
        ``decision_price`` (the quote the decision used) lets adverse fills be noted."""
        side, order_type, purpose = _check(side, qty, order_type, limit_price, purpose, attempt)
        day = self._trading_day()
        cid = f"tf-{lock.worker_id}-{day:%Y%m%d}-{uuid.uuid4().hex[:12]}"
        row, events = await self._store.create_order(lock, NewOrder(
            cid, day, side, order_type, qty, limit_price, purpose, attempt,
            None if market is None else str(market)))
        if row is None:
            raise LockLost(f"symbol: lock on {lock.symbol} (token {lock.fencing_token}) "
                           f"no longer held by {lock.worker_id}; order not written")
        self._created_at[row.order_id] = self._clock.now()
        self.in_flight.add(row.order_id)
        if decision_price is not None:
            self._decision_price[row.order_id] = decision_price
        self._sink.log(events)
        return row

    async def send_order(self, order: OrderRow) -> OrderRow:
        """Call the broker exactly once for this row. Whatever the send raises, the row ends
        REJECTED (definitely not at the exchange: business refusal, gateway rate limit, our
        own send guard) or UNKNOWN (may be at the exchange: followed, never resent)."""
        if order.status is not OrderStatus.NEW:
            raise ValueError(f"status: only NEW orders are sent, order {order.order_id} is "
                             f"{order.status}")
        try:
            return await self._send_once(order)
        finally:
            self.in_flight.discard(order.order_id)

    async def _send_once(self, order: OrderRow) -> OrderRow:
        request = OrderRequest(order.client_order_id, order.symbol, Side(order.side),
                               OrderType(order.order_type), order.qty, order.limit_price)
        started = time.monotonic()
        span = _tracer.start_span("order.send", attributes={
            "worker_id": order.worker_id, "symbol": order.symbol, "side": str(order.side),
            "qty": order.qty, "fencing_token": order.fencing_token,
            "client_order_id": order.client_order_id})
        try:
            with trace.use_span(span, end_on_exit=True):
                ack = await self._broker.place_order(request)
                span.set_attribute("broker_order_id", ack.broker_order_id)
        except (OrderRejected, SendRefused) as exc:
            row, events = await self._store.mark_rejected(order.order_id, exc.code,
                                                          str(exc.message))
        except RateLimited as exc:      # answered by the gateway before the order system
            row, events = await self._store.mark_rejected(order.order_id, "EGW00201", str(exc))
        except AuthError as exc:        # no token, or refused by the gateway: never routed
            row, events = await self._store.mark_rejected(order.order_id, "AUTH", str(exc))
        except Exception as exc:  # noqa: BLE001 - anything else may have reached the exchange
            row, events = await self._store.mark_unknown(
                order.order_id, f"{type(exc).__name__}: {exc}")
        else:
            latency = (time.monotonic() - started) * 1000
            row, events = await self._store.mark_sent(order.order_id, ack.broker_order_id,
                                                      ack.broker_branch, round(latency, 2))
        self._sink.log(events)
        return row

    async def lookup(self, order: OrderRow) -> OrderReport | None:
        """The broker's report for this order: by id, or (id unknown) by symbol/side/qty/time,
        skipping broker orders already adopted by another of our rows."""
        if not order.broker_order_id:     # another follower may have found it meanwhile
            order = await self._store.get_order(order.order_id)
        if order.broker_order_id:
            return await self._broker.get_order(order.broker_order_id, order.trading_day)
        found = await self._broker.find_orders(order.trading_day, order.symbol,
                                               Side(order.side), self._search_from(order))
        taken = await self._store.adopted_broker_ids(order.trading_day, order.symbol)
        for report in sorted(found, key=lambda r: r.ordered_at):
            if report.qty == order.qty and report.broker_order_id not in taken:
                return report
        return None

    async def apply(self, order: OrderRow, report: OrderReport) -> OrderRow:
        row, events = await self._store.apply_report(order.order_id, report, self._strategy)
        self._sink.log(events)
        for event in events:
            if event.event_type == "OrderFilledEvent":
                with _tracer.start_as_current_span("order.fill", attributes={
                        "worker_id": row.worker_id, "symbol": row.symbol,
                        "side": str(row.side), "qty": int(getattr(event, "qty", 0)),
                        "price": str(getattr(event, "price", "")),
                        "fencing_token": row.fencing_token}):
                    pass
        if row.status.is_terminal:
            self._created_at.pop(row.order_id, None)
            await self._note_adverse_fill(row)
        return row

    async def _note_adverse_fill(self, row: OrderRow) -> None:
        """Tuning input: a fill worse than the decision quote by more than N ticks (thin
        books) is recorded in the daily summary."""
        decided = self._decision_price.pop(row.order_id, None)
        if decided is None or row.filled_qty == 0 or self._summaries is None:
            return
        avg = Decimal(row.filled_amount) / row.filled_qty
        worse = (avg - decided) if row.side == Side.BUY else (decided - avg)
        ticks = worse / tick_size(decided)
        if ticks > self._adverse_ticks:
            await self._summaries.append_tuning(row.worker_id, row.trading_day, "adverse_fills", {
                "order_id": row.order_id, "symbol": row.symbol, "side": row.side,
                "purpose": row.purpose, "decision_price": decided,
                "avg_fill_price": str(avg.quantize(Decimal("0.01"))),
                "ticks": str(ticks.quantize(Decimal("0.01")))})

    async def track(self, order: OrderRow, *, timeout_s: float) -> OrderRow:
        """Poll until the order is terminal or ``timeout_s`` (real seconds) passes. No broker
        error ends the order's life here: what is not settled now stays open for the
        follower (services/order_follower.py)."""
        deadline = time.monotonic() + timeout_s
        row = order
        self.in_flight.add(order.order_id)      # the follower leaves it to us meanwhile
        try:
            while True:
                report = await self._lookup_quietly(row)
                if report is not None:
                    row = await self.apply(row, report)
                if row.status.is_terminal or time.monotonic() >= deadline:
                    return row
                await asyncio.sleep(POLL_SECONDS)   # real time: broker round trips
        finally:
            self.in_flight.discard(order.order_id)

    async def _lookup_quietly(self, row: OrderRow) -> OrderReport | None:
        try:
            return await self.lookup(row)
        except Exception as exc:  # noqa: BLE001 - any broker failure: look again later
            self._log.warning("order status read failed; order stays open",
                              order_id=row.order_id, symbol=row.symbol,
                              error_type=type(exc).__name__, error=str(exc))
            return None

    async def cancel_remainder(self, order: OrderRow) -> OrderRow:
        """Cancel what is still open at the broker and record the final report. A failed or
        ambiguous cancel leaves the order open: the follower cancels and reads it again."""
        if order.status.is_terminal or order.broker_order_id is None:
            return order
        try:
            await self._broker.cancel_order(order.broker_order_id, order.broker_branch)
        except Exception as exc:  # noqa: BLE001 - the report below tells what happened
            self._log.warning("cancel failed or ambiguous; order stays open",
                              order_id=order.order_id, symbol=order.symbol,
                              error_type=type(exc).__name__, error=str(exc))
        report = await self._lookup_quietly(order)
        return await self.apply(order, report) if report else order


def _check(side: object, qty: object, order_type: object, limit_price: object,
           purpose: object, attempt: object) -> tuple[str, str, str]:
    """Validate before anything is written; errors name the field."""
    try:
        side = Side(side)
    except ValueError:
        raise ValueError(f"side: expected BUY or SELL, got {side!r}") from None
    try:
        order_type = OrderType(order_type)
    except ValueError:
        raise ValueError(f"order_type: expected MARKET or LIMIT, got {order_type!r}") from None
    try:
        purpose = OrderPurpose(purpose)
    except ValueError:
        raise ValueError(f"purpose: unknown {purpose!r}") from None
    if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
        raise ValueError(f"qty: expected a positive integer, got {qty!r}")
    if order_type is OrderType.LIMIT:
        if isinstance(limit_price, bool) or not isinstance(limit_price, int) or limit_price <= 0:
            raise ValueError(f"limit_price: expected a positive integer won, got {limit_price!r}")
    elif limit_price is not None:
        raise ValueError("limit_price: must be None for a MARKET order")
    if isinstance(attempt, bool) or not isinstance(attempt, int) or not 1 <= attempt <= 10:
        raise ValueError(f"attempt: expected 1..10, got {attempt!r}")
    return str(side), str(order_type), str(purpose)
