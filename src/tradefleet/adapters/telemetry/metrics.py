"""Every Prometheus metric tradefleet exports, defined here and nowhere else.

Each process builds its own ``CollectorRegistry`` (tests run several workers in one process,
so the global default registry would mix them). Services never import this module: the
worker's metrics are fed by hooks at the adapter layer (the event sink, the order store,
the broker and rate-limiter wrappers) and read at scrape time from Postgres; the operator's
controllers call the few ``OperatorMetrics`` methods.

Names follow Prometheus conventions: ``tradefleet_`` prefix, base units in the name
(``_seconds``, ``_won``, ``_shares``), ``_total`` on counters, and no unbounded labels (no
order ids; a worker's identity comes from its scrape target, or from ``tradefleet_worker_info``).
Money gauges carry whole won (int won is exact in a float64 far past any account size).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from tradefleet.domain.events import Event
from tradefleet.domain.states import WorkerStatus

# the ``*_created`` companion series double every counter and no dashboard reads them
prometheus_client.disable_created_metrics()

# the classic text format every Prometheus (2.x and 3.x) and agent reads; our names need
# none of 1.0.0's escaping
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# broker round trips: a fast simulator answers in a millisecond, KIS in tens to hundreds
BROKER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# waits for a place in the per-appkey request budget (a second is a full KIS window)
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class WorkerMetrics:
    """One worker process's metrics. Counters count what THIS process did since it started
    (Prometheus' ``rate``/``increase`` absorb restarts); gauges are set at scrape time."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.info = Gauge("tradefleet_worker_info", "Always 1; labels identify the worker "
                          "(join on instance for a per-worker view).", ["worker_id"],
                          registry=r)
        self.state = Gauge("tradefleet_worker_state", "1 for the worker's current state "
                           "(IDLE, SCAN, HOLD, EXIT), 0 for the others.", ["state"], registry=r)
        self.position_shares = Gauge("tradefleet_position_shares",
                                     "Shares held in this worker's open positions.",
                                     ["symbol"], registry=r)
        self.position_value = Gauge("tradefleet_position_value_won",
                                    "Open positions at their entry price (cost basis), won.",
                                    ["symbol"], registry=r)
        self.realized_pnl = Gauge("tradefleet_realized_pnl_today_won",
                                  "Realized PnL of today's closed positions after costs, won "
                                  "(the figure the daily loss limit is judged on).", registry=r)
        self.heartbeat_age = Gauge("tradefleet_heartbeat_age_seconds",
                                   "Age of this worker's heartbeat by the database clock "
                                   "(NaN when the database did not answer the scrape).",
                                   registry=r)
        self.feed_live = Gauge("tradefleet_feed_live", "1 while exits are decided on each "
                               "tick of the account's feed, 0 while on the poll only (feed "
                               "down, stale, or not configured).", registry=r)
        self.orders = Counter("tradefleet_orders", "Orders this process moved into a status "
                              "(NEW when written, then each later status once).",
                              ["side", "status"], registry=r)
        self.fills = Counter("tradefleet_order_fills", "Fills recorded.", ["side"], registry=r)
        self.filled_shares = Counter("tradefleet_order_filled_shares", "Shares filled.",
                                     ["side"], registry=r)
        self.lock_acquisitions = Counter("tradefleet_lock_acquisitions",
                                         "Symbol locks acquired.", registry=r)
        self.lock_rejections = Counter("tradefleet_lock_rejections", "Lock attempts refused: "
                                       "another worker held the symbol.", registry=r)
        self.lock_releases = Counter("tradefleet_lock_releases", "Symbol locks released, by "
                                     "reason (EXITED, UNFILLED, RECLAIMED ...).", ["reason"],
                                     registry=r)
        self.reclaims = Counter("tradefleet_workers_reclaimed", "Stale workers (heartbeat "
                                "past TTL) whose locks this process reclaimed.", registry=r)
        self.positions_closed = Counter("tradefleet_positions_closed", "Positions closed, by "
                                        "result (win, loss, flat).", ["result"], registry=r)
        self.risk_violations = Counter("tradefleet_risk_violations", "Orders blocked by a "
                                       "risk limit.", ["rule"], registry=r)
        self.broker_calls = Histogram("tradefleet_broker_call_duration_seconds",
                                      "Broker port calls (quotes, orders, lookups ...) as the "
                                      "worker saw them, by outcome (ok or the error type).",
                                      ["operation", "outcome"], buckets=BROKER_BUCKETS,
                                      registry=r)
        self.budget_wait = Histogram("tradefleet_rate_budget_wait_seconds",
                                     "Time each broker request waited for its place in the "
                                     "per-appkey request budget.", buckets=WAIT_BUCKETS,
                                     registry=r)
        self.budget_refusals = Counter("tradefleet_rate_budget_refusals",
                                       "Requests given up for want of budget (never sent).",
                                       registry=r)
        self.refresh_failures = Counter("tradefleet_metrics_refresh_failures",
                                        "Scrapes whose database readings failed.", registry=r)

    # --- hooks ---------------------------------------------------------------------------
    def observe_event(self, event: Event) -> None:
        """The event sink's observer: counters from the events every step already writes."""
        handler = _EVENT_COUNTERS.get(event.event_type)
        if handler is not None:
            handler(self, event)

    def order_status(self, side: str, status: str) -> None:
        """The order store's observer: called once per status an order moves into."""
        self.orders.labels(side=str(side), status=str(status)).inc()

    def broker_call(self, operation: str, outcome: str, seconds: float) -> None:
        self.broker_calls.labels(operation=operation, outcome=outcome).observe(seconds)

    def budget_waited(self, seconds: float, granted: bool) -> None:
        self.budget_wait.observe(seconds)
        if not granted:
            self.budget_refusals.inc()

    # --- scrape-time readings ------------------------------------------------------------
    def set_identity(self, worker_id: str) -> None:
        self.info.labels(worker_id=worker_id).set(1)

    def set_feed_live(self, live: bool) -> None:
        self.feed_live.set(1 if live else 0)

    def set_state(self, status: str) -> None:
        for state in WorkerStatus:
            self.state.labels(state=state.value).set(1 if state.value == status else 0)

    def set_readings(self, *, positions: Mapping[str, tuple[int, int]], realized_pnl_won: int,
                     heartbeat_age_seconds: float | None) -> None:
        """``positions``: symbol -> (shares, value won) of the open positions, complete (a
        symbol no longer held disappears from the series)."""
        self.position_shares.clear()
        self.position_value.clear()
        for symbol, (shares, value) in positions.items():
            self.position_shares.labels(symbol=symbol).set(shares)
            self.position_value.labels(symbol=symbol).set(value)
        self.realized_pnl.set(realized_pnl_won)
        self.heartbeat_age.set(float("nan") if heartbeat_age_seconds is None
                               else heartbeat_age_seconds)

    def readings_failed(self) -> None:
        """The database did not answer: the age is unknown now (the other gauges keep their
        last values, which a dashboard shows as they were)."""
        self.refresh_failures.inc()
        self.heartbeat_age.set(float("nan"))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _order_filled(m: WorkerMetrics, e: Event) -> None:
    m.fills.labels(side=e.side).inc()
    m.filled_shares.labels(side=e.side).inc(e.qty)


