"""One worker through one day on a stepped clock: the production worker (``build_worker``
from Settings, ``Worker.start`` and recovery, then its own order follower and trading-cycle
polls) against an exchange simulator, the clock jumping from one poll to the next instead
of sleeping (``tradefleet backtest``, issue 21, item 2; ``replay.backtest`` runs days).

The same stepping drives the simulator's own day (``run_worker_day`` with a seeded
``SimMarket``) and a recorded one (``replay_day``: the simulator's matching over the
recorded tape), which is what the parity check compares. N workers share one market and
one clock, each following its orders and polling in a fixed order at every step. Left: the
worker's timers (heartbeat, follower timer, the process loop) on the virtual clock rather
than stepped by hand."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.report_queries import DailyReport, fetch_daily_report
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.universe import STEP_SECONDS
from tradefleet.domain.markets import Market
from tradefleet.domain.states import WorkerStatus
from tradefleet.replay.bare_reads import BareReads
from tradefleet.replay.day_controls import DayControls
from tradefleet.replay.deferred_candidates import DeferredCandidates
from tradefleet.replay.deferred_events import DeferredEvents
from tradefleet.replay.held_connections import HeldConnections
from tradefleet.replay.known_pnl import KnownPnl
from tradefleet.replay.live_fleet import LiveFleet
from tradefleet.replay.quiet_holds import QuietHolds
from tradefleet.replay.quiet_scans import QuietScans
from tradefleet.replay.step_reads import StepReads
from tradefleet.replay.step_scans import StepScans
from tradefleet.services.market_directory import MarketTable
from tradefleet.settings import Settings, load_settings
from tradefleet.worker.param_version import take_param_version
from tradefleet.worker.wiring import build_worker

# a position as a backtest compares it; not entry_at/exit_at: those are the database clock's
# (wall time), where a replay's trades happen on the session clock
TRADE_COLUMNS = ("worker_id", "symbol", "status", "qty", "bought_qty", "entry_price",
                 "exit_price", "exit_reason", "realized_pnl", "fees", "taxes", "strategy_name",
                 "param_version")

HALF_HOUR = timedelta(minutes=30)
Progress = Callable[[datetime, int], None]      # (session time, polls so far)


@dataclass
class DayRun:
    day: date
    polls: int
    wall_s: float
    session_s: float
    trades: list[dict[str, Any]] = field(default_factory=list)
    # for the backtest's report (``replay.backtest_report``), kept apart from ``trades``,
    # which the determinism and parity checks compare: the day's summaries and closed
    # trades as ``tradefleet report`` reads them, and (wall time, session time) after each
    # step, which puts a row's database time back on the session clock
    report: DailyReport | None = None
    marks: list[tuple[float, datetime]] = field(default_factory=list)
    quiet_skipped: int = 0          # worker-polls skipped as quiet holds (replay.quiet_holds)
    reads_shared: int = 0           # market reads served from the step's memo (step_reads)
    follower_skipped: int = 0       # follower passes with nothing to follow, left out
    controls_served: int = 0        # polls given the day's controls without a read
    orders_known: int = 0           # open-orders reads answered "none" without a read
    held_known: int = 0             # positions and locks reads answered "none" likewise
    events_deferred: int = 0        # events stored with others (replay.deferred_events)
    scans_skipped: int = 0          # scans answered with the last empty one (quiet_scans)
    pnl_served: int = 0             # realised-PnL reads answered as kept (known_pnl)
    orphans_served: int = 0         # orphan looks answered "none" (live_fleet)
    bare_reads: int = 0             # market reads past metering and faults (bare_reads)
    scans_shared: int = 0           # scan rankings handed on at one clock time (step_scans)
    scans_kept: int = 0             # scans stored with others (deferred_candidates)

    @property
    def speed(self) -> float:
        """Session seconds per wall second."""
        return self.session_s / self.wall_s if self.wall_s > 0 else float("inf")


async def run_worker_day(market: SimMarket, clock: FrozenClock, db: Database,
                         env: Mapping[str, str], *, universe: Sequence[str] | None = None,
                         track_timeout_s: float = 2.0, quiet_holds: bool = True,
                         shared_reads: bool = True, day_controls: bool = True,
                         held_connections: bool = True, quiet_scans: bool = True,
                         bare_reads: bool = True, step_scans: bool = True) -> DayRun:
    """The worker configured by ``env`` (TRADEFLEET_* values) trades ``market``'s day from
    the clock's time to the close, one poll per ``poll_interval_seconds`` of session time."""
    return await run_fleet_day(market, clock, db, [load_settings(None, dict(env))],
                               universe=universe, track_timeout_s=track_timeout_s,
                               quiet_holds=quiet_holds, shared_reads=shared_reads,
                               day_controls=day_controls,
                               held_connections=held_connections, quiet_scans=quiet_scans,
                               bare_reads=bare_reads, step_scans=step_scans)


