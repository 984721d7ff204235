"""End-to-end figures of the real-time path with real worker processes, for bench/realtime.py.

The exchange simulator (REST and its WebSocket feed) runs in a thread of the bench and keeps
three logs, all on the wall clock (``time.time()``, one clock for every process here):
- every tick it sends, per symbol and price (``TimedFeedServer``, a subclass: the simulator
  itself is unchanged);
- every order as its HTTP handler accepts it (``Exchange.on_order``), with its ODNO;
- every REST call (a middleware), to count calls per worker-hour.

N ``tradefleet worker`` processes trade the simulated market with the feed on or off, with a
stop-loss of 0.01 % (and a take-profit out of reach): the first tick below the entry after a
buy crosses the stop. Tick-to-order is measured from the moment the simulator sent the tick
that decided the exit to the moment the SELL reached the order handler. The worker's log
names the tick's symbol, price and time (``tick_at``, the trade's second); its send is the
one of that symbol, price and second, and the measure starts at the first of the contiguous
sends of that price ending there (a tick of the same price sent before it, while the
position was held, crossed the stop already). Until rt20f the end was the last send before
the decision's log line: a decision that came after a newer, different price had been sent
found no send and was left out as unmatched, and those were the slowest decisions.
Fill-to-record: a market order executes in the simulator as its handler accepts it; measured
until the fills row's ``filled_at`` (the inserting transaction's ``now()``)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as dtime
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
from tests.exchange_thread import DAY, ExchangeThread  # noqa: E402

from tradefleet.adapters.clock import SEOUL, SimClock  # noqa: E402
from tradefleet.adapters.postgres.database import Database  # noqa: E402
from tradefleet.adapters.sim.exchange.app import build_app, exchange_of, gateway_of  # noqa: E402
from tradefleet.adapters.sim.exchange.approval import APPROVALS  # noqa: E402
from tradefleet.adapters.sim.exchange.ws_server import (  # noqa: E402
    FeedConfig,
    FeedServer,
    running_feed,
)
from tradefleet.domain.orders import Side  # noqa: E402

STRATEGY = ROOT / "tests" / "fixtures" / "strategies" / "user_strategies.py"
ON_THE_TICK = "exit condition met on the tick"
MATCH_WITHIN_S = 5.0           # a SELL this long after its tick is not that tick's
HTS_ID = "bench"               # the fill notices' HTS id: fills recorded from the push


class TimedFeedServer(FeedServer):
    """The simulator's feed, noting when it sent each symbol's price."""

    def __init__(self, *args, sent: dict[str, list[tuple[float, int, str]]], **kw) -> None:  # noqa: ANN002, ANN003, E501
        super().__init__(*args, **kw)
        self.sent = sent

    async def _push_ticks(self, s, quotes, now) -> None:  # noqa: ANN001
        before = dict(s.last_volume)
        at = time.time()
        await super()._push_ticks(s, quotes, now)
        for sym in s.ticks:
            q = quotes.get(sym)
            if q is not None and q.volume > before.get(sym, q.volume):
                self.sent[sym].append((at, q.price, now.replace(microsecond=0).isoformat()))


class TimedExchange(ExchangeThread):
    def __init__(self, **kw) -> None:  # noqa: ANN003
        super().__init__(**kw)
        self.sent: dict[str, list[tuple[float, int, str]]] = defaultdict(list)
        self.arrived: list[tuple[float, str, Side, str]] = []   # (at, symbol, side, odno)
        self.ws_url = ""
        self.rate_limit = self._config.rate_limit_per_second

    async def _serve(self) -> None:
        assert self._stop is not None
        app = build_app(self.market, self._config)
        app.middlewares.insert(0, self._record)
        exchange = exchange_of(app)
        exchange.on_order.insert(0, lambda: self._order(exchange))
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        feed = TimedFeedServer(self.market, app[APPROVALS], exchange,
                               FeedConfig(mode="real", hts_id=HTS_ID), sent=self.sent)
        try:
            async with running_feed(feed) as ws_url:
                self._app, self.ws_url = app, ws_url
                self.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
                self._ready.set()
                await self._stop.wait()
        finally:
            await runner.cleanup()

    def _order(self, exchange) -> None:  # noqa: ANN001
        o = exchange.orders[-1]
        self.arrived.append((time.time(), o.symbol, o.side, o.odno))


@dataclass
class FleetRun:
    workers: int
    feed: bool
    window_s: float = 0.0              # real seconds the REST calls were counted over
    sim_hours: float = 0.0
    rest_calls: int = 0
    tick_to_order_ms: list[float] = field(default_factory=list)
    tick_to_decision_ms: list[float] = field(default_factory=list)   # to the worker's log line
    fill_to_record_ms: list[float] = field(default_factory=list)
    exits_on_tick: int = 0
    calls_by_path: dict[str, int] = field(default_factory=dict)
    unmatched: int = 0
    refused: int = 0                   # EGW00201 answers of the exchange in the window
    fills_at_stop: int = 0             # orders that reached the exchange once the fleet stopped
    exits: list[dict] = field(default_factory=list)   # per matched exit: its times (epoch s)

    @property
    def calls_per_worker_hour(self) -> float:
        return self.rest_calls / self.workers / self.sim_hours if self.sim_hours else 0.0


def _env(ex: TimedExchange, dsn: str, clock: SimClock, wid: str, feed: bool,
         universe: str, poll_s: int) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("TRADEFLEET_")},
            "PYTHONPATH": str(ROOT / "src"),
            "TRADEFLEET_WORKER_ID": wid, "TRADEFLEET_MODE": "sim", "TRADEFLEET_DB__DSN": dsn,
            "TRADEFLEET_SIM_CLOCK": clock.to_env(), "TRADEFLEET_BROKER__BASE_URL": ex.base_url,
            # the exchange's own limit (KIS real: 20 a second), shared by the fleet: a busy
            # fleet's reads queue for it, and its orders take the places reads leave them
            "TRADEFLEET_BROKER__RATE_LIMIT_PER_SECOND": str(ex.rate_limit),
            "TRADEFLEET_RISK__CAPITAL_LIMIT": "3000000",
            "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "2000000",
            "TRADEFLEET_RISK__SCAN_MAX_AGE_SECONDS": "600",
            "TRADEFLEET_STRATEGY__NAME": "most_traded", "TRADEFLEET_STRATEGY__PATH": str(STRATEGY),
            "TRADEFLEET_STRATEGY__PARAMS__TOP": "40",
            "TRADEFLEET_EXITS__STOP_LOSS_PCT": "0.01", "TRADEFLEET_EXITS__TAKE_PROFIT_PCT": "25",
            "TRADEFLEET_EXITS__TIME_EXIT_MINUTES": "0",
            "TRADEFLEET_POLL_INTERVAL_SECONDS": str(poll_s), "TRADEFLEET_UNIVERSE": universe,
            "TRADEFLEET_FEED__ENABLED": "true" if feed else "false",
            "TRADEFLEET_FEED__WS_URL": ex.ws_url, "TRADEFLEET_FEED__HTS_ID": HTS_ID,
            "TRADEFLEET_LOG_FORMAT": "json"}


def _events(path: Path, event: str) -> list[dict]:
    out = []
    for raw in path.read_text(errors="replace").splitlines():
        try:
            e = json.loads(raw)
        except ValueError:
            continue
        if isinstance(e, dict) and e.get("event") == event:
            out.append(e)
    return out


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def tick_to_order(said: list[dict], sent: dict[str, list[tuple[float, int, str]]],
                  sells: list[tuple[float, str]], held: dict[str, list[float]]
                  ) -> tuple[list[float], list[float], int, list[dict]]:
    """Per exit decided on a tick (a stop-loss): ms from the send of the deciding tick (the
    first of the contiguous sends of its price ending at it, while the position was held:
    since its BUY's fills row) to the next SELL of the symbol, and to the worker's log line
    of the decision; and each matched exit's times."""
    out, decided, unmatched, exits = [], [], 0, []
    for e in said:
        if e.get("reason") != "STOP_LOSS":
            continue
        sym, price, logged = e["symbol"], int(e["price"]), _epoch(e["ts"])
        since = max((t for t in held.get(sym, []) if t <= logged), default=None)
        if since is None:
            unmatched += 1
            continue
        sends = [(t, p, at) for t, p, at in sent.get(sym, []) if since <= t <= logged]
        own = [k for k, (_, p, at) in enumerate(sends) if p == price and at == e.get("tick_at")]
        end = own[-1] + 1 if own else len(sends)    # logs without tick_at: the last send
        first, before_rt20f = _run_start(sends[:end], price), _run_start(sends, price)
        sell = next((t for t, s in sells if s == sym and t >= logged - 0.001), None)
        if first is None or sell is None or sell - first > MATCH_WITHIN_S:
            unmatched += 1
            continue
        out.append((sell - first) * 1000)
        decided.append((logged - first) * 1000)
        exits.append({"symbol": sym, "price": price, "tick_at": e.get("tick_at"),
                      "worker": e.get("worker_id"), "sent": first, "decided": logged,
                      "sell_arrived": sell, "own_send_found": bool(own),
                      "sent_by_the_rule_before_rt20f": before_rt20f})
    return out, decided, unmatched, exits


def _run_start(sends: list[tuple[float, int, str]], price: int) -> float | None:
    """When the last run of sends of ``price`` (ending with the last of ``sends``) began."""
    first = None
    for t, p, _ in reversed(sends):
        if p != price:
            break
        first = t
    return first


def _spawn(log_dir: Path, envs: list[dict[str, str]]) -> list[subprocess.Popen]:
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = []
    for env in envs:
        with (log_dir / f"{env['TRADEFLEET_WORKER_ID']}.log").open("wb") as log:
            procs.append(subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "tradefleet.cli", "worker"], env=env, stdout=log,
                stderr=subprocess.STDOUT))
    return procs


