"""``tradefleet chaos`` / ``bench/chaos.py``: whole simulated sessions of a local fleet, ONE
fault kind injected per run at a seeded random moment of the trading hours, judged at the end
by the exchange's books (see ``chaos_judge``), recovery timed while it runs (``chaos_watch``).

Runs share one embedded PostgreSQL server of their own (each run its own database, cloned
from a migrated template) and run back to back; each keeps its worker logs under
``<state>/runs/<kind>-<n>/``."""

from __future__ import annotations

import asyncio
import random
import shutil
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tradefleet.adapters.calendar_cache import krx_calendar
from tradefleet.adapters.postgres.database import Database
from tradefleet.local_fleet.chaos_db import ChaosDatabase
from tradefleet.local_fleet.chaos_faults import KINDS, FaultContext, FaultKind, FaultRecord
from tradefleet.local_fleet.chaos_judge import Verdict, judge
from tradefleet.local_fleet.chaos_person import PersonLedger
from tradefleet.local_fleet.chaos_watch import Watch, sample
from tradefleet.local_fleet.demo import demo_session
from tradefleet.local_fleet.session_rig import RigOptions, SessionRig
from tradefleet.worker.session import market_day

SAMPLE_EVERY_S = 0.25
FINISH_GRACE_S = 60.0          # real seconds past the close for every worker to have left
EARLIEST = 0.10                # no injection in the first 10% of the session
LIQUIDATION_OFFSET_MIN = 15    # the workers' default (settings risk.liquidation_offset_minutes)
# a late start plays only the end of the day: this many real seconds of trading before the
# liquidation, per real second the fault kind needs (``budget_s``), plus a fixed margin
LATE_TRADING_FACTOR = 1.2
LATE_TRADING_MARGIN_S = 4.0
LIQUIDATION_MIN_REAL_S = 4.0   # the liquidation window, in real seconds, must be at least this


@dataclass(frozen=True)
class ChaosOptions:
    runs: int = 2
    kinds: tuple[str, ...] = tuple(KINDS)
    seed: int = 7
    rig: RigOptions = field(default_factory=RigOptions)
    state_dir: Path = Path("/tmp/tradefleet-chaos")   # noqa: S108 - overridable, not secret
    keep_db: bool = False
    # start the day late, shortly before the liquidation (``late_start_at``), instead of at
    # the open: a run is then ~15-40 s instead of a whole compressed day
    late_start: bool = False

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown:
            raise ValueError(f"kinds: unknown {unknown}; choose from {list(KINDS)}")
        if self.runs < 1:
            raise ValueError(f"runs: must be >= 1, got {self.runs}")


@dataclass
class RunResult:
    kind: str
    run: int
    market_seed: int
    database: str
    log_dir: str
    fault: dict[str, Any] | None = None
    injected_at_sim: str | None = None
    recovery_s: float | None = None
    blocking: list[str] = field(default_factory=list)   # what stood in the way, if never
    trades: int = 0
    orders_at_exchange: int = 0
    poll_lag_max_s: float = 0.0      # the longest poll of any worker (session seconds)
    invariants: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    exits: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0
    finished: bool = False           # every worker left by itself after the close
    error: str | None = None
    error_trace: str | None = None   # the broken run's traceback, to read the cause, not infer it
    notes: list[str] = field(default_factory=list)
    samples: dict[str, Any] = field(default_factory=dict)   # how often the fleet looked unwell

    @property
    def failed(self) -> bool:
        return bool(self.error or not self.finished or self.recovery_s is None
                    or any(self.invariants.values()))

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "failed": self.failed}


def late_start_at(kind: FaultKind, opts: RigOptions, open_at: datetime,
                  liquidation_at: datetime) -> datetime:
    """Where a late-started day begins: early enough before the liquidation for the fault,
    its recovery and a random moment to inject it, in real seconds; never before the open."""
    trading_s = kind.budget_s(opts) * LATE_TRADING_FACTOR + LATE_TRADING_MARGIN_S
    return max(open_at, liquidation_at - timedelta(seconds=trading_s * opts.speed))


