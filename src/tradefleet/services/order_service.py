"""The money path for one order: write the row first (fenced by the symbol lock), send once,
then follow the broker's cumulative report until the order is done.

An order whose send outcome is unknown is NEVER resent: it becomes UNKNOWN and is settled by
looking it up at the broker (by symbol/side/qty/time, as only the broker knows its id).

That lookup must never claim an order somebody else placed (a person trading by hand on the
same account): it searches only from when the row was written (``written_at``, stored with
the row, so a restarted process bounds it the same way), by the writer's clock less
``FIND_MARGIN`` and less how far this process has seen its clock ahead of the broker's (each
acknowledgement carries the broker's time); it takes an order echoing our client order id
first, never one carrying another id, and the broker's order number once known."""

from __future__ import annotations

import asyncio
import contextlib
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
from tradefleet.domain.events import OrderExpiredEvent
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
from tradefleet.ports.feed import FillNotice
from tradefleet.ports.trade_store import (
    NewOrder,
    OrderRow,
    StrategyTag,
    SummaryStore,
    TradeStore,
)
from tradefleet.services.order_answers import OrderAnswers
from tradefleet.services.order_settled import SettledOrders

SEOUL = ZoneInfo("Asia/Seoul")
ADVERSE_TICKS = 2                     # fills worse than this many ticks count as adverse
FIND_MARGIN = timedelta(seconds=5)    # broker and our clocks may differ a little ...
MAX_AHEAD = timedelta(minutes=10)     # ... or, as measured on acks, by up to this much more
POLL_SECONDS = 0.2
SETTLED = object()      # a tracked order's row made final by a pushed fill
UNSEEN_GRACE_S = 20.0    # DB-clock seconds an order may stay invisible before it is expired
UNSEEN_LOOKUPS = 3       # ... and at least this many lookups that did not find it
SEND_WINDOW_S = 10.0     # real seconds a NEW row of ours may stay unsent before others follow it
NEVER_SENT = "no matching order at the broker; never reached the exchange"


_tracer = trace.get_tracer("tradefleet.orders")