def exits_said(log_dir: Path, workers: int) -> list[dict]:
    return [e for i in range(workers) for e in _events(log_dir / f"w{i + 1}.log", ON_THE_TICK)]


async def fleet_run(dsn: str, workers: int, feed: bool, window_s: float, log_dir: Path,
                    *, speed: float = 20.0, poll_s: int = 20, say=print,  # noqa: ANN001
                    min_exits: int = 0, max_window_s: float = 0.0) -> FleetRun:
    """``workers`` processes for a warm-up and ``window_s`` real seconds of trading; with the
    feed on, counted on until ``min_exits`` exits were decided on a tick (``max_window_s``
    real seconds at most): more exits, each measured as before, make a p99 that is not
    just the slowest of nine."""
    clock = SimClock(datetime.combine(DAY, dtime(10, 0), tzinfo=SEOUL), speed, time.time())
    run = FleetRun(workers, feed)
    db = await Database.connect(dsn, min_size=1, max_size=2)
    procs: list[subprocess.Popen] = []
    with TimedExchange(n_symbols=max(40, 2 * workers), clock=clock) as ex:
        universe = ",".join(ex.market.symbols())
        try:
            procs.extend(_spawn(log_dir, [
                _env(ex, dsn, clock, f"w{i + 1}", feed, universe, poll_s)
                for i in range(workers)]))
            deadline = time.monotonic() + 120
            while await db.pool.fetchval("SELECT count(*) FROM fills") == 0:
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    raise RuntimeError(f"no fill within 120 s; logs in {log_dir}")
                await asyncio.sleep(0.2)
            say(f"  first fill; counting for {window_s:.0f} s...")
            ex.reset()
            refused_before = gateway_of(ex._app).rate_limited
            t0, s0 = time.monotonic(), clock.now()
            await asyncio.sleep(window_s)
            more = max(window_s, max_window_s)
            while feed and len(exits_said(log_dir, workers)) < min_exits \
                    and time.monotonic() - t0 < more:  # noqa: ASYNC110 - a bench polls its logs
                await asyncio.sleep(1.0)
            run.rest_calls = ex.calls()
            run.refused = gateway_of(ex._app).rate_limited - refused_before
            run.calls_by_path = dict(ex._calls.most_common(8))
            run.window_s = time.monotonic() - t0
            run.sim_hours = (clock.now() - s0).total_seconds() / 3600
        finally:
            stopping = time.time()
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    await asyncio.to_thread(p.wait, 60)
                except subprocess.TimeoutExpired:
                    p.kill()
        said = exits_said(log_dir, workers)
        run.exits_on_tick = len(said)
        sells = sorted((t, sym) for t, sym, side, _ in ex.arrived if side is Side.SELL)
        arrived = {odno: t for t, _, _, odno in ex.arrived}
        rows = await db.pool.fetch(
            "SELECT o.broker_order_id, o.symbol, o.side, "
            "extract(epoch FROM f.filled_at)::float8 AS at "
            "FROM fills f JOIN orders o USING (order_id) WHERE o.broker_order_id IS NOT NULL")
        held: dict[str, list[float]] = defaultdict(list)
        for r in rows:
            if r["side"] == "BUY":
                held[r["symbol"]].append(r["at"])
        run.tick_to_order_ms, run.tick_to_decision_ms, run.unmatched, run.exits = \
            tick_to_order(said, ex.sent, sells, held)
        # an order that reached the exchange after the fleet was told to stop is left out:
        # its fill meets the feed changing hands as its holder stops (the failover table)
        timed = [r for r in rows if r["broker_order_id"] in arrived]
        run.fills_at_stop = sum(arrived[r["broker_order_id"]] >= stopping for r in timed)
        run.fill_to_record_ms = [(r["at"] - arrived[r["broker_order_id"]]) * 1000
                                 for r in timed if arrived[r["broker_order_id"]] < stopping]
    await db.close()
    return run


