"""Recorded-day format benchmark (issue 21 item 1: why Parquet). Run: python3
bench/day_format.py [--symbols 100] [--reads 3] (about a minute on 2 busy cores).

Records one simulated day (a quote every 10 s with five book levels a side, and the minute
bars), then writes and reads its quotes as Parquet/zstd (the format) and as gzip CSV (the
plain alternative: stdlib csv, numpy's C loadtxt (no new dependency), and pandas' C parser
where pandas is installed; pandas is not a dependency of tradefleet), each read
ending in numpy int64 columns as replay needs them. Prints size, write and best-of-N read
times, and each read as a multiple of the Parquet read measured in the same run."""

from __future__ import annotations

import argparse
import csv
import gzip
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tradefleet.replay.day_format import QUOTES_SCHEMA, read_day, write_day  # noqa: E402
from tradefleet.replay.sim_source import record_sim_day  # noqa: E402

NAMES = QUOTES_SCHEMA.names
INT_NAMES = [n for n in NAMES if n != "symbol"]


def _best(fn, reads: int) -> float:  # noqa: ANN001
    best = float("inf")
    for _ in range(reads):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--reads", type=int, default=3)
    args = parser.parse_args()
    console = Console()
    started = time.perf_counter()
    day = record_sim_day(7, args.symbols, date(2026, 11, 24))
    record_s = time.perf_counter() - started
    rows = len(day.quotes["at"])
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        started = time.perf_counter()
        folder = write_day(base, day)
        parquet_write = time.perf_counter() - started
        parquet_mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        parquet_read = _best(lambda: read_day(folder), args.reads)

        csv_path = base / "quotes.csv.gz"
        started = time.perf_counter()
        with gzip.open(csv_path, "wt", newline="") as f:
            out = csv.writer(f)
            out.writerow(NAMES)
            columns = [day.quotes[n] for n in NAMES]
            out.writerows(zip(*(c.tolist() for c in columns), strict=True))
        bars_csv = base / "bars.csv.gz"
        with gzip.open(bars_csv, "wt", newline="") as f:
            out = csv.writer(f)
            out.writerow(list(day.bars))
            out.writerows(zip(*(c.tolist() for c in day.bars.values()), strict=True))
        csv_write = time.perf_counter() - started
        csv_mb = (csv_path.stat().st_size + bars_csv.stat().st_size) / 1e6

        def read_csv_stdlib() -> None:
            for path in (csv_path, bars_csv):
                with gzip.open(path, "rt", newline="") as f:
                    reader = csv.reader(f)
                    header = next(reader)
                    data = list(reader)
                ints = [i for i, n in enumerate(header) if n != "symbol"]
                np.array([[int(r[i]) for i in ints] for r in data], dtype=np.int64)

        def read_csv_numpy() -> None:
            for path in (csv_path, bars_csv):
                with gzip.open(path, "rt") as f:
                    header = f.readline().rstrip("\n").split(",")
                    rest = f.read()
                ints = [i for i, n in enumerate(header) if n != "symbol"]
                np.loadtxt(rest.splitlines(), delimiter=",", usecols=ints, dtype=np.int64)
                np.loadtxt(rest.splitlines(), delimiter=",", usecols=[header.index("symbol")],
                           dtype=str)

        results = [("Parquet/zstd (the format)", parquet_mb, parquet_write, parquet_read),
                   ("gzip CSV, csv module", csv_mb, csv_write,
                    _best(read_csv_stdlib, args.reads)),
                   ("gzip CSV, numpy loadtxt", csv_mb, csv_write,
                    _best(read_csv_numpy, args.reads))]
        try:
            import pandas as pd

            def read_csv_pandas() -> None:
                for path in (csv_path, bars_csv):
                    frame = pd.read_csv(path)
                    {n: frame[n].to_numpy() for n in frame.columns}  # noqa: B018

            results.append(("gzip CSV, pandas C parser", csv_mb, csv_write,
                            _best(read_csv_pandas, args.reads)))
        except ModuleNotFoundError:
            console.print("pandas not installed: its CSV reader is not measured")
    table = Table(title=f"one recorded day: {args.symbols} symbols, {rows:,} quote rows, "
                        f"{len(day.bars['start']):,} bars (recorded from the simulator in "
                        f"{record_s:.1f} s)")
    for col in ("format", "MB", "write s", f"read s (best of {args.reads})",
                "read / Parquet", "20 days read s"):
        table.add_column(col, justify="left" if col == "format" else "right")
    for name, mb, write_s, read_s in results:
        table.add_row(name, f"{mb:.1f}", f"{write_s:.2f}", f"{read_s:.2f}",
                      f"{read_s / parquet_read:.1f}x", f"{20 * read_s:.0f}")
    console.print(table)


if __name__ == "__main__":
    main()
