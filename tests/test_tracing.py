"""OpenTelemetry: lock attempts, order sends and fills are spans with trading attributes, and
the broker HTTP call is a client span whose context reaches the exchange simulator."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.kis_harness import rig
from tests.test_locks import register

from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.order_store import PostgresOrderStore
from tradefleet.adapters.telemetry.tracing import configure_tracing
from tradefleet.domain.orders import OrderPurpose, OrderType, Side
from tradefleet.services.lock_service import LockService
from tradefleet.services.order_service import OrderService


async def test_order_path_spans_link_worker_to_exchange(db, sink):
    exporter = InMemorySpanExporter()
    configure_tracing("tradefleet-test", exporter=exporter)
    await register(db, sink, "wtrace")
    async with rig() as r:
        symbol = r.market.symbols()[0]
        locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
        orders = OrderService(PostgresOrderStore(db), r.broker, sink, r.clock)
        lock = await locks.acquire_lock(symbol, "wtrace")
        order = await orders.create_order(lock, side=Side.BUY, qty=1,
                                          order_type=OrderType.MARKET, limit_price=None,
                                          purpose=OrderPurpose.ENTRY)
        sent = await orders.send_order(order)
        report = await orders.lookup(sent)
        await orders.apply(sent, report)

    spans = exporter.get_finished_spans()
    by_name = {}
    for s in spans:
        by_name.setdefault(s.name, []).append(s)
    acquire = by_name["lock.acquire"][-1]
    assert acquire.attributes["symbol"] == symbol
    assert acquire.attributes["fencing_token"] == lock.fencing_token
    assert acquire.attributes["acquired"] is True

    send = by_name["order.send"][-1]
    assert send.attributes["worker_id"] == "wtrace" and send.attributes["qty"] == 1
    assert send.attributes["fencing_token"] == lock.fencing_token
    client = [s for s in spans if s.kind is trace.SpanKind.CLIENT
              and s.parent is not None and s.parent.span_id == send.context.span_id]
    assert len(client) == 1 and "order-cash" in client[0].name
    server = [s for s in spans if s.kind is trace.SpanKind.SERVER
              and s.parent is not None and s.parent.span_id == client[0].context.span_id]
    assert len(server) == 1
    assert server[0].context.trace_id == send.context.trace_id

    fills = by_name.get("order.fill", [])
    assert fills and fills[0].attributes["symbol"] == symbol
    assert fills[0].attributes["side"] == "BUY"


async def test_scan_cycle_is_a_span_with_its_outcome(db, sink):
    from datetime import datetime

    from tradefleet.adapters.clock import SEOUL, FrozenClock
    from tradefleet.adapters.postgres.candidate_store import PostgresCandidateStore
    from tradefleet.adapters.sim.broker import SimBroker
    from tradefleet.adapters.sim.engine import SimMarket
    from tradefleet.domain.filters import FilterParams
    from tradefleet.domain.strategies import get_strategy
    from tradefleet.services.scan_service import ScanService

    exporter = InMemorySpanExporter()
    configure_tracing("tradefleet-test", exporter=exporter)
    await register(db, sink, "wscan")
    clock = FrozenClock(datetime(2026, 11, 24, 11, 0, tzinfo=SEOUL))
    market = SimMarket(5, n_symbols=30, clock=clock)
    scanner = ScanService(SimBroker(market), PostgresCandidateStore(db), sink,
                          get_strategy("ma_breakout", {}), FilterParams(0, 0, 100),
                          worker_id="wscan")
    result = await scanner.scan(market.symbols(), clock.now().date())
    span = [s for s in exporter.get_finished_spans() if s.name == "scan.cycle"][-1]
    assert span.attributes["worker_id"] == "wscan"
    assert span.attributes["universe_size"] == 30
    assert span.attributes["passed_filters"] == result.passed_filters
    assert span.attributes["signals"] == len(result.ranked)
