"""The verdict on one chaos run, read after every worker has left: the exchange's books and
order list (the truth) against our rows and events.

- held at the close: shares the exchange's books still hold for the account beyond what a
  person trading by hand on it holds (``manual_trades``; none otherwise): per symbol, the
  person's opening holdings plus what its own orders (by their ODNOs) bought minus sold;
- the person's shares wrong: per symbol, shares the person should hold that the account
  lacks (only the fleet can have sold them). The person's own orders are neither ours nor
  unknown to us; a row of ours carrying one of their ODNOs is listed as a claim, and its
  fills count as executions without fills (none of that order's executions is ours);
- executions without fills: broker order ids (ODNO) whose executed quantity at the exchange
  differs from the sum of our fills rows for the order row carrying that ODNO (no row at all
  counts as 0), plus fills on a row that never got an ODNO;
- orders unknown to us: orders the exchange accepted whose ODNO no order row carries;
- double holds: the lock history replayed (``find_double_holds``), and pairs of OPEN
  positions of two workers on one symbol whose lifetimes overlap (entry_at..exit_at);
- orders sent after the lease lapsed: orders the exchange accepted (its own order time)
  after the lock their row was created under had been released or reclaimed, or after their
  worker was declared dead (WorkerFailedEvent) while holding that lock."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import aiohttp
import asyncpg

from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.fleet_view import fleet_invariants
from tradefleet.adapters.postgres.lock_history import find_double_holds
from tradefleet.adapters.postgres.poll_lag_store import fleet_lag
from tradefleet.adapters.sim.exchange.books_client import fetch_books
from tradefleet.adapters.sim.ledger import Execution
from tradefleet.local_fleet.chaos_person import PersonLedger, split_holdings

JUDGE_APPKEY = "chaos-judge"           # its own appkey: its own token and rate window
_DAILY = "/uapi/domestic-stock/v1/trading/inquire-daily-ccld"
RealAt = Callable[[datetime], float]     # a simulated moment -> the real epoch second


@dataclass(frozen=True)
class ExchangeOrder:
    odno: str
    symbol: str
    side: str
    ordered_at: datetime               # the exchange's order time (whole simulated seconds)
    filled_qty: int


@dataclass
class Verdict:
    trades: int = 0                    # positions closed today
    orders_at_exchange: int = 0
    held_at_close: dict[str, int] = field(default_factory=dict)
    unfilled_executions: list[dict[str, Any]] = field(default_factory=list)
    unknown_orders: list[dict[str, Any]] = field(default_factory=list)
    lock_double_holds: list[dict[str, Any]] = field(default_factory=list)
    overlapping_positions: list[dict[str, Any]] = field(default_factory=list)
    after_lease: list[dict[str, Any]] = field(default_factory=list)
    left_open: dict[str, int] = field(default_factory=dict)
    person_missing: dict[str, int] = field(default_factory=dict)   # symbol -> shares
    person: dict[str, Any] | None = None     # the person's books, when one traded
    poll_lag_max_s: float = 0.0        # the longest poll of any worker, in session seconds

    def invariant_counts(self) -> dict[str, int]:
        return {"held_at_close": sum(self.held_at_close.values()),
                "executions_without_fills": len(self.unfilled_executions),
                "orders_unknown_to_us": len(self.unknown_orders),
                "double_holds": len(self.lock_double_holds) + len(self.overlapping_positions),
                "orders_after_lease": len(self.after_lease),
                "left_open": sum(n for k, n in self.left_open.items()
                                 if k != "workers_holding"),
                "person_shares_wrong": sum(self.person_missing.values())}


def _odno(value: str) -> str:
    return value.strip().lstrip("0")


async def exchange_orders(base_url: str, http: aiohttp.ClientSession, day: date
                          ) -> list[ExchangeOrder]:
    """Every order the exchange accepted on ``day``, from its KIS order list (daily-ccld)."""
    secret = "chaos-judge-secret"      # noqa: S105 - the simulator accepts any pair
    async with http.post(base_url + "/oauth2/tokenP", json={
            "grant_type": "client_credentials", "appkey": JUDGE_APPKEY,
            "appsecret": secret}) as resp:
        token = (await resp.json())["access_token"]
    headers = {"authorization": f"Bearer {token}", "appkey": JUDGE_APPKEY,
               "appsecret": secret, "tr_id": "TTTC0081R", "custtype": "P"}
    ymd = day.strftime("%Y%m%d")
    params = {"CANO": "50000000", "ACNT_PRDT_CD": "01", "INQR_STRT_DT": ymd,
              "INQR_END_DT": ymd, "SLL_BUY_DVSN_CD": "00", "CCLD_DVSN": "00",
              "CTX_AREA_FK100": "", "CTX_AREA_NK100": ""}
    out: list[ExchangeOrder] = []
    cont = ""
    for _ in range(1000):
        async with http.get(base_url + _DAILY, params=params,
                            headers={**headers, "tr_cont": cont}) as resp:
            body = await resp.json()
            more = resp.headers.get("tr_cont", "") in ("F", "M")
        if body.get("rt_cd") != "0":
            raise RuntimeError(f"daily-ccld: {body.get('msg_cd')} {body.get('msg1')}")
        for r in body["output1"]:
            at = datetime.strptime(r["ord_dt"] + r["ord_tmd"], "%Y%m%d%H%M%S")
            out.append(ExchangeOrder(r["odno"], r["pdno"],
                                     "BUY" if r["sll_buy_dvsn_cd"] == "02" else "SELL",
                                     at.replace(tzinfo=SEOUL), int(r["tot_ccld_qty"])))
        if not more:
            return out
        params = {**params, "CTX_AREA_NK100": body["ctx_area_nk100"].strip()}
        cont = "N"
    raise RuntimeError("daily-ccld: more than 1000 pages")


async def judge(db: Database, base_url: str, http: aiohttp.ClientSession, day: date,
                real_at: RealAt, person: PersonLedger | None = None) -> Verdict:
    person = person or PersonLedger()
    v = Verdict()
    books = await fetch_books(base_url, http)
    listed = await exchange_orders(base_url, http, day)
    v.orders_at_exchange = len(listed)
    held = {h.symbol: h.qty for h in books.holdings.holdings if h.qty}
    theirs = person.holdings(books.executions)
    v.held_at_close, v.person_missing = split_holdings(held, theirs)
    rows = await db.pool.fetch(
        """SELECT o.order_id, o.worker_id, o.symbol, o.side, o.status, o.broker_order_id,
                  o.fencing_token, coalesce(sum(f.qty), 0)::bigint AS filled
             FROM orders o LEFT JOIN fills f ON f.order_id = o.order_id
            GROUP BY o.order_id ORDER BY o.order_id""")
    _executions(v, books.executions, rows, listed, person)
    if person.active:
        v.person = {"opening": person.opening, "orders": len(person.odnos),
                    "refused": sum(1 for o in person.orders if o["refused"]),
                    "expected_at_close": theirs, "missing": v.person_missing,
                    # symbols both the person (held or traded) and our orders touched
                    "shared_with_fleet": sorted(
                        ({o["symbol"] for o in person.orders} | set(person.opening))
                        & {r["symbol"] for r in rows}),
                    "claimed_by_our_rows": [
                        {"odno": r["broker_order_id"], "order_id": r["order_id"],
                         "worker": r["worker_id"], "status": r["status"]}
                        for r in rows if r["broker_order_id"]
                        and person.owns(r["broker_order_id"])]}
    await _lease(v, db, rows, listed, real_at)
    doubles, _ = await find_double_holds(db)
    v.lock_double_holds = [{"symbol": d.symbol, "holder": d.holder, "intruder": d.intruder,
                            "event_id": d.event_id} for d in doubles]
    v.overlapping_positions = await _overlaps(db)
    v.trades = int(await db.pool.fetchval(
        "SELECT count(*) FROM positions WHERE status = 'CLOSED' AND trading_day = $1", day))
    v.left_open = {k: int(n) for k, n in (await fleet_invariants(db, day)).items() if n}
    v.poll_lag_max_s = (await fleet_lag(db, day, look_back_s=1)).day_max_s
    return v


def _executions(v: Verdict, executions: Sequence[Execution], rows: list[asyncpg.Record],
                listed: list[ExchangeOrder], person: PersonLedger) -> None:
    """The person's executions are not ours: 0 of them is what our rows may record."""
    executed: dict[str, int] = defaultdict(int)
    for e in executions:
        if not person.owns(e.odno):
            executed[_odno(e.odno)] += e.qty
    ours: dict[str, int] = defaultdict(int)
    for r in rows:
        if r["broker_order_id"]:
            ours[_odno(r["broker_order_id"])] += int(r["filled"])
        elif r["filled"]:
            v.unfilled_executions.append({"odno": None, "order_id": r["order_id"],
                                          "exchange_qty": 0, "our_qty": int(r["filled"])})
    for odno in sorted(set(executed) | {o for o, q in ours.items() if q}):
        if executed.get(odno, 0) != ours.get(odno, 0):
            v.unfilled_executions.append({"odno": odno, "exchange_qty": executed.get(odno, 0),
                                          "our_qty": ours.get(odno, 0),
                                          "has_row": odno in ours})
    v.unknown_orders = [{"odno": o.odno, "symbol": o.symbol, "side": o.side,
                         "ordered_at": o.ordered_at.isoformat(), "filled_qty": o.filled_qty}
                        for o in listed
                        if _odno(o.odno) not in ours and not person.owns(o.odno)]


