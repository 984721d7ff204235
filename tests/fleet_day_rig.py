"""What the replay shortcuts' fleet tests share: a small fleet with tight exits and short
moving averages (so a 30-40 symbol afternoon trades), and one recorded day replayed on a
fresh database with a shortcut off, then on, so a test can compare the two runs' trades."""

from __future__ import annotations

import json
from datetime import time
from pathlib import Path

from tests.scenarios.harness import worker_env
from tests.test_replay_runner import TIGHT, _fresh_db

from tradefleet.replay.runner import replay_fleet_day
from tradefleet.settings import Settings, load_settings

PARAMS = json.dumps({"short": 2, "long": 5, "breakout_window": 5})
AFTERNOON = time(14, 45)


def tight_fleet(size: int) -> list[Settings]:
    """Workers ``bt-1`` .. ``bt-<size>``, each with tight exits and short averages."""
    return [load_settings(None, worker_env(f"bt-{k}", exits=TIGHT,
                                           TRADEFLEET_STRATEGY__PARAMS=PARAMS))
            for k in range(1, size + 1)]


async def replayed_off_and_on(server: str, day: Path, **shortcut: bool) -> list:
    """The day replayed by three workers from 14:45, first with ``shortcut``'s flags all
    False, then all True; each run on its own fresh database."""
    fleet, runs = tight_fleet(3), []
    for on in (False, True):
        db = await _fresh_db(server)
        try:
            runs.append(await replay_fleet_day(day, db, fleet, start=AFTERNOON,
                                               **{flag: on for flag in shortcut}))
        finally:
            await db.close()
    return runs


async def same_trades_off_and_on(server: str, day: Path, counter: str, **shortcut: bool) -> list:
    """``replayed_off_and_on``, checked: a fleet traded, the trades are the same both ways,
    and the shortcut's ``counter`` moved only with it on (so it was really taken)."""
    off, on = await replayed_off_and_on(server, day, **shortcut)
    assert len({t["worker_id"] for t in off.trades}) >= 2, off.trades   # a fleet traded
    assert on.trades == off.trades
    assert getattr(off, counter) == 0 < getattr(on, counter)
    print(f"\n{len(off.trades)} trades; {counter}: {getattr(on, counter)}")
    return [off, on]