class OrderService:
    def __init__(self, store: TradeStore, broker: BrokerPort, sink: EventSink, clock: Clock, *,
                 strategy: StrategyTag | None = None, summaries: SummaryStore | None = None,
                 adverse_ticks: int = ADVERSE_TICKS, unseen_grace_s: float = UNSEEN_GRACE_S,
                 unseen_lookups: int = UNSEEN_LOOKUPS, send_window_s: float = SEND_WINDOW_S
                 ) -> None:
        if unseen_lookups < 1:
            raise ValueError("unseen_lookups: must be >= 1")
        self._store = store
        self._broker = broker
        self._sink = sink
        self._clock = clock
        self._strategy = strategy or StrategyTag("unknown", "0", "0")
        self._ahead = timedelta(0)      # how far our clock was seen ahead of the broker's
        self._summaries = summaries
        self._adverse_ticks = adverse_ticks
        self._decision_price: dict[int, int] = {}    # quote the order was decided on
        self._answers = OrderAnswers(send_window_s)  # our sends and their broker answers
        self._grace = unseen_grace_s
        self._lookups = unseen_lookups
        self._misses: dict[int, int] = {}           # lookups that did not find the order
        self._settled = SettledOrders()             # trackers woken by a pushed fill
        self._log = structlog.get_logger("tradefleet.orders")

    def sending(self, order_id: int) -> bool:
        """See ``OrderAnswers.sending`` (the follower leaves such a row alone)."""
        return self._answers.sending(order_id)

    def answers_pending(self) -> bool:
        """See ``OrderAnswers.pending``."""
        return self._answers.pending()

    def answers_written(self) -> int:
        """How many order answers this process has written (see ``next_answer``)."""
        return self._answers.written

    async def next_answer(self, within_s: float, since: int | None = None) -> None:
        """See ``OrderAnswers.next_answer`` (``since``: a count of ``answers_written``)."""
        await self._answers.next_answer(within_s, since)

    def _trading_day(self) -> date:
        return self._clock.now().astimezone(SEOUL).date()

    def trading_day(self) -> date:
        """Today's trading day by the session clock."""
        return self._trading_day()

    def _search_from(self, order: OrderRow) -> datetime:
        """Where a by-symbol lookup starts: just before the row was written, by the writer's
        clock less the margin and the skew seen on acks (a row from before ``written_at``
        existed: the start of its trading day)."""
        if order.written_at is None:
            return datetime.combine(order.trading_day, datetime.min.time(), tzinfo=SEOUL)
        return order.written_at - FIND_MARGIN - self._ahead

    def _note_broker_time(self, accepted_at: datetime) -> None:
        """An ack carries the broker's time: a clock of ours ahead of it widens the lookup
        bound by as much (bounded: a nonsense time in an ack must not open the whole day)."""
        ahead = self._clock.now() - accepted_at
        if ahead > self._ahead:
            self._ahead = min(ahead, MAX_AHEAD)

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
            None if market is None else str(market), self._clock.now()))
        if row is None:
            raise LockLost(f"symbol: lock on {lock.symbol} (token {lock.fencing_token}) "
                           f"no longer held by {lock.worker_id}; order not written")
        self._answers.row_written(row.order_id)
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
        with self._answers.awaiting(order.order_id):
            return await self._send_once(order)

    async def _send_once(self, order: OrderRow) -> OrderRow:
        request = OrderRequest(order.client_order_id, order.symbol, Side(order.side),
                               OrderType(order.order_type), order.qty, order.limit_price)
        started = time.monotonic()
        answered = started
        span = _tracer.start_span("order.send", attributes={
            "worker_id": order.worker_id, "symbol": order.symbol, "side": str(order.side),
            "qty": order.qty, "fencing_token": order.fencing_token,
            "client_order_id": order.client_order_id})
        try:
            with trace.use_span(span, end_on_exit=True):
                try:
                    ack = await self._broker.place_order(request)
                finally:
                    answered = time.monotonic()
                span.set_attribute("broker_order_id", ack.broker_order_id)
        except (OrderRejected, SendRefused) as exc:
            row, events = await self._store.mark_rejected(order.order_id, exc.code,
                                                          str(exc.message))
        except RateLimited as exc:      # answered by the gateway before the order system
            row, events = await self._store.mark_rejected(order.order_id, "EGW00201", str(exc))
        except AuthError as exc:        # no token, or refused by the gateway: never routed
            row, events = await self._store.mark_rejected(order.order_id, "AUTH", str(exc))
        except Exception as exc:  # noqa: BLE001 - anything else may have reached the exchange
            # sent_at is when the attempt ended, not when this write gets through (a database
            # outage or a pause in between would start the unseen grace late)
            row, events = await self._store.mark_unknown(
                order.order_id, f"{type(exc).__name__}: {exc}",
                answered_at=answered)
        else:
            latency = (answered - started) * 1000
            self._note_broker_time(ack.accepted_at)
            row, events = await self._store.mark_sent(order.order_id, ack.broker_order_id,
                                                      ack.broker_branch, round(latency, 2))
            self._answers.answer_written()
        self._sink.log(events)
        return row

    async def lookup(self, order: OrderRow) -> OrderReport | None:
        """The broker's report for this order: by id, or (id unknown) the order echoing our
        client order id, else by symbol/side/qty from when the row was written, skipping
        orders carrying another client id and broker orders adopted by another of our rows."""
        if not order.broker_order_id:     # another follower may have found it meanwhile
            order = await self._store.get_order(order.order_id)
        if order.broker_order_id:
            self._misses.pop(order.order_id, None)
            return await self._broker.get_order(order.broker_order_id, order.trading_day)
        found = await self._broker.find_orders(order.trading_day, order.symbol,
                                               Side(order.side), self._search_from(order))
        for report in found:
            if report.client_order_id == order.client_order_id:
                self._misses.pop(order.order_id, None)
                return report
        taken = await self._store.adopted_broker_ids(order.trading_day, order.symbol)
        for report in sorted(found, key=lambda r: r.ordered_at):
            if report.qty == order.qty and report.client_order_id is None \
                    and report.broker_order_id not in taken:
                self._misses.pop(order.order_id, None)
                return report
        self._misses[order.order_id] = self._misses.get(order.order_id, 0) + 1
        return None

    async def expire_if_unseen(self, order: OrderRow, *, grace_s: float | None = None,
                               lookups: int | None = None) -> OrderRow | None:
        """After a lookup found nothing: EXPIRE a NEW/UNKNOWN order (no broker id) the broker
        has not shown over ``lookups`` lookups (by this process: the sender's track and the
        follower count together) and ``grace_s`` seconds since it was sent, by the database
        clock. None while it is too young to judge."""
        if order.status not in (OrderStatus.NEW, OrderStatus.UNKNOWN) or \
                self.sending(order.order_id):
            return None
        misses = self._misses.get(order.order_id, 0)
        if misses < (self._lookups if lookups is None else lookups):
            return None
        expired = await self._store.expire_unseen(
            order.order_id, NEVER_SENT, min_age_s=self._grace if grace_s is None else grace_s)
        if expired is None:
            return None
        self._misses.pop(order.order_id, None)
        await self._sink.publish(OrderExpiredEvent(
            worker_id=order.worker_id, symbol=order.symbol, order_id=order.order_id,
            previous_status=str(order.status), lookups=misses, reason=NEVER_SENT))
        return expired

    async def record_fill_notice(self, worker_id: str, trading_day: date,
                                 notice: FillNotice) -> str:
        """A pushed fill notice (issue 20): recorded at once if it is of one of this worker's
        orders; the follower stays the safety net. The outcome, for the log."""
        outcome, row, events = await self._store.record_fill_notice(
            worker_id, trading_day, notice, self._strategy)
        self._sink.log(events)
        if row is not None and row.status.is_terminal:
            self._settled.settled(row.order_id)        # its tracker need not ask the broker
        return outcome

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
            await self._note_adverse_fill(row)
            self._settled.settled(row.order_id)        # e.g. the follower's, this process
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
        """Poll until the order is terminal or ``timeout_s`` passes. No broker error ends the
        order's life here: what is not settled now stays open for the follower
        (services/order_follower.py), which may follow it at the same time (reports apply
        idempotently). An order the broker keeps not showing is expired here by the same
        judgement as the follower's, so a caller that keeps tracking it is never stuck.

        ``timeout_s`` and the poll interval are real seconds, never the session clock's: they
        wait for broker round trips, which take real time at any simulated speed."""
        deadline = time.monotonic() + timeout_s
        row = order
        with self._settled.watching(order.order_id) as settled:
            while True:
                report = await self._lookup_unless_settled(row, settled)
                if report is SETTLED:           # a pushed fill made the row final
                    settled.clear()
                    row = await self._store.get_order(row.order_id)
                    if row.status.is_terminal:
                        await self._note_adverse_fill(row)
                elif report is not None:
                    row = await self.apply(row, report)
                elif not row.broker_order_id:   # judged here, or ended by the follower
                    row = await self.expire_if_unseen(row) or await self._store.get_order(
                        row.order_id)
                if row.status.is_terminal or time.monotonic() >= deadline:
                    return row
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(settled.wait(), POLL_SECONDS)

    async def _lookup_unless_settled(self, row: OrderRow, settled: asyncio.Event
                                     ) -> OrderReport | object | None:
        """The broker's report of ``row``, or ``SETTLED`` as soon as a pushed fill settles
        it first (the lookup, a read, is then given up)."""
        if settled.is_set():
            return SETTLED
        lookup = asyncio.ensure_future(self._lookup_quietly(row))
        woken = asyncio.ensure_future(settled.wait())
        try:
            await asyncio.wait({lookup, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            if not lookup.done():
                lookup.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await lookup
        return lookup.result() if not lookup.cancelled() else SETTLED

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
