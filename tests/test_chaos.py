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
from tradefleet.local_fleet.session_rig import RigOptions, SessionRig


async def _tampered_verdict(rig: SessionRig, db: Database) -> tuple[Verdict, str, int, int]:
    fill = await db.pool.fetchrow(
        """DELETE FROM fills WHERE fill_id = (SELECT min(fill_id) FROM fills) RETURNING *""")
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
        runs=1, kinds=("none", "kill_restart"), seed=3, state_dir=state,
        rig=RigOptions(workers=2, speed=1500, symbols=10, ttl_seconds=3,
                       heartbeat_seconds=1.0, lead_seconds=4.0))
    tampered: list[tuple[Verdict, str, int, int]] = []

    async def before_judge(rig: SessionRig, db: Database) -> None:
        if not tampered:
            tampered.append(await _tampered_verdict(rig, db))

    results = asyncio.run(run_bench(opts, before_judge=before_judge))

    assert [r.kind for r in results] == ["none", "kill_restart"]
    for r in results:
        assert r.error is None, r.error
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
    assert baseline.orders_at_exchange > 0                 # the fleet did trade

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
