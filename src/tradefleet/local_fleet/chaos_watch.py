"""Watching a fleet during a chaos run: is it healthy right now? The runner samples this a few
times a second; the first healthy sample once the fault has ended is its recovery.

Healthy (printed with the table as the definition of recovery) means all of:
- every live worker (process running, not taken away by the fault) has a worker row of that
  very process (its pid) that is not EXIT, with a heartbeat younger than the lock TTL
  (database clock);
- no order has been open (NEW, SENT, UNKNOWN, PARTIALLY_FILLED) for more than 10 s since it
  was sent (or created, if never sent);
- every OPEN position and every lock belongs to such a fresh live worker;
- the exchange holds, per symbol, exactly the shares our OPEN positions hold."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from tradefleet.adapters.postgres.database import Database
from tradefleet.local_fleet.session_rig import SessionRig

ORDER_OPEN_LIMIT_S = 10.0
RECOVERY_DEFINITION = (
    "recovery = from the injection until the first moment, once the fault itself is over "
    "(SIGCONT, restart, database back, burst disarmed), at which every live worker process "
    "has registered and its heartbeat is younger than the TTL (DB clock), no order has been open > "
    f"{ORDER_OPEN_LIMIT_S:.0f} s, every OPEN position and lock belongs to a fresh live "
    "worker, and the exchange's holdings equal our OPEN positions per symbol")

_STATE = """
SELECT
  (SELECT coalesce(jsonb_agg(jsonb_build_object(
          'w', worker_id, 's', status, 'pid', pid,
          'age', EXTRACT(EPOCH FROM now() - heartbeat_at)::float8)), '[]'::jsonb)
     FROM workers) AS workers,
  (SELECT count(*) FROM orders
    WHERE status IN ('NEW', 'SENT', 'UNKNOWN', 'PARTIALLY_FILLED')
      AND coalesce(sent_at, created_at) < now() - make_interval(secs => $1)) AS stale_orders,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('w', worker_id, 'sym', symbol, 'qty', qty)),
                   '[]'::jsonb)
     FROM positions WHERE status = 'OPEN') AS positions,
  (SELECT coalesce(jsonb_agg(worker_id), '[]'::jsonb) FROM stock_locks) AS lock_holders
"""


@dataclass(frozen=True)
class Sample:
    at: float                                    # real epoch seconds
    problems: tuple[str, ...]
    holding: tuple[str, ...] = ()                # workers in HOLD
    all_up: bool = False                         # every live worker registered and beating
    shared_symbols: tuple[str, ...] = ()         # OPEN positions of 2+ workers on one symbol

    @property
    def healthy(self) -> bool:
        return not self.problems


async def sample(rig: SessionRig, db: Database) -> Sample:
    now = time.time()
    try:
        row = await db.pool.fetchrow(_STATE, ORDER_OPEN_LIMIT_S)
        held = await rig.holdings()
    except Exception as exc:  # noqa: BLE001 - a database or exchange that is down is a state
        return Sample(now, (f"unreadable: {type(exc).__name__}",))
    ttl = rig.opts.ttl_seconds
    rows = {w["w"]: w for w in row["workers"]}
    live = rig.live_workers()
    # the row must be this process's: a killed one's last beat stays young for a TTL
    fresh = {w for w in live if w in rows and rows[w]["s"] != "EXIT" and rows[w]["age"] < ttl
             and rows[w]["pid"] == rig.process(w).proc.pid}
    problems = [f"{w} heartbeat stale" for w in live if w not in fresh]
    if row["stale_orders"]:
        problems.append(f"{row['stale_orders']} order(s) open > {ORDER_OPEN_LIMIT_S:.0f}s")
    ours: dict[str, int] = defaultdict(int)
    owners: dict[str, set[str]] = defaultdict(set)
    for p in row["positions"]:
        ours[p["sym"]] += int(p["qty"])
        owners[p["sym"]].add(p["w"])
        if p["w"] not in fresh:
            problems.append(f"position {p['sym']} of {p['w']} (not live)")
    problems += [f"lock of {w} (not live)" for w in sorted(set(row["lock_holders"]) - fresh)]
    for symbol in sorted(set(ours) | set(held)):
        if ours.get(symbol, 0) != held.get(symbol, 0):
            problems.append(f"{symbol}: exchange holds {held.get(symbol, 0)}, positions "
                            f"{ours.get(symbol, 0)}")
    holding = tuple(sorted(w for w, r in rows.items() if r["s"] == "HOLD"))
    shared = tuple(sorted(s for s, ws in owners.items() if len(ws) > 1))
    return Sample(now, tuple(problems), holding=holding, shared_symbols=shared,
                  all_up=len(fresh) == len(live))


@dataclass
class Watch:
    """Samples of one run: when the fleet recovered, and what stood in the way until then."""

    injected_at: float | None = None
    ended_at: float | None = None
    recovered_at: float | None = None
    last: Sample | None = None
    blocking: list[str] = field(default_factory=list)   # problems of the last unhealthy sample
    shared_symbols: set[str] = field(default_factory=set)

    def add(self, s: Sample) -> None:
        self.last = s
        self.shared_symbols.update(s.shared_symbols)
        if self.ended_at is None or self.recovered_at is not None or s.at < self.ended_at:
            return
        if s.healthy:
            self.recovered_at = s.at
        else:
            self.blocking = list(s.problems)

    @property
    def recovery_s(self) -> float | None:
        if self.recovered_at is None or self.injected_at is None:
            return None
        return self.recovered_at - self.injected_at
