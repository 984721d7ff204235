"""Market days (issue 9 A): a worker trades only inside the exchange's session of its day.

Driven through the worker's own start-up path (``launch``) in paper mode, with the KIS
adapter talking real HTTP to the exchange simulator, on a clock set to a known special day.
The simulator records every request with the simulated time it arrived at, so "nothing
before the open" is checked where it matters: at the exchange."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import aiohttp
import pytest
from aiohttp import web

from tradefleet.adapters.clock import SEOUL, FrozenClock, SimClock
from tradefleet.adapters.kis.broker import in_process_kis_broker
from tradefleet.adapters.kis.client import KisConfig
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.exchange.app import build_app
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig
from tradefleet.domain.errors import ConfigError
from tradefleet.settings import load_settings
from tradefleet.settings import secrets as sec
from tradefleet.worker.launch import launch
from tradefleet.worker.wiring import todays_market

APPKEY, APPSECRET, CANO = "PSMARKETDAYSKEY0000000000000000000", "market-days-secret", "12345678"
ELECTION_DAY = date(2026, 6, 3)     # shipped override holiday; XKRX lists it as a session
CSAT_DAY = date(2026, 11, 19)       # shipped override: 10:00-16:30
PREFIX = "/uapi/domestic-stock/v1/"
QUOTE_PATHS = ("quotations/inquire-price", "quotations/inquire-asking-price-exp-ccn",
               "quotations/intstock-multprice", "quotations/inquire-time-itemchartprice")


@dataclass
class Recorder:
    """Every request the simulator received: (path, simulated time of arrival)."""
    clock: FrozenClock
    base_url: str = ""
    seen: list[tuple[str, datetime]] = field(default_factory=list)

    def paths(self, prefix: str = "") -> list[tuple[str, datetime]]:
        return [(p, at) for p, at in self.seen if p.startswith(prefix)]


@contextlib.asynccontextmanager
async def recording_exchange(market: SimMarket, clock: FrozenClock,
                             config: ExchangeConfig) -> AsyncIterator[Recorder]:
    recorder = Recorder(clock)

    @web.middleware
    async def record(request: web.Request, handler):  # noqa: ANN001, ANN202
        path = request.path.removeprefix(PREFIX)
        recorder.seen.append((path, clock.now()))
        return await handler(request)

    app = build_app(market, config)
    app.middlewares.insert(0, record)          # outermost: sees refused requests too
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    recorder.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield recorder
    finally:
        await runner.cleanup()


def paper_settings(tmp_path, worker_id: str, **extra: str):
    key = tmp_path / "tf.key"
    if not key.exists():
        sec.generate_key_file(key)
    fernet = sec.read_key(key)
    env = {"TRADEFLEET_WORKER_ID": worker_id, "TRADEFLEET_MODE": "paper",
           "TRADEFLEET_KEY_FILE": str(key),
           "TRADEFLEET_BROKER__APPKEY": sec.encrypt(fernet, APPKEY),
           "TRADEFLEET_BROKER__APPSECRET": sec.encrypt(fernet, APPSECRET),
           "TRADEFLEET_ACCOUNT__CANO": sec.encrypt(fernet, CANO),
           "TRADEFLEET_BROKER__BASE_URL": "http://127.0.0.1:1",
           "TRADEFLEET_BROKER__RATE_LIMIT_PER_SECOND": "1000",
           "TRADEFLEET_RISK__CAPITAL_LIMIT": "5000000",
           "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "1000000",
           "TRADEFLEET_POLL_INTERVAL_SECONDS": "60",
           "TRADEFLEET_LOCKS__HEARTBEAT_INTERVAL_SECONDS": "0.5", **extra}
    return load_settings(None, env)


def paper_broker(base_url: str, http: aiohttp.ClientSession, clock: FrozenClock):
    config = KisConfig(base_url=base_url, appkey=APPKEY, appsecret=APPSECRET, cano=CANO,
                       product_code="01", mode="paper", timeout_seconds=5.0)
    return in_process_kis_broker(config, http, clock=clock, rate_per_second=1000)


async def count(db, table: str) -> int:
    return await db.pool.fetchval(f"SELECT count(*) FROM {table}")


async def test_closed_day_in_paper_mode_does_not_trade_and_says_so(db, logs, tmp_path):
    clock = FrozenClock(datetime.combine(ELECTION_DAY, time(8, 30), tzinfo=SEOUL))
    market = SimMarket(7, n_symbols=20, clock=clock)
    settings = paper_settings(tmp_path, "w-closed")
    async with recording_exchange(market, clock, ExchangeConfig(mode="paper")) as ex, \
            aiohttp.ClientSession() as http:
        task = asyncio.create_task(launch(
            settings, broker=paper_broker(ex.base_url, http, clock), clock=clock,
            universe=market.symbols(), db=db, install_signals=False))
        code = await asyncio.wait_for(task, 30)      # exits by itself: no stop is asked
    assert code == 0
    assert ex.seen == []                             # not even a token was asked for
    for table in ("orders", "candidates", "positions", "stock_locks", "workers",
                  "daily_summaries"):
        assert await count(db, table) == 0, table   # nothing registered, nothing traded
    events = await db.pool.fetch("SELECT event_type, worker_id, payload FROM events")
    assert [(e["event_type"], e["worker_id"]) for e in events] == \
        [("MarketClosedEvent", "w-closed")]
    payload = events[0]["payload"]
    assert payload["trading_day"] == "2026-06-03"
    assert "local elections" in payload["reason"]
    [line] = logs.of("MarketClosedEvent")
    assert line["level"] == "warning" and line["worker_id"] == "w-closed"
    assert line["message"] == "KRX is closed today: not trading, exiting"


async def test_late_open_day_waits_for_the_open_then_trades(db, logs, tmp_path):
    clock = FrozenClock(datetime.combine(CSAT_DAY, time(9, 0), tzinfo=SEOUL))
    market = SimMarket(7, n_symbols=60, clock=clock, session_open=time(10, 0),
                       session_close=time(16, 30))
    # polls 25 s apart land inside minutes (a poll exactly on a minute's start sees no
    # breakout: the new bar has not moved yet)
    settings = paper_settings(tmp_path, "w-late", TRADEFLEET_POLL_INTERVAL_SECONDS="25")
    opens = datetime.combine(CSAT_DAY, time(10, 0), tzinfo=SEOUL)
    config = ExchangeConfig(mode="paper", rate_limit_per_second=1000)
    async with recording_exchange(market, clock, config) as ex, \
            aiohttp.ClientSession() as http:
        built = []
        task = asyncio.create_task(launch(
            settings, broker=paper_broker(ex.base_url, http, clock), clock=clock,
            universe=market.symbols(), db=db, install_signals=False,
            on_built=built.append, track_timeout_s=2.0, retry_base_delay=0.01))
        for _ in range(1200):                        # until the first entry order is filled
            if task.done() or await db.pool.fetchval(
                    "SELECT count(*) FROM orders WHERE status = 'FILLED'"):
                break
            await asyncio.sleep(0.05)
        assert not task.done(), task.result()
        built[0].request_stop("test over")
        assert await asyncio.wait_for(task, 30) == 0

    quotes = [(p, at) for p, at in ex.seen if p.startswith(QUOTE_PATHS)]
    orders = ex.paths("trading/order-cash")
    assert quotes and orders                         # it did trade, after the open
    assert min(at for _, at in quotes + orders) >= opens
    before = [p for p, at in ex.seen if at < opens]
    assert set(before) <= {"/oauth2/tokenP"}         # only authentication before the open
    [waiting] = [r for r in logs.records if r.get("event", "").startswith(
        "market not open yet")]
    assert waiting["opens_at"] == opens.isoformat()
    started = await db.pool.fetchval(
        "SELECT payload->>'liquidation_at' FROM events WHERE event_type = 'WorkerStartedEvent'")
    assert started.startswith("2026-11-19T16:15")  # 16:30 close - 15 min, same session
    # recovery and the SCAN transition come after the wait, not at start-up
    order = [r.get("event") for r in logs.records]
    assert order.index("WorkerStartedEvent") < order.index(waiting["event"]) < \
        order.index("StateTransitionedEvent") < order.index("CandidateScannedEvent")


def test_sim_fallback_only_on_days_the_calendar_does_not_know(tmp_path):
    unknown = datetime(2040, 3, 6, 10, 0, tzinfo=SEOUL)        # far beyond XKRX's range
    sim = load_settings(None, {"TRADEFLEET_WORKER_ID": "w-sim",
                               "TRADEFLEET_RISK__CAPITAL_LIMIT": "5000000",
                               "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "1000000"})
    market = todays_market(sim, FrozenClock(unknown))
    assert market.source == "sim fallback 09:00-15:30"
    assert (market.opens_at, market.closes_at, market.liquidates_at) == (
        unknown.replace(hour=9), unknown.replace(hour=15, minute=30),
        unknown.replace(hour=15, minute=15))
    with pytest.raises(ConfigError, match=r"trading day 2040-03-06: not in the KRX calendar"):
        todays_market(paper_settings(tmp_path, "w-paper"), FrozenClock(unknown))
    # a known day never falls back, in any mode: the election day is closed even in sim
    closed = todays_market(sim, FrozenClock(datetime.combine(ELECTION_DAY, time(10),
                                                             tzinfo=SEOUL)))
    assert closed.closed and closed.source == "KRX calendar"
    assert closed.closes_at <= datetime.combine(ELECTION_DAY, time(0), tzinfo=SEOUL)
    csat = todays_market(sim, FrozenClock(datetime.combine(CSAT_DAY, time(8), tzinfo=SEOUL)))
    assert (csat.opens_at.time(), csat.closes_at.time()) == (time(10), time(16, 30))
    assert csat.liquidates_at - csat.closes_at == timedelta(minutes=-15)


async def test_worker_command_on_a_closed_day_exits_0_without_touching_the_broker(pg_dsn):
    """``tradefleet worker`` (sim mode against a simulator, the demo's path) on the election
    day: nothing listens at the broker URL, and nothing needs to."""
    clock = SimClock(datetime.combine(ELECTION_DAY, time(9, 30), tzinfo=SEOUL), 60.0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEFLEET_")}
    env.update({"TRADEFLEET_WORKER_ID": "w-cli", "TRADEFLEET_MODE": "sim",
                "TRADEFLEET_SIM_CLOCK": clock.to_env(), "TRADEFLEET_DB__DSN": pg_dsn,
                "TRADEFLEET_BROKER__BASE_URL": "http://127.0.0.1:9",
                "TRADEFLEET_UNIVERSE": "005930", "TRADEFLEET_LOG_FORMAT": "json",
                "TRADEFLEET_RISK__CAPITAL_LIMIT": "5000000",
                "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "1000000"})
    proc = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "tradefleet.cli", "worker"], env=env,
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [json.loads(x) for x in (proc.stdout + proc.stderr).splitlines()
             if x.startswith("{")]
    [closed] = [r for r in lines if r.get("event") == "MarketClosedEvent"]
    assert closed["level"] == "warning" and closed["trading_day"] == "2026-06-03"
    assert not [r for r in lines
                if r.get("event") in ("AuthenticatedEvent", "BrokerCallFailedEvent")]
    db = await Database.connect(pg_dsn, min_size=1, max_size=2)
    try:
        assert await db.pool.fetchval("SELECT count(*) FROM workers") == 0
        assert await db.pool.fetchval(
            "SELECT count(*) FROM events WHERE event_type = 'MarketClosedEvent'") == 1
    finally:
        await db.close()