async def run_fleet_day(market: SimMarket, clock: FrozenClock, db: Database,
                        fleet: Sequence[Settings], *, held_connections: bool = True,
                        **options: Any) -> DayRun:
    """``_fleet_day`` (its options are this function's), with the day's statements on
    connections taken from ``db``'s pool once and held for the day (``held_connections``,
    on by default; trades unchanged: ``replay.held_connections`` says why), given back to
    the pool however the day ends; the events its workers published and it kept
    (``replay.deferred_events``), and its scans' candidate rows
    (``replay.deferred_candidates``), stored by then if the day ended normally."""
    if not held_connections:
        return await _fleet_day(market, clock, db, fleet, **options)
    held = HeldConnections(db.pool)
    try:
        run = await _fleet_day(market, clock, Database(held), fleet, held=held, **options)
        await held.flush()      # the rows kept since the last statement that named them
        return run
    finally:
        await held.release_all()


async def _fleet_day(market: SimMarket, clock: FrozenClock, db: Database,
                     fleet: Sequence[Settings], *, universe: Sequence[str] | None = None,
                     track_timeout_s: float = 2.0, skip_still: bool = False,
                     quiet_holds: bool = True, shared_reads: bool = True,
                     day_controls: bool = True, held: HeldConnections | None = None,
                     progress: Progress | None = None, quiet_scans: bool = True,
                     known_pnl: bool = True, live_fleet: bool = True,
                     bare_reads: bool = True, step_scans: bool = True,
                     kept_scans: bool = True) -> DayRun:
    """The workers of ``fleet`` trade ``market``'s day on one clock, interleaved in a fixed
    order: every ``poll_interval_seconds`` (the first worker's) of session time, each worker
    in turn follows its orders and polls. One account, one market: they share the book and
    the fleet's symbol locks, as a fleet does.

    ``skip_still`` (a speed lever, off by default): no poll while the market has not taken
    a step since the last one (the simulator steps every 10 s; the default poll is 5 s).
    The market, the book and a resting order's fills cannot change in between; what changes
    is how soon a worker follows up its own order of the poll before (the next step instead
    of 5 s later), so the trades may differ from the unskipped day's (tested: deterministic,
    flat at the close). KRX deadlines (entry cutoff, liquidation) fall on whole minutes,
    which are steps, so none is skipped. ``quiet_holds`` (on by default; trades unchanged):
    a HOLD poll (and its follower pass) that would repeat the worker's last no-exit check
    on the same market step is skipped (``replay.quiet_holds`` says why it cannot decide
    differently). ``shared_reads`` (on by default; trades unchanged): the market's quotes
    and minute bars are read once per step for all the workers (``replay.step_reads``;
    it wraps this ``market`` object's reads for good). ``day_controls`` (on by default;
    trades unchanged): each worker reads the operator's controls at its first poll only
    (``replay.day_controls`` says why no one can change them during a replayed day).
    ``quiet_scans`` (on by default; trades unchanged): a worker's scan on the same market
    step as its previous one, which ranked nothing, is answered with that one
    (``replay.quiet_scans`` says why it would rank nothing again). ``known_pnl`` (on by
    default; trades unchanged): an entry's realised-PnL read is kept per worker until a
    position of that worker closes (``replay.known_pnl`` says why nothing else moves it).
    ``live_fleet`` (on by default; trades unchanged): the orphan look is answered "none"
    while every worker row is the fleet's with a valid lease (``replay.live_fleet``).
    ``bare_reads`` (on by default; trades unchanged): market reads go straight to the
    market while its fault plan is empty (``replay.bare_reads``). ``step_scans`` (on by
    default; trades unchanged): workers scanning alike at one clock time share one
    ranking (``replay.step_scans``).
    ``held``: the day's held connections (``run_fleet_day``), which also store the events
    the workers publish together (``replay.deferred_events``) and, ``kept_scans`` (on by
    default; trades unchanged), their scans' candidate rows (``replay.deferred_candidates``).
    ``progress`` hears the session time and the polls so far every half hour."""
    if not fleet:
        raise ValueError("a fleet day needs at least one worker")
    symbols = list(universe or sorted(market.symbols()))
    markets = MarketTable({i.symbol: Market(i.market) for i in market.symbol_infos()})
    started, begins = time.perf_counter(), clock.now()
    cycles, workers = [], []
    holds = QuietHolds(market.open_at) if quiet_holds else None
    reads = StepReads(market).install() if shared_reads else None
    controls = DayControls() if day_controls else None
    deferred = DeferredEvents() if held is not None else None
    kept = DeferredCandidates() if held is not None and kept_scans else None
    scans = QuietScans(market) if quiet_scans else None
    pnl = KnownPnl(lambda: clock.now().astimezone(SEOUL).date()) if known_pnl else None
    live = LiveFleet() if live_fleet else None
    bare = BareReads(market) if bare_reads else None
    alike = StepScans(market, reads=reads, bare=bare) if step_scans else None
    if held is not None:
        held.deferred = [k for k in (deferred, kept) if k is not None]
    for settings in fleet:
        settings = await take_param_version(settings, db, clock)  # noqa: PLW2901 - its session's
        worker = build_worker(settings, db=db, broker=SimBroker(market), clock=clock,
                              universe=symbols, track_timeout_s=track_timeout_s,
                              retry_base_delay=0.001, unseen_grace_s=0.0, markets=markets,
                              stray_on_session_clock=True)   # live's interval, session s
        cycle = await worker.start()
        if cycle.reconcile is None:
            raise RuntimeError("the worker has no order follower")
        if cycle.status is WorkerStatus.IDLE:   # start-up that leaves recovery to the loop
            await worker.recover(cycle)
        cycles.append(cycle)
        workers.append(worker)
        _wrap(worker, cycle, settings, holds, controls, deferred, pnl, live, bare, alike,
              kept)
        if scans is not None:
            scans.watch(cycle)
    if live is not None:
        await live.check_rows(db.pool)
    beats = LeaseKeeper(PostgresLockStore(db), workers)
    polls, polled_step, reported = 0, -1, 0
    marks: list[tuple[float, datetime]] = []
    step = timedelta(seconds=fleet[0].poll_interval_seconds)
    while clock.now() + step < market.close_at:
        clock.set(clock.now() + step)
        if skip_still:
            market_step = int((clock.now() - market.open_at).total_seconds()) // STEP_SECONDS
            if market_step == polled_step:
                continue
            polled_step = market_step
        await _step_fleet(clock.now(), workers, cycles, beats, holds)
        polls += 1
        marks.append((time.time(), clock.now()))
        if progress is not None and (clock.now() - begins) // HALF_HOUR > reported:
            reported = (clock.now() - begins) // HALF_HOUR
            progress(clock.now(), polls)
    session_s = (clock.now() - begins).total_seconds()
    rows = await db.pool.fetch(
        f"SELECT {', '.join(TRADE_COLUMNS)} FROM positions WHERE worker_id = ANY($1) "
        "ORDER BY position_id", [s.worker_id for s in fleet])
    wall_s = time.perf_counter() - started
    return DayRun(market.day, polls, wall_s, session_s, [dict(r) for r in rows],
                  await fetch_daily_report(db, market.day), marks,
                  holds.skipped if holds is not None else 0,
                  reads.served if reads is not None else 0,
                  holds.follower_skipped if holds is not None else 0,
                  controls.served if controls is not None else 0,
                  holds.orders_known if holds is not None else 0,
                  holds.positions_known + holds.locks_known if holds is not None else 0,
                  deferred.stored if deferred is not None else 0,
                  scans.skipped if scans is not None else 0,
                  pnl.served if pnl is not None else 0,
                  live.served if live is not None else 0,
                  bare.served if bare is not None else 0,
                  alike.served if alike is not None else 0,
                  kept.stored if kept is not None else 0)


