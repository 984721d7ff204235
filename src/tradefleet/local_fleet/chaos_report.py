"""The chaos bench's output: a line per finished run, the table per fault kind (with what
each column means), and the per-run JSON for the README."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.table import Table

from tradefleet.local_fleet.chaos import ChaosOptions, RunResult
from tradefleet.local_fleet.chaos_faults import KINDS
from tradefleet.local_fleet.chaos_judge import __doc__ as JUDGE_DOC
from tradefleet.local_fleet.chaos_watch import RECOVERY_DEFINITION

# invariant key -> column header; every one must be 0 in every run
INVARIANTS = {
    "held_at_close": "shares held\nat close",
    "executions_without_fills": "execs w/o\nfills",
    "orders_unknown_to_us": "orders\nunknown",
    "double_holds": "double\nholds",
    "orders_after_lease": "orders after\nlease lapsed",
    "left_open": "rows left\nopen",
    "person_shares_wrong": "person's\nshares wrong",
}
DEFINITIONS = [
    "faults injected: actions taken (a pause, a kill, a database restart, broker rules "
    "armed); fired: times the simulator's broker rules fired (its own counters)",
    "trades/run: positions closed (round trips) in each run, min-max",
    "shares held at close: what the exchange's books hold once every worker has left, "
    "beyond the shares of a person trading by hand on the account (manual_trades: its "
    "holdings from before the day plus what its own orders, by their ODNOs, bought minus "
    "sold)",
    "person's shares wrong: shares that person should hold at the close that the account "
    "lacks (sold by the fleet); the person's own orders are not counted as unknown to us",
    "longest poll: the longest poll of any worker in any run, in session minutes (session "
    "time at the start and end of each poll, poll_lags): what a decision's clock may lag",
    "execs w/o fills: ODNOs whose executed qty at the exchange differs from the sum of our "
    "fills rows for the order row with that ODNO (no row = 0), plus fills on a row with no "
    "ODNO; orders unknown: orders the exchange accepted that no order row carries",
    "double holds: the lock history replayed (two holders of one symbol at once), plus "
    "pairs of positions of two workers on one symbol whose lifetimes overlap (rows and "
    "samples)",
    "orders after lease lapsed: orders the exchange accepted (its own order time) after "
    "the lock their row was created under was released or reclaimed, or after their worker "
    "was declared dead (WorkerFailedEvent) while holding it",
    "rows left open: OPEN positions, locks and open orders at the end of the day (EXIT worker "
    "rows still naming a symbol are listed in the JSON, not counted)",
    RECOVERY_DEFINITION + "; 'never' = not before the fleet left (counts as a failure)",
    "worker exits: exit codes of worker processes that ended before the close (-9: the "
    "fault's SIGKILL; 3: fenced, e.g. after a pause; a worker that leaves early is started "
    "again, as Kubernetes would, unless the fault took it away)",
]


def run_line(r: RunResult) -> str:
    bad = {k: n for k, n in r.invariants.items() if n}
    verdict = "[red]FAILED[/red]" if r.failed else "[green]ok[/green]"
    fired = (r.fault or {}).get("fired")
    parts = [f"{r.kind} #{r.run}: {verdict}", f"trades {r.trades}",
             f"longest poll {r.poll_lag_max_s / 60:.1f} session min",
             f"orders {r.orders_at_exchange}",
             f"recovery {_seconds(r.recovery_s)}", f"{r.wall_s:.0f}s"]
    if fired is not None:
        parts.insert(1, f"fired {fired}")
    if bad:
        parts.append(f"invariants {bad}")
    if r.error:
        parts.append(f"error {r.error}")
    if not r.finished and not r.error:
        parts.append("workers did not finish the session")
    if r.recovery_s is None and r.blocking:
        parts.append(f"blocking: {'; '.join(r.blocking[:3])}")
    if r.failed:
        parts.append(f"logs {r.log_dir}")
    line = ", ".join(parts)
    return line + "".join(f"\n    [dim]{note}[/dim]" for note in r.notes)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f}s"


def _exits(results: list[RunResult]) -> str:
    codes = Counter(e["code"] for r in results for e in r.exits
                    if e["before_close"] or e["code"] != 0)
    return " ".join(f"{code}×{n}" for code, n in sorted(codes.items())) or "-"


def results_table(results: list[RunResult]) -> Table:
    table = Table(title="Chaos runs: one fault kind per run", expand=False)
    for header in ("fault kind", "runs", "faults\ninjected", "fired", "trades/run",
                   "longest\npoll (min)",
                   *INVARIANTS.values(), "longest\nrecovery", "worker\nexits", "failed\nruns"):
        table.add_column(header, justify="left" if header == "fault kind" else "right")
    kinds = list(dict.fromkeys(r.kind for r in results))
    for kind in kinds:
        rs = [r for r in results if r.kind == kind]
        fired = [r.fault.get("fired") for r in rs if r.fault]
        fired_text = "-" if all(f is None for f in fired) else \
            str(sum(f or 0 for f in fired))
        trades = [r.trades for r in rs]
        cells = []
        for key in INVARIANTS:
            n = sum(r.invariants.get(key, 0) for r in rs)
            cells.append(f"[bold red]{n}[/bold red]" if n else "0")
        recoveries = [r.recovery_s for r in rs if r.recovery_s is not None]
        never = sum(1 for r in rs if r.recovery_s is None)
        longest = f"{max(recoveries):.1f}s" if recoveries else "-"
        if never:
            longest += f" [bold red](never ×{never})[/bold red]"
        failed = sum(r.failed for r in rs)
        table.add_row(
            kind, str(len(rs)), str(sum((r.fault or {}).get("injected", 0) for r in rs)),
            fired_text, f"{min(trades)}-{max(trades)}" if trades else "-",
            f"{max(r.poll_lag_max_s for r in rs) / 60:.1f}", *cells, longest,
            _exits(rs), f"[bold red]{failed}[/bold red]" if failed else "0")
    return table


def write_json(path: Path, results: list[RunResult], opts: ChaosOptions) -> None:
    body: dict[str, Any] = {
        "options": {**asdict(opts), "state_dir": str(opts.state_dir)},
        "kinds": {k: KINDS[k].description for k in opts.kinds},
        "definitions": DEFINITIONS,
        "judge": JUDGE_DOC,
        "runs": [r.as_json() for r in results],
    }
    path.write_text(json.dumps(body, indent=2, default=str), encoding="utf-8")
