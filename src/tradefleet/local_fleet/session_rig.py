"""One simulated session as an outsider drives it: the exchange simulator and N worker
processes on one shared SimClock against one database (the demo's set-up), plus the levers a
chaos run pulls — pause, resume, kill and start a worker, arm broker faults — and what an
observer reads from the exchange (its books, its fault counters).

Workers that exit before the close are started again, as Kubernetes restarts a pod, unless a
fault took them away on purpose; every exit is recorded."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from tradefleet.adapters.clock import SimClock
from tradefleet.adapters.postgres.feed_lease_store import LIVE_HOLDER
from tradefleet.adapters.sim.universe import build_universe
from tradefleet.domain.calendar import TradingSession
from tradefleet.local_fleet.processes import (
    Child,
    ProcessGroup,
    compressed_scan_max_age,
    free_port,
)
from tradefleet.services.order_service import UNSEEN_GRACE_S

MAX_RESTARTS = 5


@dataclass(frozen=True)
class RigOptions:
    workers: int = 3
    speed: float = 500.0
    seed: int = 7                    # market seed
    symbols: int = 20
    ttl_seconds: int = 5
    heartbeat_seconds: float = 1.0
    capital_limit: int = 5_000_000
    poll_interval: int = 30          # simulated seconds between polls
    lead_seconds: float = 5.0        # real seconds from launch to the clock start (start-up)
    # the workers' unseen grace (broker.unseen_grace_seconds); None: their default (20 s).
    # The simulator's order list never lags, so a short run may shorten it (sim mode only)
    unseen_grace_s: float | None = None
    # (symbol, shares) the account holds before the day: a person's own investments
    opening_holdings: tuple[tuple[str, int], ...] = ()
    # the exchange's WebSocket feed on its own port, and every worker's feed enabled
    feed: bool = False

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers: must be >= 1, got {self.workers}")
        if self.ttl_seconds < 3:
            raise ValueError(f"ttl_seconds: must be >= 3 (the workers' minimum), got "
                             f"{self.ttl_seconds}")
        if self.heartbeat_seconds * 3 > self.ttl_seconds:
            raise ValueError("heartbeat_seconds: must be at most a third of ttl_seconds")
        if self.unseen_grace_s is not None and not 1 <= self.unseen_grace_s <= 600:
            raise ValueError(f"unseen_grace_s: must be within [1, 600] seconds, got "
                             f"{self.unseen_grace_s}")
        bad = [(s, q) for s, q in self.opening_holdings if q <= 0]
        if bad:
            raise ValueError(f"opening_holdings: shares must be > 0, got {bad}")

    @property
    def grace_s(self) -> float:
        """The workers' unseen grace in real seconds."""
        return UNSEEN_GRACE_S if self.unseen_grace_s is None else self.unseen_grace_s

    @property
    def rate_limit(self) -> int:
        """The broker's per-second budget, scaled with the speed as the demo does."""
        return min(1000, max(20, int(self.speed)))


@dataclass(frozen=True)
class WorkerExit:
    worker_id: str
    process: str
    code: int
    at: float                        # real epoch seconds
    before_close: bool
    restarted: bool