def _wrap(worker: Any, cycle: Any, settings: Settings, holds: QuietHolds | None,
          controls: DayControls | None, deferred: DeferredEvents | None,
          pnl: KnownPnl | None = None, live: LiveFleet | None = None,
          bare: BareReads | None = None, alike: StepScans | None = None,
          kept: DeferredCandidates | None = None) -> None:
    """The replay-only components around one started worker (each module says why it
    trades nothing differently)."""
    if holds is not None:
        holds.watch(cycle, time_exit_minutes=settings.trading_rules()[2].time_exit_minutes)
    if controls is not None:
        controls.watch(cycle)
    if deferred is not None:            # started as before; what it publishes is kept now
        deferred.watch(worker._sink)
    if pnl is not None:
        pnl.watch(cycle)
    if live is not None:
        live.watch(worker, cycle)
    if bare is not None:
        bare.watch(worker)
    if alike is not None:               # on the scanner, before quiet_scans wraps the scan
        alike.watch(cycle)
    if kept is not None:                # the scanner's store (the one of every cycle)
        kept.watch(getattr(getattr(getattr(cycle._scan, "func", None), "__self__", None),
                           "_store", None))


async def _step_fleet(now: datetime, workers: Sequence[Any], cycles: Sequence[Any],
                      beats: LeaseKeeper, holds: QuietHolds | None) -> None:
    """Each worker in turn: its lease beat, a follower pass, then its poll (the pass and
    the poll left out where ``holds`` knows they would repeat a quiet hold, the pass alone
    where it knows the worker has no order to follow). The events the polls publish stay
    kept until a statement names their table (``replay.deferred_events``)."""
    if holds is not None:
        holds.at(now)
    for worker, cycle in zip(workers, cycles, strict=True):
        await beats.keep(worker)
        idle = False
        if holds is not None:
            if holds.skip(cycle):
                continue
            idle = holds.idle_follower(cycle)
            holds.polling(cycle)
            if not idle:
                holds.following(cycle)
        if not idle:
            await cycle.reconcile()
        await cycle.poll()