async def bare_paths(n: int) -> dict[str, list[float]]:
    """One bare WebSocket hop (server send -> client receive) and one bare HTTP POST round
    trip over 127.0.0.1, aiohttp on both ends, in this process."""
    go: asyncio.Queue[float] = asyncio.Queue()      # 0: end the hop's handler

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        while await go.get():
            await ws.send_str(repr(time.perf_counter()))
        await ws.receive()      # the client's close (a handler left waiting holds the
        return ws               # runner's cleanup for its 60 s shutdown timeout)

    async def post_handler(request: web.Request) -> web.Response:
        await request.json()
        return web.json_response({"rt_cd": "0"})

    app = web.Application()
    app.router.add_get("/ws", ws_handler)
    app.router.add_post("/order", post_handler)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"127.0.0.1:{runner.addresses[0][1]}"
    out: dict[str, list[float]] = {"ws": [], "post": []}
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(f"ws://{base}/ws") as ws:
            for i in range(n + 20):
                go.put_nowait(1.0)
                msg = await ws.receive()
                hop = (time.perf_counter() - float(msg.data)) * 1000
                t = time.perf_counter()
                async with http.post(f"http://{base}/order", json={"PDNO": "005930"}) as r:
                    await r.read()
                post = (time.perf_counter() - t) * 1000
                if i >= 20:
                    out["ws"].append(hop)
                    out["post"].append(post)
            go.put_nowait(0.0)          # the hop's handler ends, and answers the close
    finally:
        await runner.cleanup()
    return out

