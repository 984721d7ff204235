"""``tradefleet chaos``: whole simulated sessions of a local fleet with ONE fault injected per
run, judged by the exchange's books (``local_fleet/chaos.py``); ``bench/chaos.py`` is the
same command."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from tradefleet.commands.arguments import float_in, int_in, positive_int
from tradefleet.commands.console import command_console


def _kinds(text: str) -> tuple[str, ...]:
    from tradefleet.local_fleet.chaos_faults import KINDS

    names = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in names if k not in KINDS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"unknown {unknown or 'empty list'}; choose from "
                                         f"{', '.join(KINDS)}")
    return names


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=positive_int, default=2, help="runs per fault kind (2)")
    p.add_argument("--kinds", type=_kinds, default=None,
                   help="comma-separated fault kinds (default: all)")
    p.add_argument("--workers", type=int_in(2, 10), default=3, help="worker processes (3)")
    p.add_argument("--speed", type=float_in(100, 3000), default=500.0,
                   help="simulated seconds per real second (500: a session in ~47 s, so "
                        "that the workers' real-second grace periods fit in the day)")
    p.add_argument("--symbols", type=int_in(5, 200), default=20, help="universe size (20)")
    p.add_argument("--ttl", type=int_in(3, 30), default=5,
                   help="lock TTL in seconds (5); the heartbeat beats every TTL/5 s")
    p.add_argument("--seed", type=int, default=7,
                   help="seed of the injection moments and victims; run n trades market "
                        "seed+n (7)")
    p.add_argument("--state-dir", type=Path, default=None,
                   help="database and logs (default: $TRADEFLEET_STATE_DIR/chaos or "
                        "/tmp/tradefleet-chaos)")
    p.add_argument("--late-start", action="store_true",
                   help="start each day late, shortly before the liquidation (room for the "
                        "fault, its recovery and a random moment, in real seconds): ~15-40 s "
                        "a run instead of a whole day; use a lower --speed (e.g. 200) so the "
                        "liquidation window stays several real seconds long")
    p.add_argument("--grace", type=float_in(1, 600), default=None,
                   help="the workers' unseen-order grace in real seconds (default: theirs, "
                        "20 s); the simulator's order list never lags, so a short run may "
                        "shorten it")
    p.add_argument("--json", type=Path, default=None, help="write every run's result here")
    p.add_argument("--keep-db", action="store_true",
                   help="leave the bench's PostgreSQL running afterwards (to inspect runs)")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "chaos", help="play simulated sessions with one fault per run; check the books",
        description=__doc__)
    add_arguments(p)
    p.set_defaults(handler=run)


def _state_dir(args: argparse.Namespace) -> Path:
    if args.state_dir is not None:
        return args.state_dir.resolve()
    base = os.environ.get("TRADEFLEET_STATE_DIR")
    return (Path(base) / "chaos") if base else Path("/tmp/tradefleet-chaos")  # noqa: S108


def run(args: argparse.Namespace) -> int:
    from tradefleet.local_fleet.chaos import ChaosOptions
    from tradefleet.local_fleet.chaos_faults import KINDS
    from tradefleet.local_fleet.chaos_progress import run_with_progress
    from tradefleet.local_fleet.session_rig import RigOptions

    if args.json is not None and not args.json.parent.is_dir():
        raise SystemExit(f"--json: directory {args.json.parent} does not exist")
    from tradefleet.domain.errors import ConfigError
    from tradefleet.local_fleet.forked_start import START_ENV, fleet_start_method

    try:
        fleet_start_method()            # how the workers start: the fleet's, kept below
    except ConfigError as exc:
        command_console().print(f"[red]configuration error:[/red] {exc}")
        return 2
    state_dir = _state_dir(args)
    # the workers take their settings from TRADEFLEET_* variables: none of ours may leak in
    for key in [k for k in os.environ if k.startswith("TRADEFLEET_") and k != START_ENV]:
        del os.environ[key]
    heartbeat = max(0.5, round(args.ttl / 5, 1))
    opts = ChaosOptions(
        runs=args.runs, kinds=args.kinds or tuple(KINDS), seed=args.seed,
        rig=RigOptions(workers=args.workers, speed=args.speed, symbols=args.symbols,
                       ttl_seconds=args.ttl, heartbeat_seconds=heartbeat,
                       unseen_grace_s=args.grace,
                       # a late start has no morning to absorb a slow start-up: workers start
                       # in about a second (bench/startup.py), 3 s is room enough
                       lead_seconds=3.0 if args.late_start else 5.0),
        state_dir=state_dir, keep_db=args.keep_db, late_start=args.late_start)
    console = command_console()
    try:
        return asyncio.run(run_with_progress(opts, console, args.json))
    except KeyboardInterrupt:
        console.print("[yellow]stopped: the run's processes were terminated[/yellow]")
        return 130