def injection_window(kind: FaultKind, opts: RigOptions, open_at: datetime,
                     liquidation_at: datetime) -> tuple[datetime, datetime]:
    """The simulated moments a fault may start: past the first 10% of the session, and
    early enough to leave the fault and its recovery (``kind.budget_s`` real seconds) to play
    out before the liquidation; (earliest, earliest) when the speed leaves no such room."""
    earliest = open_at + (liquidation_at - open_at) * EARLIEST
    latest = liquidation_at - timedelta(seconds=kind.budget_s(opts) * opts.speed)
    return earliest, max(earliest, latest)


Tick = Callable[[str], None]
BeforeJudge = Callable[[SessionRig, Database, PersonLedger], Awaitable[None]]


@dataclass
class _Play:
    """The watch loop of one run: supervise, sample, inject once, until the fleet has left."""

    kind: FaultKind
    rig: SessionRig
    db: Database
    cdb: ChaosDatabase
    rng: random.Random
    result: RunResult
    tick: Tick | None
    person: PersonLedger = field(default_factory=PersonLedger)
    watch: Watch = field(default_factory=Watch)
    fault: asyncio.Task[FaultRecord] | None = None

    async def run(self, inject_real: float, close_at: datetime) -> None:
        rig = self.rig
        deadline = rig.real_at(close_at) + FINISH_GRACE_S
        while True:
            rig.supervise()
            s = await sample(rig, self.db, self.person)
            # a worker still starting up is not yet a target: wait for the whole fleet
            if self.fault is None and s.at >= inject_real and s.all_up:
                self._inject(s.holding, inject_real)
            elif self.fault is not None and self.fault.done() and self.watch.ended_at is None:
                self.watch.ended_at = self.fault.result().ended_at
            self.watch.add(s)
            if self.tick is not None:
                self.tick(rig.clock.now().strftime("%H:%M:%S"))
            if not rig.any_running():
                self.result.finished = rig.clock.now() >= close_at
                self.watch.fleet_left()
                return
            if time.time() > deadline:
                return
            await asyncio.sleep(SAMPLE_EVERY_S)

    def _inject(self, holding: tuple[str, ...], planned: float) -> None:
        now = self.watch.injected_at = time.time()
        self.result.injected_at_sim = self.rig.sim_at(now).isoformat()
        if now - planned > 1.0:
            self.result.notes.append(f"injected {now - planned:.1f}s late: waited for every "
                                     "worker to be up")
        self.fault = asyncio.create_task(self.kind.act(
            FaultContext(self.rig, self.cdb, self.rng, list(holding), self.person)))

    async def finish_fault(self) -> None:
        if self.fault is not None:
            self.result.fault = asdict(await asyncio.wait_for(self.fault, 120))

    def cancel(self) -> None:
        if self.fault is not None and not self.fault.done():
            self.fault.cancel()