async def _lease(v: Verdict, db: Database, rows: list[asyncpg.Record],
                 listed: list[ExchangeOrder], real_at: RealAt) -> None:
    events = await db.pool.fetch(
        """SELECT event_type, worker_id, payload, EXTRACT(EPOCH FROM occurred_at)::float8 AS at
             FROM events WHERE event_type IN ('LockAcquiredEvent', 'LockReleasedEvent',
                                              'WorkerFailedEvent')
            ORDER BY event_id""")
    acquired: dict[int, float] = {}
    released: dict[int, float] = {}
    failed: dict[str, list[float]] = defaultdict(list)
    for e in events:
        if e["event_type"] == "WorkerFailedEvent":
            failed[e["worker_id"]].append(e["at"])
            continue
        token = int(e["payload"]["fencing_token"])
        book = acquired if e["event_type"] == "LockAcquiredEvent" else released
        book[token] = min(book.get(token, e["at"]), e["at"])      # the first one counts
    by_odno = {_odno(r["broker_order_id"]): r for r in rows if r["broker_order_id"]}
    for o in listed:
        row = by_odno.get(_odno(o.odno))
        if row is None:
            continue
        token = int(row["fencing_token"])
        sent = real_at(o.ordered_at)       # the exchange's time, floored to a second
        why = None
        if token in released and sent > released[token]:
            why = f"lock {token} released {sent - released[token]:.3f}s before"
        for at in failed.get(row["worker_id"], []):
            if acquired.get(token, at) < at < sent:
                why = why or f"{row['worker_id']} declared dead {sent - at:.3f}s before"
        if why:
            v.after_lease.append({"odno": o.odno, "order_id": row["order_id"],
                                  "worker": row["worker_id"], "symbol": o.symbol,
                                  "side": o.side, "fencing_token": token, "why": why})


async def _overlaps(db: Database) -> list[dict[str, Any]]:
    rows = await db.pool.fetch(
        """SELECT a.symbol, a.position_id AS a_id, a.worker_id AS a_worker,
                  b.position_id AS b_id, b.worker_id AS b_worker
             FROM positions a JOIN positions b
               ON a.symbol = b.symbol AND a.position_id < b.position_id
              AND a.worker_id <> b.worker_id
              AND a.entry_at < coalesce(b.exit_at, 'infinity')
              AND b.entry_at < coalesce(a.exit_at, 'infinity')
            ORDER BY a.position_id, b.position_id""")
    return [dict(r) for r in rows]
