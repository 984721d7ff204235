"""Running the chaos bench in a terminal: a progress bar over the runs with the current run's
session clock, a line per finished run, then the table, the definitions and the JSON."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tradefleet.local_fleet.chaos import ChaosOptions, RunResult, Tick, run_bench
from tradefleet.local_fleet.chaos_report import DEFINITIONS, results_table, run_line, write_json


@contextmanager
def _cancel_on_signals() -> Iterator[list[int]]:
    """SIGTERM or SIGHUP cancel the bench, whose ``finally`` stops the run's processes (they
    run in their own sessions, so a signal to the bench alone would leave them running)."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def stop(sig: signal.Signals) -> None:
        if not received:
            received.append(int(sig))
            task.cancel()

    for sig in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop, sig)
    try:
        yield received
    finally:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)


def _summary(console: Console, results: list[RunResult], opts: ChaosOptions,
             json_path: Path | None) -> int:
    if not results:
        return 1
    console.print(results_table(results))
    for line in DEFINITIONS:
        console.print(f"[dim]- {line}[/dim]")
    if json_path is not None:
        write_json(json_path, results, opts)
        console.print(f"per-run results: {json_path}")
    failed = [x for x in results if x.failed]
    if failed:
        console.print(f"[bold red]{len(failed)} of {len(results)} runs failed[/bold red]; "
                      "their logs: " + ", ".join(x.log_dir for x in failed))
        return 1
    return 0


async def run_with_progress(opts: ChaosOptions, console: Console, json_path: Path | None
                            ) -> int:
    """0 when every run kept every invariant and recovered; 1 otherwise; 128+n on signal n
    (every process of the current run stopped first)."""
    total = opts.runs * len(opts.kinds)
    r = opts.rig
    console.print(f"chaos: {len(opts.kinds)} fault kinds × {opts.runs} runs, {r.workers} "
                  f"workers, {r.symbols} symbols, speed {r.speed:g}×, TTL {r.ttl_seconds}s "
                  f"(heartbeat {r.heartbeat_seconds:g}s); state {opts.state_dir}")
    results: list[RunResult] = []
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=False)
    bar = progress.add_task("starting the database", total=total)

    def on_start(kind: str, index: int) -> Tick:
        label = f"{kind} #{index + 1}"
        progress.update(bar, description=f"{label} starting")

        def tick(clock: str) -> None:
            progress.update(bar, description=f"{label} session {clock}")
        return tick

    def on_done(result: RunResult) -> None:
        results.append(result)
        progress.advance(bar)
        progress.console.print(run_line(result))

    with _cancel_on_signals() as received:
        try:
            with progress:
                await run_bench(opts, on_start, on_done)
        except asyncio.CancelledError:
            if not received:
                raise
            _summary(console, results, opts, json_path)
            console.print(f"[yellow]stopped by signal {received[0]}: the run's processes "
                          "were terminated[/yellow]")
            return 128 + received[0]
    return _summary(console, results, opts, json_path)
