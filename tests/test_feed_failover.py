"""A feed holder in its own process, frozen (SIGSTOP) past its lease: a standby takes the
lease within ttl + retry, and the frozen holder, woken, publishes nothing more: its ticks
never reach a worker again, and the new holder's do. Real PostgreSQL, the simulator's
real WebSocket feed, a real process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.feed_env import feed_env
from tests.feed_holder_env import ACCOUNT, holder, listening, until
from tests.test_kis_ws_feed import liquid

from tradefleet.adapters.postgres.feed_lease_store import PostgresFeedLeaseStore
from tradefleet.adapters.sim.universe import STEP_SECONDS
from tradefleet.ports.feed import FeedState

CHILD = Path(__file__).resolve().parent / "feed_holder_child.py"
TTL_S = 1.5


async def test_a_frozen_holder_process_is_replaced_and_fenced_when_it_wakes(db, pg_dsn):
    store = PostgresFeedLeaseStore(db)
    async with feed_env() as env, listening(pg_dsn, stale_after_s=TTL_S) as listener:
        (symbol,) = liquid(env.market, 1)
        heard: list[tuple[float, int]] = []
        await listener.watch(symbol, lambda _t: heard.append((time.monotonic(),
                                                               listener._token)))
        child = await asyncio.create_subprocess_exec(
            sys.executable, str(CHILD), pg_dsn, env.ws_url, env.base_url, ACCOUNT, "child",
            str(TTL_S), symbol, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        async def tape() -> None:
            while True:
                env.clock.advance(STEP_SECONDS)
                await asyncio.sleep(0.02)

        tape_task = asyncio.create_task(tape())
        standby = holder(db, env, "standby", {symbol}, ttl_s=TTL_S, renew_s=0.25,
                         retry_s=0.25)
        standby_task = None
        try:
            await until(lambda: bool(heard), timeout=30)       # the child holds and is heard
            child_holds = await store.holder(ACCOUNT)
            assert child_holds is not None and child_holds[0] == "child"
            old = child_holds[1]
            standby_task = asyncio.create_task(standby.run())
            await asyncio.sleep(0.3)
            assert not standby.elected.is_set()                 # one holder at a time
            os.kill(child.pid, signal.SIGSTOP)
            took = await until(standby.elected.is_set, timeout=TTL_S + 5)
            assert took <= TTL_S + standby.retry_s + 1.0        # 1 s: the last renewal's age
            assert standby.token > old
            await asyncio.sleep(TTL_S)                          # frozen well past its lease
            woke = time.monotonic()
            os.kill(child.pid, signal.SIGCONT)
            # the woken child finds its lease gone, drops its session; the standby's is heard
            await until(lambda: any(tok == standby.token for _, tok in heard)
                        and listener.state()[0] is FeedState.LIVE, timeout=15)
            await asyncio.sleep(0.5)
            assert [at for at, tok in heard if tok == old and at > woke] == []
            assert listener.dropped_old == 0      # the database refused them: none were sent
        finally:
            tape_task.cancel()
            if standby_task is not None:
                standby.stop()
                await asyncio.gather(standby_task, return_exceptions=True)
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGCONT)
                child.kill()
            await child.wait()
