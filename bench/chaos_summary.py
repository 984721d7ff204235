"""Merge the JSON files of several chaos runs (``bench/chaos.py --json``; a campaign split over
processes writes one each) into one Markdown table per fault kind: runs, faults injected,
broker rules fired, every invariant column summed, the longest recovery and wall seconds per
run. Run: python3 bench/chaos_summary.py FILE.json [FILE.json ...]"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

COLUMNS = ("held_at_close", "executions_without_fills", "orders_unknown_to_us",
           "double_holds", "orders_after_lease", "left_open", "person_shares_wrong")


def summarize(runs: list[dict[str, Any]]) -> str:
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        by_kind[run["kind"]].append(run)
    head = ["fault kind", "runs", "faults injected", "rules fired", *COLUMNS,
            "failed runs", "longest recovery s", "wall s/run (mean, max)"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for kind, group in by_kind.items():
        faults = [r["fault"] for r in group if r["fault"]]
        fired = [f["fired"] for f in faults if f["fired"] is not None]
        recovery = [r["recovery_s"] for r in group]
        walls = [r["wall_s"] for r in group]
        sums = [sum(r["invariants"].get(c, 0) for r in group) if all(r["invariants"] for r in group)
                else "n/a" for c in COLUMNS]
        rows.append("| " + " | ".join(str(x) for x in (
            kind, len(group), sum(f["injected"] for f in faults),
            sum(fired) if fired else "-", *sums, sum(1 for r in group if r["failed"]),
            "never" if None in recovery else f"{max(recovery):.1f}",
            f"{sum(walls) / len(walls):.1f}, {max(walls):.1f}")) + " |")
    return "\n".join(rows)


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    runs = [run for p in paths for run in json.loads(Path(p).read_text())["runs"]]
    print(summarize(runs))
    return 1 if any(r["failed"] for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
