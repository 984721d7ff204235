"""Real-time feed benchmark (issue 20). Run: python3 bench/realtime.py [--n 400] [--runs 3]
[--workers 1,20] [--window 30] [--min-exits 100] [--json FILE] (about 6 minutes; embedded
PostgreSQL 16, the simulator on 127.0.0.1, worker processes). A 45 s window sees 9 exits at
one worker, so its "p99" is the slowest of nine: ``--min-exits`` counts on (up to
``--max-window`` s) until that many exits were decided on a tick, each measured the same way.

Measures, against bare paths in the same run:
- end to end with ``tradefleet worker`` processes (``bench/realtime_fleet.py``): tick-to-order
  (the simulator sends a tick crossing a held position's stop -> the SELL at the simulator's
  order handler), against one bare WebSocket hop + one bare HTTP POST; fill-to-record (a
  market order executed in the simulator -> its fills row); REST calls per worker-hour with
  and without the feed; at 1 and at 20 workers;
- fan-out hop: a tick published by the holder (the fenced publish statement) until the
  worker's listener (``feed/listener.py``) hands it to the exit rules; against one bare
  ``SELECT 1`` round trip and one bare ``pg_notify`` hop (NOTIFY on one connection, LISTEN
  callback on another). At 1 worker, and at 20 workers each holding its own symbol (one
  publish of 20 ticks, latency to each of them);
- failover: a holder in its own process (tests/feed_holder_child.py) is killed (SIGKILL) or
  frozen (SIGSTOP, then SIGCONT after 2 ttl); a standby holder in this process takes the
  lease; measured until the worker's listener hears a tick from the new holder. For the
  freeze: ticks from the frozen holder heard after it woke (must be 0)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
from bench.realtime_fleet import FleetRun, bare_paths, fleet_run  # noqa: E402
from tests.feed_env import feed_env  # noqa: E402
from tests.feed_holder_env import holder  # noqa: E402

from tradefleet.adapters.clock import SEOUL  # noqa: E402
from tradefleet.adapters.postgres.database import Database  # noqa: E402
from tradefleet.adapters.postgres.embedded import scratch_dir, start_embedded  # noqa: E402
from tradefleet.adapters.postgres.feed_lease_store import PostgresFeedLeaseStore  # noqa: E402
from tradefleet.adapters.postgres.migrate import migrate  # noqa: E402
from tradefleet.adapters.sim.universe import STEP_SECONDS  # noqa: E402
from tradefleet.adapters.telemetry.logging import configure_logging  # noqa: E402
from tradefleet.feed.channels import tick_channel, tick_payload  # noqa: E402
from tradefleet.feed.listener import PostgresTickListener  # noqa: E402
from tradefleet.ports.feed import FeedState, PriceTick  # noqa: E402

ACCOUNT = "acct-bench-0001"
HOP_ACCOUNT = "acct-bench-hop"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def hops(dsn: str, n: int, workers: int) -> dict[str, list[float]]:
    db = await Database.connect(dsn, min_size=2, max_size=2)
    store = PostgresFeedLeaseStore(db)
    token = await store.try_acquire(HOP_ACCOUNT, "bench-holder", 600.0)
    assert token is not None, "bench: the hop account's lease is held"
    symbols = [f"{100000 + i:06d}" for i in range(workers)]
    arrived: dict[str, float] = {}
    got = asyncio.Event()

    def on_tick(tick: PriceTick) -> None:
        arrived[tick.symbol] = time.perf_counter()
        if len(arrived) == workers:
            got.set()

    listeners = []
    for s in symbols:
        lst = PostgresTickListener(lambda: asyncpg.connect(dsn), HOP_ACCOUNT)
        await lst.start()
        await lst.watch(s, on_tick)
        listeners.append(lst)
    bare_conn = await asyncpg.connect(dsn)
    bare_got = asyncio.Event()
    bare_at: list[float] = []

    def on_bare(*_: object) -> None:
        bare_at.append(time.perf_counter())
        bare_got.set()

    await bare_conn.add_listener("tf_bench_bare", on_bare)
    out: dict[str, list[float]] = {"select": [], "notify": [], "publish": []}
    for i in range(n + 50):
        t = time.perf_counter()
        await db.pool.fetchval("SELECT 1")
        select_ms = (time.perf_counter() - t) * 1000
        bare_got.clear()
        t = time.perf_counter()
        await db.pool.execute("SELECT pg_notify('tf_bench_bare', 'x')")
        await bare_got.wait()
        notify_ms = (bare_at[-1] - t) * 1000
        arrived.clear()
        got.clear()
        at = datetime_now()
        msgs = [(tick_channel(HOP_ACCOUNT, s), tick_payload(PriceTick(s, 70_000 + i, at), token))
                for s in symbols]
        t = time.perf_counter()
        assert await store.publish(HOP_ACCOUNT, token, msgs)
        await got.wait()
        if i >= 50:                      # warm-up
            out["select"].append(select_ms)
            out["notify"].append(notify_ms)
            out["publish"].extend((a - t) * 1000 for a in arrived.values())
    for lst in listeners:
        await lst.close()
    await bare_conn.close()
    await store.release(HOP_ACCOUNT, token)
    await db.close()
    return out


def datetime_now():  # noqa: ANN201
    from datetime import datetime
    return datetime.now(SEOUL)


async def failover(dsn: str, how: str, ttl_s: float) -> dict[str, float]:
    """One run: child holder elected and heard, then killed or frozen."""
    db = await Database.connect(dsn, min_size=2, max_size=4)
    await db.pool.execute("DELETE FROM feed_holders WHERE account_key = $1", ACCOUNT)
    async with feed_env() as env:
        symbol = env.market.symbols()[0]
        heard: list[tuple[float, int]] = []
        lst = PostgresTickListener(lambda: asyncpg.connect(dsn), ACCOUNT, stale_after_s=ttl_s)
        await lst.start()
        await lst.watch(symbol, lambda t: heard.append((time.perf_counter(), lst._token)))
        rest_url, ws_url = env.base_url, env.ws_url
        child = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "tests" / "feed_holder_child.py"), dsn, ws_url,
            rest_url, ACCOUNT, "child", str(ttl_s), symbol,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        async def tape() -> None:
            while True:
                env.clock.advance(STEP_SECONDS)
                await asyncio.sleep(0.02)

        tape_task = asyncio.create_task(tape())
        store = PostgresFeedLeaseStore(db)
        standby = holder(db, env, "standby", {symbol}, account=ACCOUNT, ttl_s=ttl_s,
                         renew_s=ttl_s / 6,
                         retry_s=ttl_s / 6)
        standby_task = None
        try:
            async with asyncio.timeout(20):
                while not heard:  # noqa: ASYNC110 - a bench polls what it watches
                    await asyncio.sleep(0.01)
            child_token = (await store.holder(ACCOUNT))[1]
            standby_task = asyncio.create_task(standby.run())
            await asyncio.sleep(ttl_s / 2)
            t0 = time.perf_counter()
            os.kill(child.pid, signal.SIGKILL if how == "killed" else signal.SIGSTOP)
            await standby.elected.wait()
            elected_s = time.perf_counter() - t0
            woke = None
            if how == "frozen":
                await asyncio.sleep(max(0.0, 2 * ttl_s - (time.perf_counter() - t0)))
                woke = time.perf_counter()
                os.kill(child.pid, signal.SIGCONT)
            async with asyncio.timeout(30):
                while not any(tok > child_token for _, tok in heard) \
                        or lst.state()[0] is not FeedState.LIVE:  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
            first_new = min(at for at, tok in heard if tok > child_token)
            await asyncio.sleep(0.5)
            late_old = sum(1 for at, tok in heard if tok == child_token
                           and woke is not None and at > woke)
            return {"elected_s": elected_s, "heard_s": first_new - t0,
                    "old_after_wake": late_old + lst.dropped_old}
        finally:
            tape_task.cancel()
            if standby_task is not None:
                standby.stop()
                standby_task.cancel()
                await asyncio.gather(standby_task, return_exceptions=True)
            await lst.close()
            with contextlib_suppress():
                os.kill(child.pid, signal.SIGCONT)
            with contextlib_suppress():
                child.kill()
            await child.wait()
            await db.close()


def contextlib_suppress():  # noqa: ANN201
    import contextlib
    return contextlib.suppress(ProcessLookupError)


def _ms(values: list[float]) -> str:
    return f"{pct(values, 0.5):.1f} / {pct(values, 0.99):.1f}" if values else "-"


def fleet_tables(runs: list[FleetRun], bare: dict[str, list[float]]) -> list[Table]:
    bare_sum = [w + p for w, p in zip(bare["ws"], bare["post"], strict=True)]
    t1 = Table(title="tick-to-order (ms, p50 / p99): the simulator sends the tick that crosses "
               "a held position's stop -> the SELL at its order handler; worker processes")
    for col in ("workers", "stop-loss exits on a tick", "tick -> decision", "tick -> SELL",
                "bare WS hop + POST", "p99 above bare p99"):
        t1.add_column(col, justify="right")
    t2 = Table(title="fill-to-record (ms, p50 / p99) and REST calls per worker-hour (session "
               "hours)")
    for col in ("workers", "feed", "fills", "execution -> fills row",
                "REST calls", "refused (EGW00201)", "session h", "calls / worker-hour"):
        t2.add_column(col, justify="right")
    for r in runs:
        if r.feed:
            above = (f"{pct(r.tick_to_order_ms, 0.99) - pct(bare_sum, 0.99):.1f}"
                     if r.tick_to_order_ms else "-")
            t1.add_row(str(r.workers), f"{len(r.tick_to_order_ms)} of {r.exits_on_tick}",
                       _ms(r.tick_to_decision_ms), _ms(r.tick_to_order_ms),
                       f"{_ms(bare['ws'])} + {_ms(bare['post'])} = {_ms(bare_sum)}", above)
        t2.add_row(str(r.workers), "on" if r.feed else "off",
                   f"{len(r.fill_to_record_ms)} (+{r.fills_at_stop} at stop)",
                   _ms(r.fill_to_record_ms), str(r.rest_calls), str(r.refused),
                   f"{r.sim_hours:.3f}",
                   f"{r.calls_per_worker_hour:,.0f}")
    return [t1, t2]


async def fresh_db(data: Path, name: str) -> str:
    dsn = await asyncio.to_thread(start_embedded, data, database=name)
    conn = await asyncpg.connect(dsn)
    await migrate(conn)
    await conn.close()
    return dsn


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ttl", type=float, default=3.0)
    parser.add_argument("--workers", default="1,20", help="fleet sizes end to end (1,20)")
    parser.add_argument("--window", type=float, default=45.0,
                        help="real seconds of trading counted per fleet run (45)")
    parser.add_argument("--poll", type=int, default=60,
                        help="the workers' poll interval in session seconds (60: 3 real s at "
                             "the bench's 20x; deployed workers poll every 5 s)")
    parser.add_argument("--min-exits", type=int, default=0,
                        help="with the feed on, count on past --window until this many exits "
                             "were decided on a tick (0: the window only)")
    parser.add_argument("--max-window", type=float, default=600.0,
                        help="real seconds counted at most when --min-exits asks for more")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--fleet-only", action="store_true",
                        help="only the fleet runs (no fan-out hop or failover tables)")
    parser.add_argument("--feeds", default="on,off", choices=("on,off", "on", "off"),
                        help="fleet runs with the feed on, off, or both")
    parser.add_argument("--keep-logs", type=Path, default=None,
                        help="keep the workers' logs here (one folder per fleet run)")
    args = parser.parse_args()

    console = Console()
    out: dict = {"load_before": os.getloadavg(), "args": vars(args)}
    with scratch_dir() as tmp:
        dsn = await fresh_db(Path(tmp) / "pgdata", "tradefleet")
        console.print("[dim]bare paths: WebSocket hop and HTTP POST...[/dim]")
        bare = await bare_paths(args.n)
        runs = []
        for workers in (int(w) for w in args.workers.split(",")):
            for feed in (f == "on" for f in args.feeds.split(",")):
                console.print(f"[dim]fleet: {workers} worker(s), feed "
                              f"{'on' if feed else 'off'}...[/dim]")
                run_dsn = await fresh_db(Path(tmp) / "pgdata", f"fleet_{workers}_{int(feed)}")
                runs.append(await fleet_run(
                    run_dsn, workers, feed, args.window,
                    (args.keep_logs or Path(tmp)) / f"logs-{workers}-{int(feed)}",
                    poll_s=args.poll,
                    say=lambda m: console.print(f"[dim]{m}[/dim]"),
                    min_exits=args.min_exits, max_window_s=args.max_window))
        for t in fleet_tables(runs, bare):
            console.print(t)
        out["bare_ms"] = bare
        out["fleet"] = [{**r.__dict__, "calls_per_worker_hour": r.calls_per_worker_hour}
                        for r in runs]
        if not args.fleet_only:        # the hop and failover tables
            table = Table(title="fan-out hop (ms): holder publish -> worker listener "
                          "(LISTEN/NOTIFY, embedded PostgreSQL 16)")
            for col in ("workers", "measure", "p50", "p99", "p50 / bare SELECT 1",
                        "p50 / bare pg_notify"):
                table.add_column(col, justify="left" if col == "measure" else "right")
            for workers in (1, 20):
                console.print(f"[dim]hop: {workers} worker(s), {args.n} publishes...[/dim]")
                hop = await hops(dsn, args.n, workers)
                out[f"hop_{workers}"] = {k: [pct(v, 0.5), pct(v, 0.99)] for k, v in hop.items()}
                base = statistics.median(hop["select"])
                bare_notify = statistics.median(hop["notify"])
                for name, label in (("select", "bare SELECT 1 round trip"),
                                    ("notify", "bare pg_notify hop"),
                                    ("publish", "fenced publish -> tick handler")):
                    v = hop[name]
                    table.add_row(str(workers), label, f"{pct(v, 0.5):.3f}", f"{pct(v, 0.99):.3f}",
                                  f"{pct(v, 0.5) / base:.2f}x", f"{pct(v, 0.5) / bare_notify:.2f}x")
            console.print(table)
            ft = Table(title=f"feed failover (holder in its own process, lease ttl {args.ttl} s)")
            for col in ("holder", "run", "standby elected s", "new holder's tick heard s",
                        "old holder's ticks after wake"):
                ft.add_column(col, justify="right")
            for how in ("killed", "frozen"):
                for run in range(args.runs):
                    console.print(f"[dim]failover: {how}, run {run + 1}/{args.runs}...[/dim]")
                    r = await failover(dsn, how, args.ttl)
                    out.setdefault("failover", []).append({"how": how, **r})
                    ft.add_row(how, str(run + 1), f"{r['elected_s']:.2f}", f"{r['heard_s']:.2f}",
                               str(r["old_after_wake"]) if how == "frozen" else "-")
            console.print(ft)
            console.print(f"bound: elected within ttl + retry = {args.ttl + args.ttl / 6:.2f} s "
                          "after the last renewal; heard after one WebSocket connect and "
                          "registration more")
    out["load_after"] = os.getloadavg()
    console.print(f"load average before/after: {out['load_before'][0]:.1f} / "
                  f"{out['load_after'][0]:.1f} on {os.cpu_count()} cores")
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    configure_logging(json_output=True, level="ERROR", stream=open(os.devnull, "w"))  # noqa: SIM115
    asyncio.run(main())