def _lock_released(m: WorkerMetrics, e: Event) -> None:
    m.lock_releases.labels(reason=e.reason).inc()


def _position_exited(m: WorkerMetrics, e: Event) -> None:
    m.positions_closed.labels(result=e.result).inc()


def _risk(m: WorkerMetrics, e: Event) -> None:
    m.risk_violations.labels(rule=e.rule).inc()


_EVENT_COUNTERS = {
    "LockAcquiredEvent": lambda m, e: m.lock_acquisitions.inc(),
    "LockRejectedEvent": lambda m, e: m.lock_rejections.inc(),
    "LockReleasedEvent": _lock_released,
    "WorkerFailedEvent": lambda m, e: m.reclaims.inc(),
    "OrderFilledEvent": _order_filled,
    "PositionExitedEvent": _position_exited,
    "RiskViolationEvent": _risk,
}


class OperatorMetrics:
    """The operator's metrics: what its reconcile passes and schedules did."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.reconciles = Counter("tradefleet_operator_reconciles", "TradingWorker reconcile "
                                  "passes, by outcome (ok, degraded, error).", ["outcome"],
                                  registry=r)
        self.reconcile_duration = Histogram("tradefleet_operator_reconcile_duration_seconds",
                                            "Duration of one reconcile pass.",
                                            buckets=RECONCILE_BUCKETS, registry=r)
        self.pods_created = Counter("tradefleet_operator_pods_created", "Worker pods created "
                                    "(first pods and recreations).", registry=r)
        self.pod_recreations = Counter("tradefleet_operator_pod_recreations", "Worker pods "
                                       "created to replace one that failed or vanished.",
                                       registry=r)
        self.pod_deletions = Counter("tradefleet_operator_pod_deletions", "Worker pods "
                                     "deleted, by reason.", ["reason"], registry=r)
        self.reclaims = Counter("tradefleet_operator_reclaims", "Reclaim passes run for a "
                                "worker with a stale heartbeat.", registry=r)
        self.workers_reclaimed = Counter("tradefleet_operator_workers_reclaimed", "Workers "
                                         "whose locks a reclaim pass took back.", registry=r)
        self.liquidations = Counter("tradefleet_operator_liquidation_runs", "Forced "
                                    "liquidations ordered by a LiquidationSchedule.",
                                    registry=r)
        self.liquidation_workers = Counter("tradefleet_operator_liquidation_workers_ordered",
                                           "TradingWorkers ordered to liquidate.", registry=r)
        self.liquidation_checks = Counter("tradefleet_operator_liquidation_checks", "After-"
                                          "close checks of a run, by outcome (flat, not_flat).",
                                          ["outcome"], registry=r)
        self.orphans_sold = Counter("tradefleet_operator_orphans_sold", "Orphaned positions "
                                    "the operator's seller sold.", registry=r)

    def reconciled(self, outcome: str, seconds: float) -> None:
        self.reconciles.labels(outcome=outcome).inc()
        self.reconcile_duration.observe(seconds)

    def pod_created(self, *, recreation: bool) -> None:
        self.pods_created.inc()
        if recreation:
            self.pod_recreations.inc()

    def pod_deleted(self, reason: str) -> None:
        self.pod_deletions.labels(reason=reason).inc()

    def reclaimed(self, workers: Iterable[str]) -> None:
        self.reclaims.inc()
        self.workers_reclaimed.inc(len(list(workers)))

    def liquidation_ordered(self, workers: int) -> None:
        self.liquidations.inc()
        self.liquidation_workers.inc(workers)

    def liquidation_checked(self, *, flat: bool, orphans_sold: int = 0) -> None:
        self.liquidation_checks.labels(outcome="flat" if flat else "not_flat").inc()
        self.orphans_sold.inc(orphans_sold)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def exported_names(registry: CollectorRegistry) -> set[str]:
    """The series names a registry exposes (``_total``, ``_bucket`` ... included), whether
    or not a labelled metric has a child yet: what a dashboard query may name."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
                "gauge": ("",), "summary": ("", "_sum", "_count"), "info": ("_info",)}
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + s for s in suffixes.get(family.type, ("",)))
    return names
