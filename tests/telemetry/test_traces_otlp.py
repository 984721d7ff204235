"""Traces over the wire Jaeger ingests: a real ``tradefleet worker`` process and a real
``tradefleet exchange`` process export OTLP/HTTP to a local receiver, and what arrives is
read back from ``ExportTraceServiceRequest``: service names, the poll's spans (scan, lock,
order send) and the KIS client span whose child is the simulator's server span, in another
service but the same trace.

No luck: both processes share a simulated clock *held* at one instant, so every scan sees
the same market; the instant is the first one (from 10:00) at which the worker's own scan,
as configured here, ranks a candidate, so the first scan buys. The batch exporters are told
to wait ten minutes between exports, so what arrives after the stop is what the SIGTERM
path flushed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import aiohttp
from tests.exchange_thread import DAY
from tests.polling import until
from tests.scenarios.harness import worker_env
from tests.telemetry.otlp_receiver import OtlpReceiver, ReceivedSpan, by_id, children

from tradefleet.adapters.clock import SEOUL, FrozenClock, SimClock
from tradefleet.adapters.postgres.candidate_store import PostgresCandidateStore
from tradefleet.adapters.postgres.event_sink import PostgresEventSink
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.filters import FilterParams
from tradefleet.domain.strategies import get_strategy
from tradefleet.local_fleet.processes import free_port
from tradefleet.services.scan_service import SPARE_BARS, ScanService
from tradefleet.settings import load_settings

SEED, SYMBOLS = 7, 20
WORKER = "w-traced"
NO_TIMED_EXPORT = "600000"        # ms: only a full batch or the flush at exit exports


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADEFLEET_", "OTEL_"))}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def _worker_settings_env(base_url: str, clock_env: str, dsn: str) -> dict[str, str]:
    market = SimMarket(SEED, n_symbols=SYMBOLS, clock=FrozenClock(datetime(
        DAY.year, DAY.month, DAY.day, 9, 0, tzinfo=SEOUL)))
    return worker_env(WORKER, TRADEFLEET_SIM_CLOCK=clock_env, TRADEFLEET_DB__DSN=dsn,
                      TRADEFLEET_BROKER__BASE_URL=base_url,
                      TRADEFLEET_UNIVERSE=",".join(market.symbols()),
                      TRADEFLEET_LOG_FORMAT="json")


async def _buying_instant(db, settings_env: dict[str, str]) -> datetime:  # noqa: ANN001
    """The first instant, in 30 s steps from 10:00, at which the worker's scan (its own
    ScanService code, filters and strategy, on the same seeded market) ranks a candidate."""
    settings = load_settings(None, settings_env)
    f = settings.filters
    strategy = get_strategy(settings.strategy.name, dict(settings.strategy.params))
    at = datetime(DAY.year, DAY.month, DAY.day, 10, 0, tzinfo=SEOUL)
    clock = FrozenClock(at)
    market = SimMarket(SEED, n_symbols=SYMBOLS, clock=clock)
    scanner = ScanService(SimBroker(market), PostgresCandidateStore(db),
                          PostgresEventSink(db), strategy,
                          FilterParams(f.min_volume, f.min_traded_value, f.max_spread_ticks),
                          worker_id=WORKER)
    count = int(strategy.bars_needed) + 1 + SPARE_BARS
    for _ in range(240):
        quotes = list(market.quotes(settings.universe).values())
        passed_idx, _ = scanner.prefilter(quotes)
        passed = [quotes[i] for i in passed_idx]
        bars = {q.symbol: market.minute_bars(q.symbol, count) for q in passed}
        signal_, _, _, _ = scanner.evaluate(passed, bars)
        if signal_.any():
            return clock.now()
        clock.advance(30)
    raise AssertionError("no instant with a signal before noon: choose another seed")


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "tradefleet.cli", *args], env=env,
                                stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


async def _healthy(url: str) -> bool:
    try:
        async with aiohttp.ClientSession() as s, s.get(url + "/_admin/health") as resp:
            return resp.status == 200
    except aiohttp.ClientError:
        return False


def _stop(proc: subprocess.Popen, log: Path) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"{proc.args[3]} did not stop on SIGTERM: "
                             f"{log.read_text(errors='replace')[-3000:]}") from None


def _one(spans: list[ReceivedSpan], name: str, **attrs: object) -> ReceivedSpan:
    found = [s for s in spans if s.name == name
             and all(s.attributes.get(k) == v for k, v in attrs.items())]
    assert len(found) == 1, (name, attrs, found)
    return found[0]


async def test_worker_and_exchange_spans_arrive_linked_over_otlp(db, pg_dsn, tmp_path):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    instant = await _buying_instant(db, _worker_settings_env(base_url, "", pg_dsn))
    clock_env = SimClock.held(instant, 1.0, tmp_path / "never-released").to_env()
    with OtlpReceiver() as rx:
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint, "OTEL_BSP_SCHEDULE_DELAY":
                NO_TIMED_EXPORT}
        exchange_log, worker_log = tmp_path / "exchange.log", tmp_path / "worker.log"
        exchange = _start(["exchange", "--port", str(port), "--seed", str(SEED),
                           "--symbols", str(SYMBOLS)],
                          _env(TRADEFLEET_SIM_CLOCK=clock_env, **otel), exchange_log)
        worker = None
        try:
            await until(lambda: _healthy(base_url), "the exchange simulator", 60)
            worker = _start(["worker"], _env(**_worker_settings_env(base_url, clock_env,
                                                                    pg_dsn),
                                             OTEL_EXPORTER_OTLP_COMPRESSION="gzip", **otel),
                            worker_log)
            order = await until(lambda: db.pool.fetchrow(
                "SELECT symbol, qty, client_order_id FROM orders WHERE worker_id = $1 "
                "AND side = 'BUY' AND status = 'FILLED'", WORKER), "the worker's buy", 90)
            await until(lambda: db.pool.fetchval(
                "SELECT status = 'HOLD' FROM workers WHERE worker_id = $1", WORKER),
                "the worker in HOLD", 90)
        finally:
            worker_rc = _stop(worker, worker_log) if worker is not None else None
            exchange_rc = _stop(exchange, exchange_log)
        assert worker_rc == 0, worker_log.read_text(errors="replace")[-3000:]
        assert exchange_rc == 0, exchange_log.read_text(errors="replace")[-3000:]
        spans = rx.received()
        encodings = {r.get("Content-Encoding") for r in rx.requests}

    assert encodings == {"gzip", None}          # the worker gzips, the exchange does not
    worker_spans = [s for s in spans if s.service == "tradefleet-worker"]
    exchange_spans = [s for s in spans if s.service == "tradefleet-exchange"]
    assert worker_spans and exchange_spans
    assert {s.service for s in spans} == {"tradefleet-worker", "tradefleet-exchange"}
    assert {s.resource.get("tradefleet.worker_id") for s in worker_spans} == {WORKER}
    ids = by_id(spans)

    # the poll that bought: worker.poll -> scan.cycle, lock.acquire, order.send
    send = _one(worker_spans, "order.send", client_order_id=order["client_order_id"])
    assert (send.attributes["symbol"], send.attributes["qty"]) == (order["symbol"],
                                                                   order["qty"])
    poll = ids[send.parent_span_id]
    assert poll.name == "worker.poll" and poll.parent_span_id == ""
    assert (poll.attributes["status"], poll.attributes["status_after"]) == ("SCAN", "HOLD")
    in_poll = {s.name: s for s in children(spans, poll)}
    assert {"scan.cycle", "lock.acquire", "order.send"} <= set(in_poll)
    lock = in_poll["lock.acquire"]
    assert (lock.attributes["symbol"], lock.attributes["acquired"]) == (order["symbol"], True)
    assert in_poll["scan.cycle"].attributes["signals"] >= 1

    # order.send -> KIS client span (CLIENT) -> the simulator's server span (SERVER)
    (client,) = children(spans, send)
    assert client.kind == "CLIENT" and client.name.endswith("trading/order-cash")
    assert client.attributes["http.response.status_code"] == 200
    (server,) = children(spans, client)
    assert server.kind == "SERVER" and server.service == "tradefleet-exchange"
    assert server.trace_id == send.trace_id and server.parent_span_id == client.span_id
    assert server.attributes["url.path"] == client.attributes["url.path"]

    # the scan's quote and bar calls too, and nothing lost at the stop: every KIS call that
    # got an answer has the simulator's span under it (both flushed their last batch)
    scan_calls = [s for s in children(spans, in_poll["scan.cycle"]) if s.kind == "CLIENT"]
    assert any("multprice" in s.name for s in scan_calls)
    answered = [s for s in worker_spans if s.kind == "CLIENT"
                and "http.response.status_code" in s.attributes
                and s.attributes["url.path"].startswith("/uapi/")]
    assert len(answered) >= 3
    orphans = [s.name for s in answered
               if [c.kind for c in children(spans, s)] != ["SERVER"]]
    assert orphans == []
    assert all(s.parent_span_id in ids for s in exchange_spans)   # none without its client


async def test_otel_service_name_renames_the_process_and_a_bad_exporter_is_refused(tmp_path):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with OtlpReceiver() as rx:
        log = tmp_path / "exchange.log"
        exchange = _start(["exchange", "--port", str(port)],
                          _env(OTEL_EXPORTER_OTLP_ENDPOINT=rx.endpoint,
                               OTEL_SERVICE_NAME="krx-sim-east"), log)
        try:
            await until(lambda: _healthy(base_url), "the exchange simulator", 60)
            async with aiohttp.ClientSession() as s, s.get(
                    base_url + "/uapi/domestic-stock/v1/quotations/inquire-price") as resp:
                assert resp.status == 500           # no credentials: refused, but traced
        finally:
            assert _stop(exchange, log) == 0, log.read_text(errors="replace")[-3000:]
        spans = rx.received()
    assert [(s.service, s.kind) for s in spans] == [("krx-sim-east", "SERVER")]

    for var, value in (("OTEL_TRACES_EXPORTER", "zipkin"),
                       ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")):
        for command in (["exchange", "--port", "0"], ["worker", "--sim"]):
            done = subprocess.run([sys.executable, "-m", "tradefleet.cli", *command],
                                  env=_env(**{var: value, "OTEL_EXPORTER_OTLP_ENDPOINT":
                                              "http://127.0.0.1:9"}),
                                  capture_output=True, text=True, timeout=120)
            out = " ".join((done.stdout + done.stderr).split())
            assert done.returncode == 2, out
            assert f"{var}={value!r}" in out
