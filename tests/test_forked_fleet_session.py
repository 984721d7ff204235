"""A short chaos session whose workers are forked from the fork server (the local fleet's
default, named here explicitly): a worker SIGKILLed mid-session through its pid is reaped
with -9 and started again, and the exchange's books end clean — nothing held or open, every
execution with its fills row, no symbol held twice, no order after its lease. The rig of
tests/test_chaos.py at its small size."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tradefleet.adapters.postgres.database import Database
from tradefleet.local_fleet.chaos import ChaosOptions, run_bench
from tradefleet.local_fleet.chaos_person import PersonLedger
from tradefleet.local_fleet.forked_start import ForkedProcess
from tradefleet.local_fleet.session_rig import RigOptions, SessionRig


def test_a_forked_fleet_survives_a_kill_and_ends_with_clean_books(monkeypatch):
    for key in [k for k in os.environ if k.startswith("TRADEFLEET_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("TRADEFLEET_FLEET_START", "fork")
    state = Path(tempfile.mkdtemp(prefix="tradefleet-forked-test-"))
    kinds: dict[str, list[type]] = {}

    async def before_judge(rig: SessionRig, db: Database, person: PersonLedger) -> None:
        for child in rig.group.children:
            kinds.setdefault(child.name, []).append(type(child.proc))

    try:
        # the chaos campaign's own pace (late start, 200x): at 1500x the 15-minute
        # liquidation window is 0.6 real seconds, less than a killed worker's restart
        opts = ChaosOptions(
            runs=1, kinds=("kill_restart",), seed=5, state_dir=state, late_start=True,
            rig=RigOptions(workers=2, speed=200, symbols=10, ttl_seconds=3,
                           heartbeat_seconds=1.0, lead_seconds=4.0, unseen_grace_s=2.0))
        [result] = asyncio.run(run_bench(opts, before_judge=before_judge))
    finally:
        shutil.rmtree(state, ignore_errors=True)

    assert result.error is None, result.error
    assert result.finished, f"the workers did not finish the session ({result.log_dir})"
    assert result.invariants and not any(result.invariants.values()), result.details
    assert result.orders_at_exchange > 0                     # the fleet did trade
    victim = result.fault["target"]
    assert any(e["worker_id"] == victim and e["code"] == -9 and e["restarted"]
               for e in result.exits), result.exits
    # every worker life was forked (the victim's second life too); the exchange was not
    workers = {name: k for name, k in kinds.items() if name != "exchange"}
    assert len(workers) >= 3 and f"{victim}.2" in workers, kinds
    assert all(k == [ForkedProcess] for k in workers.values()), kinds
    assert kinds["exchange"] == [subprocess.Popen]
