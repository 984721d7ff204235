"""The fault kinds of a chaos run. Each is acted out whole from the moment it is injected
(a pause lasts past the TTL and ends with SIGCONT; a broker burst is armed, left for a few
seconds and disarmed) and returns what it did; the runner watches the fleet meanwhile.

Broker faults are the simulator's own rules (``/_admin/faults``) on the order and status
operations, so how often they fired comes from the simulator's counters."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from tradefleet.local_fleet.chaos_db import ChaosDatabase
from tradefleet.local_fleet.chaos_person import (
    MANUAL_S,
    PersonLedger,
    opening_holdings,
    trade_by_hand,
    worker_sizes,
)
from tradefleet.local_fleet.session_rig import RigOptions, SessionRig

ORDER_AND_STATUS = ("place_order", "cancel_order", "get_order", "find_orders")
BURST_PROBABILITY = 0.5
BURST_S = 3.0                # a burst lasts this long ...
BURST_MAX_S = 12.0           # ... or until it fired at least once, up to this
LOST_ANSWER_WAIT_S = 15.0    # the next order's answer is lost; armed at most this long
PAST_TTL_S = 3.0             # a pause or an outage outlasts the TTL by this much
RECOVERY_SLACK_S = 5.0       # recovery time past the workers' unseen grace
REFUSED_PROBABILITY = 0.25   # manual_trades_refused: share of the workers' orders refused
FEED_STALL_S = 6.0           # feed_stalled: nothing sent this long (3x the workers' staleness)
FEED_WAIT_S = 10.0           # a feed fault waits this long for a live holder, then acts anyway


def recovery_allowance_s(opts: RigOptions) -> float:
    """Real seconds left for recovery before the liquidation time: an order left ambiguous by
    a fault is judged never sent only after the workers' unseen grace (real seconds, DB
    clock), whatever the speed of the simulated day."""
    return opts.grace_s + RECOVERY_SLACK_S


@dataclass
class FaultRecord:
    kind: str
    target: str                  # a worker id, "database", or the operations hit
    injected_at: float           # real epoch seconds
    ended_at: float
    injected: int                # actions taken: a pause, a kill, a restart, rules armed
    fired: int | None            # broker rules only: times they fired at the simulator
    detail: str


@dataclass(frozen=True)
class FaultContext:
    rig: SessionRig
    db: ChaosDatabase
    rng: random.Random
    holding: list[str]           # workers in HOLD when the fault is injected
    # a person trading by hand on the account (``manual_trades``): its holdings and orders
    person: PersonLedger = field(default_factory=PersonLedger)


@dataclass(frozen=True)
class FaultKind:
    name: str
    description: str
    act: Callable[[FaultContext], Awaitable[FaultRecord]]
    duration_s: Callable[[RigOptions], float]     # real seconds the fault itself usually lasts
    # shares the account holds before the day (symbol -> qty), drawn before the rig starts
    opening: Callable[[RigOptions, random.Random], dict[str, int]] | None = None
    feed: bool = False           # the run plays with the exchange's WebSocket feed enabled

    def budget_s(self, opts: RigOptions) -> float:
        """Real seconds between the injection and the liquidation time, at least."""
        return self.duration_s(opts) + recovery_allowance_s(opts)


def _victim(ctx: FaultContext) -> str:
    """A worker in HOLD if any (its position is what is at stake), else any live one."""
    live = ctx.rig.live_workers()
    pool = sorted(w for w in ctx.holding if w in live) or sorted(live) or ctx.rig.worker_ids
    return ctx.rng.choice(pool)


def _record(kind: str, target: str, started: float, injected: int, detail: str,
            fired: int | None = None) -> FaultRecord:
    return FaultRecord(kind, target, started, time.time(), injected, fired, detail)


async def _none(ctx: FaultContext) -> FaultRecord:
    return _record("none", "-", time.time(), 0, "baseline: nothing injected")


async def _pause(ctx: FaultContext) -> FaultRecord:
    wid, started = _victim(ctx), time.time()
    hold = ctx.rig.opts.ttl_seconds + PAST_TTL_S
    ctx.rig.pause(wid)
    await asyncio.sleep(hold)
    ctx.rig.resume(wid)
    return _record("pause_past_ttl", wid, started, 1, f"SIGSTOP {hold:.0f}s, SIGCONT")


async def _kill_restart(ctx: FaultContext) -> FaultRecord:
    wid, started = _victim(ctx), time.time()
    await ctx.rig.kill(wid, restart=True)
    return _record("kill_restart", wid, started, 1, "SIGKILL, same worker id started again")


async def _kill_for_good(ctx: FaultContext) -> FaultRecord:
    wid, started = _victim(ctx), time.time()
    ctx.rig.no_restart.add(wid)
    await ctx.rig.kill(wid, restart=False)
    return _record("kill_no_restart", wid, started, 1, "SIGKILL, never started again")


async def _db_restart(ctx: FaultContext) -> FaultRecord:
    started = time.time()
    await asyncio.to_thread(ctx.db.restart)
    return _record("db_restart", "database", started, 1, "pg_ctl restart -m fast")


async def _db_down(ctx: FaultContext) -> FaultRecord:
    started = time.time()
    down = ctx.rig.opts.ttl_seconds + PAST_TTL_S
    await asyncio.to_thread(ctx.db.stop)
    await asyncio.sleep(down)
    await asyncio.to_thread(ctx.db.start_again)
    return _record("db_down_past_ttl", "database", started, 1,
                   f"pg_ctl stop -m fast, {down:.0f}s down, start")


def _burst(fault_kind: str, name: str) -> Callable[[FaultContext], Awaitable[FaultRecord]]:
    async def act(ctx: FaultContext) -> FaultRecord:
        started = time.time()
        seed = ctx.rng.randrange(1 << 30)
        ids = [await ctx.rig.arm(operation=op, kind=fault_kind,
                                 probability=BURST_PROBABILITY, seed=seed + i)
               for i, op in enumerate(ORDER_AND_STATUS)]
        await asyncio.sleep(BURST_S)
        await _fired_by(ctx.rig, ids, started + BURST_MAX_S, 0.5)
        fired = await ctx.rig.fired(ids)     # read just before the rules are dropped
        await ctx.rig.disarm(ids)
        return _record(name, ",".join(ORDER_AND_STATUS), started, len(ids),
                       f"{fault_kind} p={BURST_PROBABILITY} for {time.time() - started:.1f}s",
                       fired)
    return act


async def _lost_answer(ctx: FaultContext) -> FaultRecord:
    started = time.time()
    rule = await ctx.rig.arm(operation="place_order", kind="drop_after_accept", count=1)
    fired = await _fired_by(ctx.rig, [rule], started + LOST_ANSWER_WAIT_S, 0.2)
    await ctx.rig.disarm([rule])
    return _record("lost_order_answer", "place_order", started, 1,
                   "the next order is accepted and its answer cut", fired)


async def _manual_trades(ctx: FaultContext) -> FaultRecord:
    started, o = time.time(), ctx.rig.opts
    stats = await trade_by_hand(
        ctx.rig.base_url, ctx.rig.http, ctx.rig.dsn, ctx.rig.session.day, ctx.person,
        ctx.rng, worker_sizes(o.seed, o.symbols, o.capital_limit))
    return _record("manual_trades", "account", started, stats.placed,
                   f"{stats.placed} market orders by hand ({stats.buys} buys, {stats.sells} "
                   f"sells), {stats.refused} refused; held before the day: "
                   f"{sum(ctx.person.opening.values())} shares of "
                   f"{len(ctx.person.opening)} symbols")


async def _manual_trades_refused(ctx: FaultContext) -> FaultRecord:
    """The issue-16 reproduction: a person trades by hand while a quarter of the workers'
    orders (their own requests only, by worker id) are refused by the broker."""
    seed = ctx.rng.randrange(1 << 30)
    ids = [await ctx.rig.arm(operation="place_order", kind="reject", worker=wid,
                             probability=REFUSED_PROBABILITY, seed=seed + i)
           for i, wid in enumerate(ctx.rig.worker_ids)]
    try:
        record = await _manual_trades(ctx)
    finally:
        fired = await ctx.rig.fired(ids)
        await ctx.rig.disarm(ids)
    return replace(record, kind="manual_trades_refused", fired=fired,
                   detail=f"{record.detail}; meanwhile the workers' orders refused "
                          f"(p={REFUSED_PROBABILITY})")


async def _live_holder(rig: SessionRig, within: float) -> tuple[str, float] | None:
    """The worker holding the account's feed (its id, seconds since it renewed), waiting up
    to ``within`` real seconds for one; None if no holder became live."""
    deadline = time.time() + within
    while True:
        holder = await rig.feed_holder()
        if holder is not None or time.time() >= deadline:
            return holder
        await asyncio.sleep(0.2)


async def _feed_dropped(ctx: FaultContext) -> FaultRecord:
    started = time.time()
    holder = await _live_holder(ctx.rig, FEED_WAIT_S)
    await ctx.rig.ws_fault(kind="drop")
    back = await _live_holder(ctx.rig, FEED_WAIT_S)
    acted = (await ctx.rig.ws_state())["faults"]["acted"].get("drop", 0)
    return _record("feed_dropped", holder[0] if holder else "-", started, 1,
                   f"every WebSocket session cut (TCP abort); holder before {holder and holder[0]}"
                   f", after {back and back[0]}", acted)


async def _feed_stalled(ctx: FaultContext) -> FaultRecord:
    started = time.time()
    holder = await _live_holder(ctx.rig, FEED_WAIT_S)
    await ctx.rig.ws_fault(kind="stall", seconds=FEED_STALL_S)
    await asyncio.sleep(FEED_STALL_S)
    acted = (await ctx.rig.ws_state())["faults"]["acted"].get("stall", 0)
    return _record("feed_stalled", holder[0] if holder else "-", started, 1,
                   f"nothing sent for {FEED_STALL_S:.0f}s on open sockets", acted)


async def _feed_holder_killed(ctx: FaultContext) -> FaultRecord:
    """SIGKILL the worker that holds the account's feed, started again as a pod would be;
    a standby takes the lease after its TTL."""
    started = time.time()
    holder = await _live_holder(ctx.rig, FEED_WAIT_S)
    if holder is None:
        return _record("feed_holder_killed", "-", started, 0, "no live feed holder to kill")
    wid = holder[0].split(":")[0]
    await ctx.rig.kill(wid, restart=True)
    killed = time.time()
    after = None
    while time.time() < killed + 3 * FEED_WAIT_S:
        after = await ctx.rig.feed_holder()
        if after is not None and after[0] != holder[0]:
            break
        await asyncio.sleep(0.1)
    took = f"{time.time() - killed:.1f}s" if after and after[0] != holder[0] else "never"
    return _record("feed_holder_killed", wid, started, 1,
                   f"SIGKILL the holder {holder[0]} (started again); new holder "
                   f"{after and after[0]} after {took}")


def _person_opening(opts: RigOptions, rng: random.Random) -> dict[str, int]:
    return opening_holdings(opts.seed, opts.symbols, opts.capital_limit, rng)


async def _fired_by(rig: SessionRig, ids: list[int], until: float, every: float) -> int:
    """How often the rules fired, polled until they fired at least once or ``until``."""
    while True:
        fired = await rig.fired(ids)
        if fired or time.time() >= until:
            return fired
        await asyncio.sleep(every)


def _ttl_plus(opts: RigOptions) -> float:
    return opts.ttl_seconds + PAST_TTL_S


KINDS: dict[str, FaultKind] = {k.name: k for k in (
    FaultKind("none", "no fault (baseline)", _none, lambda o: 0.0),
    FaultKind("pause_past_ttl", "SIGSTOP a worker for TTL+3 s, then SIGCONT", _pause,
              _ttl_plus),
    FaultKind("kill_restart", "SIGKILL a worker, start the same worker id again",
              _kill_restart, lambda o: 2.0),
    FaultKind("kill_no_restart", "SIGKILL a worker for good", _kill_for_good, lambda o: 0.0),
    FaultKind("db_restart", "pg_ctl restart -m fast of the database", _db_restart,
              lambda o: 5.0),
    FaultKind("db_down_past_ttl", "database stopped for TTL+3 s, then started", _db_down,
              _ttl_plus),
    FaultKind("broker_timeout", "order/status calls time out (p=0.5, a burst)",
              _burst("timeout", "broker_timeout"), lambda o: BURST_S),
    FaultKind("broker_5xx", "order/status calls answer 5xx (p=0.5, a burst)",
              _burst("error", "broker_5xx"), lambda o: BURST_S),
    FaultKind("broker_drop", "order/status calls act, then the answer is cut (p=0.5)",
              _burst("drop_after_accept", "broker_drop"), lambda o: BURST_S),
    FaultKind("broker_rate_limit", "order/status calls refused EGW00201 (p=0.5, a burst)",
              _burst("rate_limit", "broker_rate_limit"), lambda o: BURST_S),
    FaultKind("lost_order_answer", "the next order is accepted, its answer lost",
              _lost_answer, lambda o: 1.0),
    FaultKind("manual_trades", "a person holds shares from before the day and trades by "
              "hand on the same account (market orders over KIS HTTP, not our rows)",
              _manual_trades, lambda o: MANUAL_S, opening=_person_opening),
    FaultKind("manual_trades_refused", "manual_trades while the broker refuses a quarter of "
              "the workers' orders (reject, p=0.25, their requests only)",
              _manual_trades_refused, lambda o: MANUAL_S, opening=_person_opening),
    FaultKind("feed_dropped", "the WebSocket feed's connections are cut (feed enabled)",
              _feed_dropped, lambda o: 3.0, feed=True),
    FaultKind("feed_stalled", f"the WebSocket feed sends nothing for {FEED_STALL_S:.0f} s "
              "(feed enabled)", _feed_stalled, lambda o: FEED_STALL_S, feed=True),
    FaultKind("feed_holder_killed", "SIGKILL the worker holding the account's feed, start "
              "it again (feed enabled)", _feed_holder_killed, lambda o: 6.0, feed=True),
)}
