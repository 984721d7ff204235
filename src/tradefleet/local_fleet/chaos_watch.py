"""Watching a fleet during a chaos run: is it healthy right now? The runner samples this a few
times a second. Its recovery is the moment, once the fault itself has ended, from which the
fleet stays healthy up to the liquidation time: a moment that merely looks healthy (say,
orders stuck since the fault but not 10 s old yet) does not count. Without a fault the fleet
is healthy throughout once every worker is up (the baseline runs show it), so any later
trouble is the fault's.

Healthy (printed with the table as the definition of recovery) means all of:
- every live worker (process running, not taken away by the fault) has a worker row of that
  very process (its pid) that is not EXIT, with a heartbeat younger than the lock TTL
  (database clock);
- no order has been open (NEW, SENT, UNKNOWN, PARTIALLY_FILLED) for more than 10 s since its
  row was created;
- every OPEN position and every lock belongs to such a fresh live worker;
- the exchange holds, per symbol, exactly the shares our OPEN positions hold, beyond what a
  person trading by hand on the account holds (``manual_trades``) (a difference younger than
  1 s is a fill on its way into our rows, or an order of the person's whose answer is on its
  way, not a problem)."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.sim.exchange.books_client import fetch_books
from tradefleet.local_fleet.chaos_person import PersonLedger, split_holdings
from tradefleet.local_fleet.session_rig import SessionRig

ORDER_OPEN_LIMIT_S = 10.0
MISMATCH_GRACE_S = 1.0         # holdings vs positions may differ this long (a fill landing)
RECOVERY_DEFINITION = (
    "recovery = from the injection to the moment, after the fault itself is over (SIGCONT, "
    "restart, database back, burst disarmed), from which the fleet stays healthy up to the "
    "liquidation time: every live worker process registered, its "
    f"heartbeat younger than the TTL (DB clock); no order open > {ORDER_OPEN_LIMIT_S:.0f} s; "
    "every OPEN position and lock belongs to a fresh live worker; the exchange's holdings equal "
    f"our OPEN positions per symbol (differences under {MISMATCH_GRACE_S:.0f} s tolerated)")

_STATE = """
SELECT
  (SELECT coalesce(jsonb_agg(jsonb_build_object(
          'w', worker_id, 's', status, 'pid', pid,
          'age', EXTRACT(EPOCH FROM now() - heartbeat_at)::float8)), '[]'::jsonb)
     FROM workers) AS workers,
  (SELECT count(*) FROM orders
    WHERE status IN ('NEW', 'SENT', 'UNKNOWN', 'PARTIALLY_FILLED')
      AND created_at < now() - make_interval(secs => $1)) AS stale_orders,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('w', worker_id, 'sym', symbol, 'qty', qty)),
                   '[]'::jsonb)
     FROM positions WHERE status = 'OPEN') AS positions,
  (SELECT coalesce(jsonb_agg(worker_id), '[]'::jsonb) FROM stock_locks) AS lock_holders
"""


@dataclass(frozen=True)
class Sample:
    at: float                                    # real epoch seconds
    problems: tuple[str, ...]
    mismatched: tuple[tuple[str, str], ...] = ()  # (symbol, text): holdings != positions
    holding: tuple[str, ...] = ()                # workers in HOLD
    all_up: bool = False                         # every live worker registered and beating
    shared_symbols: tuple[str, ...] = ()         # OPEN positions of 2+ workers on one symbol



async def _ours_at_exchange(rig: SessionRig, person: PersonLedger | None) -> dict[str, int]:
    """The exchange's holdings, less the person's (its opening holdings and its own
    executions) when a person trades on the account: what only our positions can explain."""
    if person is None or not person.active:
        return await rig.holdings()
    books = await fetch_books(rig.base_url, rig.http)
    ours, missing = split_holdings({h.symbol: h.qty for h in books.holdings.holdings},
                                   person.holdings(books.executions))
    return {**ours, **{s: -q for s, q in missing.items()}}     # < 0: the person's sold


async def sample(rig: SessionRig, db: Database, person: PersonLedger | None = None) -> Sample:
    now = time.time()
    try:
        row = await db.pool.fetchrow(_STATE, ORDER_OPEN_LIMIT_S)
        held = await _ours_at_exchange(rig, person)
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
    mismatched = tuple((symbol, f"{symbol}: exchange holds {held.get(symbol, 0)}, positions "
                                f"{ours.get(symbol, 0)}")
                       for symbol in sorted(set(ours) | set(held))
                       if ours.get(symbol, 0) != held.get(symbol, 0))
    holding = tuple(sorted(w for w, r in rows.items() if r["s"] == "HOLD"))
    shared = tuple(sorted(s for s, ws in owners.items() if len(ws) > 1))
    return Sample(now, tuple(problems), mismatched=mismatched, holding=holding,
                  shared_symbols=shared, all_up=len(fresh) == len(live))


def _category(problem: str) -> str:
    for key in ("heartbeat stale", "open >", "not live", "exchange holds", "unreadable"):
        if key in problem:
            return key
    return problem


@dataclass
class Watch:
    """Samples of one run: when the fleet recovered, what stood in the way until then, and
    how often (and why) it looked unhealthy over the whole run."""

    injected_at: float | None = None
    ended_at: float | None = None
    until: float = float("inf")              # the liquidation time (real): judged up to here
    recovered_at: float | None = None
    healthy_since: float | None = None
    blocking: list[str] = field(default_factory=list)   # problems of the last unhealthy sample
    shared_symbols: set[str] = field(default_factory=set)
    samples: int = 0
    unhealthy: Counter[str] = field(default_factory=Counter)   # by kind of problem
    _mismatch_since: dict[str, float] = field(default_factory=dict)

    def problems(self, s: Sample) -> list[str]:
        """The sample's problems, with holdings differences only once they outlive the grace."""
        seen = {symbol for symbol, _ in s.mismatched}
        self._mismatch_since = {k: v for k, v in self._mismatch_since.items() if k in seen}
        out = list(s.problems)
        for symbol, text in s.mismatched:
            first = self._mismatch_since.setdefault(symbol, s.at)
            if s.at - first >= MISMATCH_GRACE_S:
                out.append(f"{text} for {s.at - first:.1f}s")
        return out

    def add(self, s: Sample) -> None:
        problems = self.problems(s)
        self.samples += 1
        self.unhealthy.update({_category(p) for p in problems})
        self.shared_symbols.update(s.shared_symbols)
        if self.ended_at is None or self.recovered_at is not None or s.at < self.ended_at:
            return
        if s.at >= self.until:
            self.fleet_left()
        elif problems:
            self.healthy_since = None
            self.blocking = problems
        elif self.healthy_since is None:
            self.healthy_since = s.at

    def fleet_left(self) -> None:
        """The liquidation time came, or every worker left: healthy since when, if at all."""
        if self.recovered_at is None and self.healthy_since is not None:
            self.recovered_at = self.healthy_since

    @property
    def recovery_s(self) -> float | None:
        if self.recovered_at is None or self.injected_at is None:
            return None
        return self.recovered_at - self.injected_at