@dataclass
class SessionRig:
    opts: RigOptions
    dsn: str
    log_dir: Path
    session: TradingSession
    # where the shared clock starts; None: two simulated minutes before the open. A chaos run
    # may start late, shortly before the liquidation, to play only the part that matters
    sim_start: datetime | None = None
    group: ProcessGroup = field(init=False)
    clock: SimClock = field(init=False)
    base_url: str = ""
    ws_url: str = ""                 # the exchange's WebSocket feed, when ``opts.feed``
    worker_ids: list[str] = field(default_factory=list)
    no_restart: set[str] = field(default_factory=set)     # taken away on purpose
    paused: set[str] = field(default_factory=set)
    exits: list[WorkerExit] = field(default_factory=list)
    _current: dict[str, Child] = field(default_factory=dict)
    _lives: dict[str, int] = field(default_factory=dict)
    _reaped: set[int] = field(default_factory=set)         # pids whose exit was recorded
    _http: aiohttp.ClientSession | None = None

    def __post_init__(self) -> None:
        self.group = ProcessGroup(self.log_dir)
        self.worker_ids = [f"w{i + 1}" for i in range(self.opts.workers)]

    # ---- start and stop ----------------------------------------------------------------
    async def start(self) -> None:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        feed_args: list[str] = []
        if self.opts.feed:
            ws_port = free_port()
            self.ws_url = f"ws://127.0.0.1:{ws_port}"
            feed_args = ["--ws-port", str(ws_port), "--hts-id", "chaos"]
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        o = self.opts
        # the clock is fixed before the exchange starts (it reads it from its env): it starts
        # two simulated minutes before the open, once every process has had time to start
        start = self.session.open - timedelta(minutes=2)
        if self.sim_start is not None:
            start = max(start, self.sim_start)
        self.clock = SimClock(start, o.speed, time.time() + o.lead_seconds)
        self.group.start("exchange", [
            "exchange", "--port", str(port), "--seed", str(o.seed), "--symbols",
            str(o.symbols), "--rate-limit", str(o.rate_limit),
            *(f"--holding={s}={q}" for s, q in o.opening_holdings), *feed_args],
            self._common_env())
        await self._wait_healthy(60)
        for wid in self.worker_ids:
            self.start_worker(wid)

    def _common_env(self) -> dict[str, str]:
        return {"TRADEFLEET_SIM_CLOCK": self.clock.to_env(), "TRADEFLEET_DB__DSN": self.dsn,
                "TRADEFLEET_MODE": "sim", "PYTHONUNBUFFERED": "1"}

    def _worker_env(self, wid: str) -> Mapping[str, str]:
        o = self.opts
        universe = ",".join(build_universe(o.seed, o.symbols).symbols)
        return {**self._common_env(), "TRADEFLEET_WORKER_ID": wid,
                "TRADEFLEET_BROKER__BASE_URL": self.base_url,
                "TRADEFLEET_RISK__CAPITAL_LIMIT": str(o.capital_limit),
                "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": str(o.capital_limit // 5),
                "TRADEFLEET_POLL_INTERVAL_SECONDS": str(o.poll_interval),
                "TRADEFLEET_UNIVERSE": universe, "TRADEFLEET_LOG_FORMAT": "json",
                "TRADEFLEET_BROKER__RATE_LIMIT_PER_SECOND": str(o.rate_limit),
                "TRADEFLEET_LOCKS__TTL_SECONDS": str(o.ttl_seconds),
                "TRADEFLEET_LOCKS__HEARTBEAT_INTERVAL_SECONDS": str(o.heartbeat_seconds),
                "TRADEFLEET_RISK__SCAN_MAX_AGE_SECONDS": compressed_scan_max_age(o.speed),
                **({} if o.unseen_grace_s is None else
                   {"TRADEFLEET_BROKER__UNSEEN_GRACE_SECONDS": str(o.unseen_grace_s)}),
                **({"TRADEFLEET_FEED__ENABLED": "true", "TRADEFLEET_FEED__WS_URL": self.ws_url}
                   if o.feed else {})}

    async def _wait_healthy(self, within: float) -> None:
        assert self._http is not None
        deadline = time.monotonic() + within
        exchange = self.group.children[0]
        while True:
            try:
                async with self._http.get(self.base_url + "/_admin/health",
                                          timeout=aiohttp.ClientTimeout(total=1)) as resp:
                    if resp.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            if exchange.returncode is not None:
                raise RuntimeError(f"the exchange exited with {exchange.returncode}: "
                                   f"{self.group.tail(exchange)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the exchange did not come up within {within:.0f}s")
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        for wid in list(self.paused):
            self.resume(wid)
        workers = [c.name for c in self.group.children if c.name != "exchange"]
        await asyncio.to_thread(self.group.stop_all, 10.0, first=workers)
        if self._http is not None:
            await self._http.close()

    # ---- workers -----------------------------------------------------------------------
    def start_worker(self, wid: str) -> Child:
        """Start a process for ``wid``; a later life gets its own log (``w2.2.log``)."""
        life = self._lives.get(wid, 0) + 1
        self._lives[wid] = life
        name = wid if life == 1 else f"{wid}.{life}"
        child = self.group.start(name, ["worker"], self._worker_env(wid))
        self._current[wid] = child
        return child

    def process(self, wid: str) -> Child:
        return self._current[wid]

    def running(self, wid: str) -> bool:
        return self._current[wid].returncode is None

    def live_workers(self) -> list[str]:
        """Workers that should be trading now: running and not taken away by a fault."""
        return [w for w in self.worker_ids if w not in self.no_restart and self.running(w)]

    def any_running(self) -> bool:
        return any(self.running(w) for w in self.worker_ids)

    def _signal(self, wid: str, sig: signal.Signals) -> None:
        try:
            os.killpg(self._current[wid].proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def pause(self, wid: str) -> None:
        self.paused.add(wid)
        self._signal(wid, signal.SIGSTOP)

    def resume(self, wid: str) -> None:
        self._signal(wid, signal.SIGCONT)
        self.paused.discard(wid)

    async def kill(self, wid: str, *, restart: bool) -> None:
        """SIGKILL and reap (the process gets no chance to clean up); then, if asked, start
        the same worker id again at once."""
        self._signal(wid, signal.SIGKILL)
        child = self._current[wid]
        await asyncio.to_thread(child.proc.wait, 10)
        self._reaped.add(child.proc.pid)
        self.exits.append(WorkerExit(wid, child.name, int(child.proc.returncode), time.time(),
                                     self.clock.now() < self.session.close, restart))
        if restart:
            self.start_worker(wid)

    def supervise(self) -> list[WorkerExit]:
        """Record exits since the last call; start again a worker that left before the close
        (unless a fault took it away, or it keeps dying)."""
        seen: list[WorkerExit] = []
        before_close = self.clock.now() < self.session.close
        for wid in self.worker_ids:
            child = self._current[wid]
            if child.returncode is None or child.proc.pid in self._reaped:
                continue
            self._reaped.add(child.proc.pid)
            again = before_close and wid not in self.no_restart and \
                self._lives[wid] <= MAX_RESTARTS
            seen.append(WorkerExit(wid, child.name, int(child.returncode), time.time(),
                                   before_close, again))
            if again:
                self.start_worker(wid)
        self.exits.extend(seen)
        return seen

    # ---- time --------------------------------------------------------------------------
    def real_at(self, sim: datetime) -> float:
        """The real epoch second at which the shared clock shows ``sim``."""
        return self.clock.real_start + (sim - self.clock.sim_start).total_seconds() / \
            self.clock.speed

    def sim_at(self, real: float) -> datetime:
        return self.clock.sim_start + timedelta(seconds=(real - self.clock.real_start) *
                                                self.clock.speed)

    # ---- the exchange's admin API -------------------------------------------------------
    async def admin(self, method: str, path: str, body: dict[str, Any] | None = None
                    ) -> dict[str, Any]:
        assert self._http is not None
        async with self._http.request(method, self.base_url + path, json=body) as resp:
            data = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"{method} {path}: HTTP {resp.status} {data}")
            return data

    async def arm(self, **rule: Any) -> int:
        return int((await self.admin("POST", "/_admin/faults", rule))["id"])

    async def fired(self, rule_ids: list[int]) -> int:
        rules = (await self.admin("GET", "/_admin/faults"))["rules"]
        return sum(int(r["fired"]) for r in rules if r["id"] in rule_ids)

    async def disarm(self, rule_ids: list[int]) -> None:
        for rule_id in rule_ids:
            try:
                await self.admin("DELETE", f"/_admin/faults/{rule_id}")
            except RuntimeError:
                pass                 # already gone

    async def clear_faults(self) -> None:
        await self.admin("DELETE", "/_admin/faults")

    async def ws_fault(self, **rule: Any) -> dict[str, Any]:
        """Arm a fault of the exchange's WebSocket feed (``ws_faults.py``)."""
        assert self._http is not None and self.ws_url
        url = self.ws_url.replace("ws://", "http://", 1) + "/_admin/ws/faults"
        async with self._http.post(url, json=rule) as resp:
            data = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"POST /_admin/ws/faults: HTTP {resp.status} {data}")
            return data

    async def feed_holder(self) -> tuple[str, float] | None:
        """The account's live feed holder (``holder_id``, seconds since it renewed)."""
        conn = await asyncpg.connect(self.dsn, timeout=5)
        try:
            row = await conn.fetchrow(LIVE_HOLDER)
        finally:
            await conn.close()
        return None if row is None else (row["holder_id"], float(row["age"]))

    async def ws_state(self) -> dict[str, Any]:
        assert self._http is not None and self.ws_url
        url = self.ws_url.replace("ws://", "http://", 1) + "/_admin/ws/state"
        async with self._http.get(url) as resp:
            return await resp.json()

    async def holdings(self) -> dict[str, int]:
        body = await self.admin("GET", "/_admin/books/holdings")
        return {h["symbol"]: int(h["qty"]) for h in body["holdings"] if int(h["qty"])}

    @property
    def http(self) -> aiohttp.ClientSession:
        assert self._http is not None
        return self._http
