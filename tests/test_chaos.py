"""The chaos bench's machinery on two cheap kinds — no fault, and a worker SIGKILLed and
started again — for whole (fast) sessions of real processes: the exchange's books must agree
with our rows, nothing is left held or open, no symbol held twice, no order sent after its
lock lapsed, and the fleet recovers. These hold whatever the moment of the kill.

The judge itself is shown to see what it counts: before the real verdict, one fills row is
taken away and one lock is made to look released before its order reached the exchange; the
judge must name exactly that ODNO and that order (then both are put back)."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

from tradefleet.adapters.postgres.database import Database
from tradefleet.local_fleet.chaos import ChaosOptions, run_bench
from tradefleet.local_fleet.chaos_judge import Verdict, judge
from tradefleet.local_fleet.chaos_person import PersonLedger
from tradefleet.local_fleet.session_rig import RigOptions, SessionRig


async def _tampered_verdict(rig: SessionRig, db: Database
                            ) -> tuple[Verdict, str, int, int] | None:
    """None when the run has no fill to take away (a short late-start session on a loaded
    machine may end without a trade): the next run is tampered instead."""
    fill = await db.pool.fetchrow(
        """DELETE FROM fills WHERE fill_id = (SELECT min(fill_id) FROM fills) RETURNING *""")
    if fill is None:
        return None
    order = await db.pool.fetchrow(
        "SELECT order_id, broker_order_id, fencing_token FROM orders WHERE order_id = $1",
        fill["order_id"])
    event_id = await db.pool.fetchval(
        """INSERT INTO events (event_type, worker_id, symbol, payload, occurred_at)
           VALUES ('LockReleasedEvent', 'w1', $1, jsonb_build_object('fencing_token',
                   $2::bigint, 'reason', 'TEST'), now() - interval '1 day')
           RETURNING event_id""", fill["symbol"], order["fencing_token"])
    try:
        verdict = await judge(db, rig.base_url, rig.http, rig.session.day, rig.real_at)
    finally:
        await db.pool.execute("DELETE FROM events WHERE event_id = $1", event_id)
        await db.pool.execute(
            f"INSERT INTO fills ({', '.join(fill.keys())}) VALUES "
            f"({', '.join(f'${i + 1}' for i in range(len(fill)))})", *fill.values())
    return verdict, order["broker_order_id"].lstrip("0"), order["order_id"], int(fill["qty"])


def test_no_fault_and_kill_restart_keep_every_invariant(monkeypatch):
    for key in [k for k in os.environ if k.startswith("TRADEFLEET_")]:
        monkeypatch.delenv(key)
    # not under pytest's basetemp (0700): the server runs as the pgserver user when root
    state = Path(tempfile.mkdtemp(prefix="tradefleet-chaos-test-"))
    try:
        _run_and_check(state)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def _run_and_check(state: Path) -> None:
    opts = ChaosOptions(
        runs=1, kinds=("none", "kill_restart"), seed=3, state_dir=state, late_start=True,
        # the campaign's own pace: at 1500x the liquidation window is 0.6 real seconds,
        # shorter than a killed worker's restart, and a run could end holding shares
        rig=RigOptions(workers=2, speed=200, symbols=10, ttl_seconds=3,
                       heartbeat_seconds=1.0, lead_seconds=4.0, unseen_grace_s=2))
    tampered: list[tuple[Verdict, str, int, int]] = []

    async def before_judge(rig: SessionRig, db: Database, person: PersonLedger) -> None:
        if not tampered and (found := await _tampered_verdict(rig, db)) is not None:
            tampered.append(found)

    results = asyncio.run(run_bench(opts, before_judge=before_judge))

    assert [r.kind for r in results] == ["none", "kill_restart"]
    for r in results:
        assert r.error is None, r.error_trace
        assert r.finished, f"{r.kind}: the workers did not finish the session ({r.log_dir})"
        assert r.invariants and not any(r.invariants.values()), (r.kind, r.details)
        assert r.recovery_s is not None, (r.kind, r.blocking)
    baseline, killed = results
    assert baseline.fault is not None and baseline.fault["injected"] == 0
    assert killed.fault is not None and killed.fault["injected"] == 1
    victim = killed.fault["target"]
    # the victim died by SIGKILL before the close and was started again under its id
    assert any(e["worker_id"] == victim and e["code"] == -9 and e["restarted"]
               for e in killed.exits), killed.exits
    assert tampered, "neither run had a fill to take away: the fleet never traded"

    verdict, odno, order_id, removed = tampered[0]
    assert [(u["odno"], u["exchange_qty"] - u["our_qty"])
            for u in verdict.unfilled_executions] == [(odno, removed)]
    # that order, and any other sent under the same lock, reached the exchange "after" it
    assert order_id in [a["order_id"] for a in verdict.after_lease]
    assert len({a["fencing_token"] for a in verdict.after_lease}) == 1


def test_chaos_command_refuses_bad_arguments_by_name(capsys):
    import pytest

    from tradefleet.cli import build_parser

    for argv, named in ((["--kinds", "none,meteor"], "--kinds: unknown ['meteor']"),
                        (["--ttl", "2"], "--ttl"), (["--workers", "1"], "--workers"),
                        (["--speed", "0"], "--speed")):
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args(["chaos", *argv])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert named in err, err
    args = build_parser().parse_args(["chaos", "--kinds", "none,db_restart", "--runs", "3"])
    assert args.kinds == ("none", "db_restart") and args.runs == 3


def test_a_late_start_leaves_the_fault_its_real_seconds_inside_the_trading_part():
    from datetime import datetime, timedelta

    from tradefleet.adapters.clock import SEOUL
    from tradefleet.local_fleet.chaos import injection_window, late_start_at
    from tradefleet.local_fleet.chaos_faults import KINDS

    open_at = datetime(2026, 11, 24, 9, 0, tzinfo=SEOUL)
    liquidation = datetime(2026, 11, 24, 15, 15, tzinfo=SEOUL)
    rig = RigOptions(speed=200, unseen_grace_s=2)
    for kind in KINDS.values():
        start = late_start_at(kind, rig, open_at, liquidation)
        assert open_at < start < liquidation - timedelta(minutes=30), kind.name
        earliest, latest = injection_window(kind, rig, start, liquidation)
        assert start < earliest < latest, kind.name           # a real range to draw from
        # from the latest injection, the fault and its recovery fit before the liquidation
        left_real = (liquidation - latest).total_seconds() / rig.speed
        assert left_real >= kind.duration_s(rig) + rig.grace_s, kind.name
    # at a speed that leaves no room for a late start, the day starts at the open
    slow = KINDS["pause_past_ttl"]
    assert late_start_at(slow, RigOptions(speed=500), open_at, liquidation) > open_at
    assert late_start_at(slow, RigOptions(speed=100_000), open_at, liquidation) == open_at


def test_the_rig_hands_a_short_grace_to_its_workers_only_when_asked(tmp_path):
    from datetime import datetime

    from tradefleet.adapters.clock import SEOUL, SimClock
    from tradefleet.domain.calendar import TradingSession
    from tradefleet.settings import load_settings

    day = datetime(2026, 11, 24, tzinfo=SEOUL)
    session = TradingSession(day.date(), day.replace(hour=9), day.replace(hour=15, minute=30),
                             day.replace(hour=15, minute=20))
    envs = []
    for grace in (2.5, None):
        rig = SessionRig(RigOptions(unseen_grace_s=grace), "postgresql://u@h/d", tmp_path,
                         session)
        rig.clock = SimClock(session.open, 200.0, 0.0)
        rig.base_url = "http://127.0.0.1:9"
        envs.append(dict(rig._worker_env("w1")))
    short, default = (load_settings(None, env).broker.unseen_grace_seconds for env in envs)
    assert (short, default) == (2.5, 20.0)


# ---- a person trading by hand on the same account (manual_trades) ------------------------

def _execution(seq: int, odno: str, symbol: str, side: str, qty: int):
    from datetime import datetime

    from tradefleet.adapters.clock import SEOUL
    from tradefleet.adapters.sim.ledger import Execution
    from tradefleet.domain.orders import Side

    return Execution(seq, odno, symbol, Side(side), qty, 10_000,
                     datetime(2026, 11, 24, 10, seq, tzinfo=SEOUL), "5000****-01")


def test_the_judge_flags_a_persons_shares_sold_by_us_and_never_takes_their_orders_as_ours():
    """The person held 50 X from before the day and bought 100 Y by hand (ODNO 1); our fleet
    bought and sold 10 Z, and sold 30 X it never bought (an adoption of the person's shares:
    ODNO 4, our row with its fills). The books hold X 20, Y 100."""
    from datetime import datetime

    from tradefleet.adapters.clock import SEOUL
    from tradefleet.local_fleet.chaos_judge import ExchangeOrder, _executions
    from tradefleet.local_fleet.chaos_person import split_holdings

    executions = [_execution(1, "0000000001", "Y", "BUY", 100),
                  _execution(2, "0000000002", "Z", "BUY", 10),
                  _execution(3, "0000000003", "Z", "SELL", 10),
                  _execution(4, "0000000004", "X", "SELL", 30)]
    held = {"X": 20, "Y": 100}
    at = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)
    listed = [ExchangeOrder(e.odno, e.symbol, e.side.value, at, e.qty) for e in executions]
    rows = [{"order_id": n, "broker_order_id": f"{n:010d}", "filled": q}
            for n, q in ((2, 10), (3, 10), (4, 30))]
    person = PersonLedger(opening={"X": 50}, odnos={"1"})

    assert person.holdings(executions) == {"X": 50, "Y": 100}
    ours, missing = split_holdings(held, person.holdings(executions))
    assert (ours, missing) == ({}, {"X": 30})
    v = Verdict(held_at_close=ours, person_missing=missing)
    _executions(v, executions, rows, listed, person)
    assert (v.unfilled_executions, v.unknown_orders) == ([], [])
    assert v.invariant_counts()["person_shares_wrong"] == 30
    assert v.invariant_counts()["held_at_close"] == 0

    # the same books, had we sold only what our own orders bought: nothing is wrong
    right = {**held, "X": 50}
    assert split_holdings(right, person.holdings(executions[:3])) == ({}, {})
    # without the person's ledger, Y would be ours and its order unknown to us
    blind = Verdict()
    _executions(blind, executions, rows, listed, PersonLedger())
    assert [u["odno"] for u in blind.unknown_orders] == ["0000000001"]
    assert [u["odno"] for u in blind.unfilled_executions] == ["1"]
    # a row of ours that claims the person's order (and records its fills) is caught
    claimed = Verdict()
    _executions(claimed, executions, [*rows, {"order_id": 9, "broker_order_id": "1",
                                              "filled": 100}], listed, person)
    assert [(u["odno"], u["exchange_qty"], u["our_qty"])
            for u in claimed.unfilled_executions] == [("1", 0, 100)]


def test_a_person_never_sells_more_than_it_holds_and_trades_both_sides():
    import random

    from tradefleet.local_fleet.chaos_person import next_order, worker_sizes

    sizes = worker_sizes(7, 20, 5_000_000)
    symbols = sorted(sizes)
    fleet = [(symbols[0], "BUY", 120), (symbols[0], "SELL", 120), (symbols[3], "BUY", 40),
             (symbols[3], "SELL", 400)]
    sides = set()
    for seed in range(200):
        rng = random.Random(seed)
        mine = {symbols[3]: 7, symbols[5]: 3} if seed % 2 else {}
        for n in range(8):
            symbol, side, qty = next_order(rng, n, fleet if seed % 3 else [], mine, sizes)
            assert qty > 0 and symbol in sizes
            if side == "SELL":
                assert qty <= mine.get(symbol, 0), (seed, n, symbol, qty, mine)
                mine[symbol] -= qty
            else:
                mine[symbol] = mine.get(symbol, 0) + qty
            sides.add((n, side))
    assert ("SELL" in {s for n, s in sides if n == 0}) and (1, "BUY") in sides
    assert (1, "SELL") not in sides          # the second order always buys


def test_the_exchange_holds_opening_shares_that_no_execution_bought(capsys):
    from datetime import datetime

    import pytest

    from tradefleet.adapters.clock import SEOUL, FrozenClock
    from tradefleet.adapters.sim.engine import SimMarket
    from tradefleet.adapters.sim.universe import build_universe
    from tradefleet.cli import build_parser
    from tradefleet.domain.orders import OrderRequest, OrderType, Side

    symbol = build_universe(5, 10).symbols[2]
    market = SimMarket(5, n_symbols=10, clock=FrozenClock(datetime(2026, 11, 24, 10, 0,
                                                                   tzinfo=SEOUL)),
                       opening_holdings={symbol: 30})
    assert [(h.symbol, h.qty) for h in market.holdings().holdings] == [(symbol, 30)]
    assert market.executions() == []
    market.submit(OrderRequest("p1", symbol, Side.SELL, OrderType.MARKET, 30, None))
    sold = sum(e.qty for e in market.executions())      # the book may take only part
    assert 0 < sold and [(h.symbol, h.qty) for h in market.holdings().holdings
                         if h.qty] == ([(symbol, 30 - sold)] if sold < 30 else [])
    with pytest.raises(ValueError, match="unknown symbol"):
        SimMarket(5, n_symbols=10, clock=FrozenClock(datetime(2026, 11, 24, 10, 0,
                                                              tzinfo=SEOUL)),
                  opening_holdings={"999999": 1})
    for bad in ("X", "X=0", "=5", "X=-1"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["exchange", "--holding", bad])
        assert "--holding" in capsys.readouterr().err
    args = build_parser().parse_args(["exchange", "--holding", "000010=5",
                                      "--holding", "000010=2"])
    assert args.holding == [("000010", 5), ("000010", 2)]


def test_manual_trades_sends_orders_by_hand_that_the_judge_tells_apart(monkeypatch):
    """A whole (fast) session with a person on the account: it held shares from before the
    day, and sold and bought by hand over KIS HTTP; each of its orders is at the exchange
    under its own ODNO, none is counted as ours or as unknown to us. A person's ledger that
    claims 7 more shares than the books can give, or forgets one of its orders, is caught."""
    for key in [k for k in os.environ if k.startswith("TRADEFLEET_")]:
        monkeypatch.delenv(key)
    state = Path(tempfile.mkdtemp(prefix="tradefleet-chaos-test-"))
    try:
        _run_manual(state)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def _run_manual(state: Path) -> None:
    from dataclasses import replace

    from tradefleet.local_fleet.chaos_judge import exchange_orders

    opts = ChaosOptions(
        runs=1, kinds=("manual_trades",), seed=5, state_dir=state, late_start=True,
        rig=RigOptions(workers=2, speed=200, symbols=10, ttl_seconds=3,
                       heartbeat_seconds=1.0, lead_seconds=4.0, unseen_grace_s=2))
    seen: dict = {}

    async def before_judge(rig: SessionRig, db: Database, person: PersonLedger) -> None:
        books = await rig.admin("GET", "/_admin/books")
        seen["listed"] = await exchange_orders(rig.base_url, rig.http, rig.session.day)
        seen["person"] = replace(person, opening=dict(person.opening), odnos=set(person.odnos))
        seen["books"] = books
        symbol = sorted(person.opening)[0]
        richer = replace(person, opening={**person.opening, symbol: person.opening[symbol] + 7})
        bought = next(o["odno"] for o in person.orders if o["side"] == "BUY" and o["odno"])
        forgot = replace(person, odnos=person.odnos - {bought.lstrip("0")})
        args = (db, rig.base_url, rig.http, rig.session.day, rig.real_at)
        seen["real"] = await judge(*args, person)
        seen["richer"] = (symbol, await judge(*args, richer))
        seen["forgot"] = (bought, await judge(*args, forgot))

    [result] = asyncio.run(run_bench(opts, before_judge=before_judge))
    assert result.error is None, result.error_trace
    assert result.finished, result.log_dir
    # the watch tells the person's shares from ours: without that, the opening holdings
    # alone would be a mismatch all day and the run would never count as recovered
    assert result.recovery_s is not None, (result.blocking, result.log_dir)
    person: PersonLedger = seen["person"]
    assert result.fault is not None and result.fault["injected"] == len(person.odnos) >= 2
    # the opening holdings reached the exchange: a first order sold some of them
    first = person.orders[0]
    assert first["side"] == "SELL" and first["symbol"] in person.opening and first["odno"]
    assert any(o["side"] == "BUY" and o["odno"] for o in person.orders)
    # every order the person placed is at the exchange under its ODNO, with no row of ours
    listed = {o.odno.lstrip("0"): o for o in seen["listed"]}
    for o in person.orders:
        if o["odno"]:
            at = listed[o["odno"].lstrip("0")]
            assert (at.symbol, at.side) == (o["symbol"], o["side"])
    real: Verdict = seen["real"]
    assert real.unknown_orders == [] and result.invariants["orders_unknown_to_us"] == 0
    assert real.person is not None and real.person["orders"] == len(person.odnos)

    symbol, richer = seen["richer"]
    assert richer.person_missing.get(symbol, 0) == real.person_missing.get(symbol, 0) + 7
    bought, forgot = seen["forgot"]
    assert [u["odno"].lstrip("0") for u in forgot.unknown_orders] == [bought.lstrip("0")]


def test_a_broken_run_keeps_where_its_error_was_raised():
    from tradefleet.local_fleet.chaos import RunResult, record_error

    def index_a_missing_fill(row):
        return row["qty"]

    result = RunResult(kind="no_fault", run=1, market_seed=3, database="d", log_dir="l")
    try:
        index_a_missing_fill(None)
    except TypeError as exc:
        record_error(result, exc)
    assert result.error.startswith("TypeError: ") and result.failed
    assert "index_a_missing_fill" in result.error_trace
    assert result.as_json()["error_trace"] == result.error_trace

