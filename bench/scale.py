"""Scale benchmark. Run: python3 bench/scale.py [N ...]   (default: 3 20 50)

For each N, one whole `tradefleet demo` session of N worker processes (the exchange
simulator, an embedded PostgreSQL, one shared simulated clock), as a user runs it: the start
speed derived from N and the cores, the session clock slowed whenever a worker's poll lasts
more than the lag limit (session minutes), candidate scans shared per account and quote
window. Per N: trades, shares still held at the close by the exchange's own books (goal 0),
scan CPU per worker (the scans' process CPU summed over the fleet / N), scans computed vs
read shared, the longest poll lag (any time; and since the last speed change), the speeds
the session ran at, and the wall time. Goal: trades per worker at the largest N within 30 %
of the figure at the smallest. The machine's load average is shown with each run (the
figures are CPU-bound: other jobs on the cores slow the session clock down)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from tradefleet.local_fleet.demo import DemoOptions, run_demo_outcome  # noqa: E402


async def _one(workers: int, args: argparse.Namespace, state: Path, log) -> dict:  # noqa: ANN001
    load_before = os.getloadavg()[0]
    quiet = Console(file=log, width=160, force_terminal=False)
    outcome = await run_demo_outcome(DemoOptions(
        workers=workers, speed=args.speed, seed=args.seed, symbols=args.symbols,
        state_dir=state, live=False, lag_limit_minutes=args.lag_limit), quiet)
    return {**asdict(outcome), "load_before": load_before, "load_after": os.getloadavg()[0]}


def _table(rows: list[dict], lag_limit: float) -> Table:
    t = Table(title=f"tradefleet demo at scale ({os.cpu_count()} cores, poll lag limit "
                    f"{lag_limit:g} session min)")
    for col in ("workers", "exit", "trades", "trades/worker", "held at close",
                "scan CPU/worker s", "scans own/shared", "poll lag max min",
                "lag settled min", "speed start→low→end", "wall s", "load 1m before/after"):
        t.add_column(col, justify="right")
    for r in rows:
        low = r["lowest_speed"]
        t.add_row(str(r["workers"]), str(r["exit_code"]), str(r["trades"]),
                  f"{r['trades'] / r['workers']:.1f}", str(r["held_shares"]),
                  f"{r['scan_cpu_s_per_worker']:.2f}",
                  f"{r['scans_computed']}/{r['scans_shared']}",
                  f"{r['max_poll_lag_s'] / 60:.1f}", f"{r['settled_poll_lag_s'] / 60:.1f}",
                  f"{r['start_speed']:.0f}→{low:.0f}→{r['end_speed']:.0f}",
                  f"{r['wall_s']:.0f}", f"{r['load_before']:.1f}/{r['load_after']:.1f}")
    return t


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("workers", nargs="*", type=int, default=[3, 20, 50])
    p.add_argument("--speed", type=float, default=600.0, help="asked speed (600)")
    p.add_argument("--lag-limit", type=float, default=5.0, help="session minutes (5)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--symbols", type=int, default=60)
    p.add_argument("--json", type=Path, default=None, help="write the rows here too")
    args = p.parse_args()
    console = Console(width=200)
    rows: list[dict] = []
    state = Path(tempfile.mkdtemp(prefix="tradefleet-scale-"))
    log_path = state / "demo-output.txt"
    with log_path.open("w", encoding="utf-8") as log:
        for n in args.workers:
            console.print(f"[bold]{n} workers[/bold]: one whole session "
                          f"(load {os.getloadavg()[0]:.1f}; demo output in {log_path})")
            rows.append(await _one(n, args, state, log))
            console.print(_table(rows[-1:], args.lag_limit))
    console.print(_table(rows, args.lag_limit))
    first, last = rows[0], rows[-1]
    per_first = first["trades"] / first["workers"]
    per_last = last["trades"] / last["workers"]
    within = per_first > 0 and abs(per_last - per_first) / per_first <= 0.30
    change = (per_last / per_first - 1) * 100 if per_first else 0.0
    console.print(f"trades per worker: {per_last:.1f} at {last['workers']} vs {per_first:.1f} "
                  f"at {first['workers']} ({change:+.0f} %; "
                  f"goal within 30 %: {'met' if within else 'NOT met'}); shares held at the "
                  f"close: {', '.join(str(r['held_shares']) for r in rows)} (goal 0)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))
    clean = all(r["held_shares"] == 0 and r["exit_code"] == 0 for r in rows)
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
