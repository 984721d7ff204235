"""Chaos with the feed (issue 20): the feed kinds play their runs with the exchange's
WebSocket feed on and every worker's feed enabled; killing the feed's holder hands the feed
to another worker while every invariant stays at zero."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.domain.calendar import TradingSession
from tradefleet.local_fleet.chaos import ChaosOptions, run_bench
from tradefleet.local_fleet.chaos_faults import KINDS
from tradefleet.local_fleet.session_rig import RigOptions, SessionRig
from tradefleet.settings import load_settings

LIVE = '"feed live: exits decided on each tick"'


def test_only_the_feed_kinds_turn_the_feed_on_and_the_rig_hands_it_to_every_worker(tmp_path):
    assert {k for k, kind in KINDS.items() if kind.feed} == {
        "feed_dropped", "feed_stalled", "feed_holder_killed"}
    day = datetime(2026, 11, 24, tzinfo=SEOUL)
    session = TradingSession(day.date(), day.replace(hour=9), day.replace(hour=15, minute=30),
                             day.replace(hour=15, minute=20))
    feeds = []
    for feed in (True, False):
        rig = SessionRig(RigOptions(feed=feed), "postgresql://u@h/d", tmp_path, session)
        rig.clock = SimClock(session.open, 200.0, 0.0)
        rig.base_url, rig.ws_url = "http://127.0.0.1:9", "ws://127.0.0.1:10"
        feeds.append(load_settings(None, dict(rig._worker_env("w1"))).feed)
    on, off = feeds
    assert on.enabled and on.ws_url == "ws://127.0.0.1:10"
    assert not off.enabled


def test_the_feed_holder_killed_hands_the_feed_on_and_keeps_every_invariant(monkeypatch):
    for key in [k for k in os.environ if k.startswith("TRADEFLEET_")]:
        monkeypatch.delenv(key)
    state = Path(tempfile.mkdtemp(prefix="tradefleet-chaos-feed-"))
    try:
        opts = ChaosOptions(
            runs=1, kinds=("feed_holder_killed",), seed=7, state_dir=state, late_start=True,
            rig=RigOptions(workers=2, speed=200, symbols=10, ttl_seconds=3,
                           heartbeat_seconds=1.0, lead_seconds=4.0, unseen_grace_s=2))
        [r] = asyncio.run(run_bench(opts))
        assert r.error is None, r.error_trace
        assert r.finished and r.recovery_s is not None, (r.blocking, r.log_dir)
        assert r.invariants and not any(r.invariants.values()), r.details
        fault = r.fault
        assert fault is not None and fault["injected"] == 1, fault
        # the holder was a worker, killed and started again; another process took the feed
        assert fault["target"] in ("w1", "w2") and "new holder" in fault["detail"]
        assert "after never" not in fault["detail"], fault["detail"]
        assert any(e["worker_id"] == fault["target"] and e["code"] == -9 and e["restarted"]
                   for e in r.exits), r.exits
        # the run had the feed: each worker's first life heard it live
        for wid in ("w1", "w2"):
            assert LIVE in (Path(r.log_dir) / f"{wid}.log").read_text(errors="replace"), wid
    finally:
        shutil.rmtree(state, ignore_errors=True)