class LeaseKeeper:
    """The heartbeat of a stepped worker. A worker's lease and its locks' ages run on the
    wall clock (monotonic time, the database's ``now()``), which a replay does not slow
    down: a day that takes longer in wall time than the lock TTL (30 s by default) would
    have its orders refused and its locks judged expired by a peer, so its trades would
    depend on the machine's speed. A beat is sent, as ``heartbeat_loop`` sends it, before a
    worker's poll once half its lease is gone; it decides nothing in the trading, so the
    run stays deterministic."""

    def __init__(self, store: PostgresLockStore, workers: Sequence[Any]) -> None:
        self._store = store
        self._half = {id(w): (w.lease.ttl_seconds - w.lease.margin_seconds) / 2
                      for w in workers}

    async def keep(self, worker: Any) -> None:
        lease = worker.lease
        if lease.epoch is None or lease.age() is None:      # not granted, or revoked: stays
            return
        if lease.remaining() > self._half[id(worker)]:
            return
        sent_at = time.monotonic()
        if not await self._store.heartbeat(worker.config.worker_id, lease.epoch):
            raise RuntimeError(f"{worker.config.worker_id}: heartbeat refused in a replay")
        lease.renew(sent_at)


async def replay_day(folder: Path, db: Database, env: Mapping[str, str], *,
                     start: dtime | None = None, default_depth: int | None = None,
                     unknown_market: str | None = None, quiet_holds: bool = True,
                     quiet_scans: bool = True) -> DayRun:
    """The worker through a recorded day from ``start`` (the open) to the close (see
    ``replay.recorded_tape`` for how the day becomes the simulator's market)."""
    return await replay_fleet_day(folder, db, [load_settings(None, dict(env))], start=start,
                                  default_depth=default_depth,
                                  unknown_market=unknown_market, quiet_holds=quiet_holds,
                                  quiet_scans=quiet_scans)


async def replay_fleet_day(folder: Path, db: Database, fleet: Sequence[Settings], *,
                           start: dtime | None = None, default_depth: int | None = None,
                           unknown_market: str | None = None,
                           skip_still: bool = False, quiet_holds: bool = True,
                           shared_reads: bool = True, day_controls: bool = True,
                           progress: Progress | None = None,
                           quiet_scans: bool = True, known_pnl: bool = True,
                           live_fleet: bool = True, bare_reads: bool = True,
                           step_scans: bool = True) -> DayRun:
    """``fleet``'s workers through a recorded day, interleaved on one clock."""
    from tradefleet.replay.bar_quotes import with_bar_quotes
    from tradefleet.replay.day_format import read_day
    from tradefleet.replay.recorded_tape import RecordedTape, recorded_universe

    day = with_bar_quotes(read_day(folder))       # a bars-only day: quotes from its bars
    universe = recorded_universe(day, default_depth=default_depth,
                                 unknown_market=unknown_market)
    opens, closes = (t.astimezone(SEOUL) for t in (day.meta.session_open,
                                                   day.meta.session_close))
    clock = FrozenClock(datetime.combine(day.meta.day, start, tzinfo=SEOUL) if start else opens)
    market = SimMarket(0, n_symbols=len(universe.symbols), clock=clock, day=day.meta.day,
                       session_open=opens.time(), session_close=closes.time(),
                       recorded=(universe, RecordedTape(day, universe.symbols)))
    return await run_fleet_day(market, clock, db, fleet, skip_still=skip_still,
                               quiet_holds=quiet_holds, shared_reads=shared_reads,
                               day_controls=day_controls, progress=progress,
                               quiet_scans=quiet_scans, known_pnl=known_pnl,
                               live_fleet=live_fleet, bare_reads=bare_reads,
                               step_scans=step_scans)