async def run_one(kind: FaultKind, index: int, opts: ChaosOptions, cdb: ChaosDatabase,
                  tick: Tick | None = None, before_judge: BeforeJudge | None = None
                  ) -> RunResult:
    """One session with one fault. ``before_judge`` (tests) sees the fleet gone and the
    exchange still up."""
    rig_opts = replace(opts.rig, seed=opts.seed + index, feed=opts.rig.feed or kind.feed)
    rng = random.Random(f"{opts.seed}:{kind.name}:{index}")
    person = PersonLedger(kind.opening(rig_opts, rng) if kind.opening else {})
    rig_opts = replace(rig_opts, opening_holdings=tuple(sorted(person.opening.items())))
    name = f"chaos_{kind.name}_{index + 1}"
    log_dir = opts.state_dir / "runs" / f"{kind.name}-{index + 1}"
    shutil.rmtree(log_dir, ignore_errors=True)
    result = RunResult(kind.name, index + 1, rig_opts.seed, name, str(log_dir))
    began = time.monotonic()
    dsn = await cdb.fresh(name)
    session = demo_session()
    liquidation_at = market_day(
        session.day, mode="sim", liquidation_offset=timedelta(minutes=LIQUIDATION_OFFSET_MIN),
        calendar=krx_calendar(session.day)).liquidation_at
    open_at = session.open
    if opts.late_start:
        open_at = late_start_at(kind, rig_opts, session.open, liquidation_at)
    window_real = (session.close - liquidation_at).total_seconds() / rig_opts.speed
    if window_real < LIQUIDATION_MIN_REAL_S:
        result.notes.append(f"at {rig_opts.speed:g}x the liquidation window is only "
                            f"{window_real:.1f}s (real)")
    rig = SessionRig(rig_opts, dsn, log_dir, session,
                     sim_start=open_at if opts.late_start else None)
    db = await Database.connect(dsn, min_size=0, max_size=2, command_timeout=5)
    play = _Play(kind, rig, db, cdb, rng, result, tick, person)
    try:
        await rig.start()
        earliest, latest = injection_window(kind, rig_opts, open_at, liquidation_at)
        if latest == earliest:
            result.notes.append(f"at {rig_opts.speed:g}x the day leaves less than "
                                f"{kind.budget_s(rig_opts):.0f}s (real) for this fault and its "
                                "recovery before the liquidation: injected at the earliest")
        play.watch.until = rig.real_at(liquidation_at)
        await play.run(rig.real_at(earliest + (latest - earliest) * rng.random()),
                       session.close)
        await play.finish_fault()
        await rig.clear_faults()
        if before_judge is not None:
            await before_judge(rig, db, person)
        verdict = await judge(db, rig.base_url, rig.http, session.day, rig.real_at,
                              person)
        _fill(result, verdict, play.watch)
    except Exception as exc:  # noqa: BLE001 - one broken run is reported, the bench goes on
        record_error(result, exc)
    finally:
        play.cancel()
        await rig.close()
        try:
            await asyncio.wait_for(db.close(), 10)
        except TimeoutError:
            db.pool.terminate()
        await asyncio.to_thread(cdb.ensure_running)
        result.exits = [asdict(e) for e in rig.exits]
        result.wall_s = round(time.monotonic() - began, 1)
    return result


def record_error(result: RunResult, exc: BaseException) -> None:
    """A broken run keeps its error and where it was raised (the bench goes on)."""
    result.error = f"{type(exc).__name__}: {exc}"
    result.error_trace = "".join(traceback.format_exception(exc))


def _fill(result: RunResult, verdict: Verdict, watch: Watch) -> None:
    result.trades = verdict.trades
    result.poll_lag_max_s = verdict.poll_lag_max_s
    result.orders_at_exchange = verdict.orders_at_exchange
    counts = verdict.invariant_counts()
    overlapped = {o["symbol"] for o in verdict.overlapping_positions}
    sampled_only = sorted(watch.shared_symbols - overlapped)
    counts["double_holds"] += len(sampled_only)
    result.invariants = counts
    result.recovery_s = None if watch.recovery_s is None else round(watch.recovery_s, 2)
    result.blocking = watch.blocking if watch.recovered_at is None else []
    result.samples = {"taken": watch.samples, "unhealthy_by_problem": dict(watch.unhealthy)}
    result.details = {
        "held_at_close": verdict.held_at_close,
        "executions_without_fills": verdict.unfilled_executions,
        "orders_unknown_to_us": verdict.unknown_orders,
        "lock_double_holds": verdict.lock_double_holds,
        "overlapping_positions": verdict.overlapping_positions,
        "shared_symbols_sampled_only": sampled_only,
        "orders_after_lease": verdict.after_lease,
        "left_open": verdict.left_open,
    }
    if verdict.person is not None:
        result.details["person"] = verdict.person


async def run_bench(opts: ChaosOptions, on_start: Callable[[str, int], Tick] | None = None,
                    on_done: Callable[[RunResult], None] | None = None,
                    before_judge: BeforeJudge | None = None) -> list[RunResult]:
    """Every kind ``opts.runs`` times, back to back, on one database server."""
    cdb = ChaosDatabase(opts.state_dir / "pgdata")
    await cdb.start()
    results: list[RunResult] = []
    try:
        for name in opts.kinds:
            for index in range(opts.runs):
                tick = on_start(name, index) if on_start else None
                result = await run_one(KINDS[name], index, opts, cdb, tick, before_judge)
                results.append(result)
                if on_done:
                    on_done(result)
    finally:
        if not opts.keep_db:
            await asyncio.to_thread(cdb.shutdown)
    return results
