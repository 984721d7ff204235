"""Micro-benchmark of one scan's candidates write (issue 21, speed): the client's CPU and
the backend's CPU for N scans of realistic rows, per statement shape and per index set of a
backtest's template. Run: python3 bench/candidate_insert.py [--scans 2241] [--rounds 3]
[--rows ROWS.pkl]

The rows are a replayed fleet-day's (``--rows``: a pickle of ``save_scan`` keyword lists,
captured from bench/replay_profile.py --workers 10) or, without one, made alike: 100
symbols, three float indicators on two thirds of them. Variants run alternated, ``--rounds``
times, on one embedded server and one connection, each on an emptied, VACUUMed table made
as a backtest's template is (migrated, UNLOGGED, no candidates -> workers key). The backend's
CPU is read from /proc (its pid); the client's is this process's ``process_time``.
``--batch K``: the batched variants store K scans a call, by the replay's kept-scans
statement (``replay.deferred_candidates``) or by a binary COPY of the same rows."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import random
import sys
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tradefleet.adapters.postgres.candidate_store import _INSERT as CANDIDATES_INSERT  # noqa: E402
from tradefleet.adapters.postgres.candidate_store import SCANS_INSERT, scan_columns  # noqa: E402
from tradefleet.adapters.postgres.database import database_dsn  # noqa: E402
from tradefleet.adapters.postgres.embedded import scratch_dir, start_embedded  # noqa: E402
from tradefleet.adapters.postgres.migrate import migrate  # noqa: E402
from tradefleet.ports.candidate_store import CandidateRow  # noqa: E402
from tradefleet.replay.candidate_owners import drop_owner_key  # noqa: E402
from tradefleet.replay.unlogged_days import make_unlogged  # noqa: E402

_COLUMNS = ("symbol, price, volume, traded_value, change_rate, spread_ticks, passed, "
            "rejected, indicators, signal")

UNNEST = """
INSERT INTO candidates (scan_id, worker_id, trading_day, symbol, price, volume, traded_value,
    change_rate, spread_ticks, passed_filters, rejected_by, indicators, signal,
    strategy_name, strategy_version, param_version)
SELECT $1, $2, $3, u.symbol, u.price, u.volume, u.traded_value, u.change_rate, u.spread_ticks,
    u.passed, string_to_array(u.rejected, ','), u.indicators::jsonb, u.signal, $4, $5, $6
FROM unnest($7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::numeric[],
            $12::int[], $13::bool[], $14::text[], $15::text[], $16::bool[])
     AS u(symbol, price, volume, traded_value, change_rate, spread_ticks, passed, rejected,
          indicators, signal)
"""

_RECORDSET = """
INSERT INTO candidates (scan_id, worker_id, trading_day, symbol, price, volume, traded_value,
    change_rate, spread_ticks, passed_filters, rejected_by, indicators, signal,
    strategy_name, strategy_version, param_version)
SELECT $1, $2, $3, u.symbol, u.price, u.volume, u.traded_value, u.change_rate, u.spread_ticks,
    u.passed, string_to_array(u.rejected, ','), u.indicators, u.signal, $4, $5, $6
FROM {fn}($7::{t}) AS u(symbol text, price bigint, volume bigint, traded_value bigint,
    change_rate numeric, spread_ticks int, passed bool, rejected text, indicators jsonb,
    signal bool)
"""
JSON_RECORDSET = _RECORDSET.format(fn="json_to_recordset", t="json")
JSONB_RECORDSET = _RECORDSET.format(fn="jsonb_to_recordset", t="jsonb")

ELEMENTS = CANDIDATES_INSERT                # the statement the store runs


ELEMENTS_CAST = """
INSERT INTO candidates (scan_id, worker_id, trading_day, symbol, price, volume, traded_value,
    change_rate, spread_ticks, passed_filters, rejected_by, indicators, signal,
    strategy_name, strategy_version, param_version)
SELECT $1, $2, $3, e->>0, (e->1)::bigint, (e->2)::bigint, (e->3)::bigint,
    (e->>4)::numeric, (e->>5)::int, (e->6)::bool, string_to_array(e->>7, ','), e->8,
    (e->9)::bool, $4, $5, $6
FROM jsonb_array_elements($7::jsonb) AS e
"""


def _unnest_args(rows):
    return ([r.symbol for r in rows], [r.price for r in rows], [r.volume for r in rows],
            [r.traded_value for r in rows], [r.change_rate for r in rows],
            [r.spread_ticks for r in rows], [r.passed_filters for r in rows],
            [",".join(r.rejected_by) for r in rows],
            [json.dumps(r.indicators) for r in rows], [r.signal for r in rows])


_KEYS = _COLUMNS.split(", ")


def _recordset_arg(rows):
    return json.dumps([dict(zip(_KEYS, (
        r.symbol, r.price, r.volume, r.traded_value, str(r.change_rate), r.spread_ticks,
        r.passed_filters, ",".join(r.rejected_by), r.indicators, r.signal), strict=True))
        for r in rows])


def _elements_arg(rows):
    return json.dumps([(r.symbol, r.price, r.volume, r.traded_value, str(r.change_rate),
                        r.spread_ticks, r.passed_filters, ",".join(r.rejected_by),
                        r.indicators, r.signal) for r in rows])


def variant(sql, make):
    async def run(conn, scan):
        await conn.execute(sql, scan["scan_id"], scan["worker_id"], scan["trading_day"],
                           scan["strategy_name"], scan["strategy_version"],
                           scan["param_version"], *make(scan["rows"]))
    return run


async def _kept_scans(conn, scans):
    """``replay.deferred_candidates``' one statement for a batch of kept scans."""
    await conn.execute(SCANS_INSERT, *scan_columns(scans, [0.001] * len(scans)))


_COPY_COLUMNS = ("scan_id", "worker_id", "trading_day", "symbol", "price", "volume",
                 "traded_value", "change_rate", "spread_ticks", "passed_filters",
                 "rejected_by", "indicators", "signal", "strategy_name", "strategy_version",
                 "param_version", "scanned_at")


async def _copy(conn, scans):
    """The same batch by binary COPY (``copy_records_to_table``), stamps made here."""
    at = datetime.now(UTC)
    await conn.copy_records_to_table("candidates", columns=_COPY_COLUMNS, records=[
        (s["scan_id"], s["worker_id"], s["trading_day"], r.symbol, r.price, r.volume,
         r.traded_value, r.change_rate, r.spread_ticks, r.passed_filters,
         list(r.rejected_by), json.dumps(r.indicators), r.signal, s["strategy_name"],
         s["strategy_version"], s["param_version"], at)
        for s in scans for r in s["rows"]])


def _one_scan(run):
    async def each(conn, scans):
        for scan in scans:
            await run(conn, scan)
    return each


BATCHED = {"kept_scans_jsonb": _kept_scans, "kept_scans_copy": _copy}

VARIANTS = {
    "unnest": variant(UNNEST, _unnest_args),
    "json_to_recordset": variant(JSON_RECORDSET, lambda rows: (_recordset_arg(rows),)),
    "jsonb_to_recordset": variant(JSONB_RECORDSET, lambda rows: (_recordset_arg(rows),)),
    "jsonb_array_elements": variant(ELEMENTS, lambda rows: (_elements_arg(rows),)),
    "jsonb_elements_cast": variant(ELEMENTS_CAST, lambda rows: (_elements_arg(rows),)),
}

INDEX_SETS = {   # index set name -> statements run on the template before the variant
    "all": [],
    "no day_signal": ["DROP INDEX candidates_day_signal"],
    "no day_signal, no pkey": ["DROP INDEX candidates_day_signal",
                               "ALTER TABLE candidates DROP CONSTRAINT candidates_pkey"],
}


def made_rows(scans: int) -> list[dict]:
    rng = random.Random(7)
    symbols = [f"{k:06d}" for k in range(100)]
    out = []
    for s in range(scans):
        rows = []
        for sym in symbols:
            price = rng.randrange(1_000, 100_000, 50)
            ind = {} if rng.random() < 0.3 else {
                "sma_short": price + rng.random(), "sma_long": price - 12.5,
                "prior_high": float(price + 50)}
            rows.append(CandidateRow(sym, price, rng.randrange(10**6), rng.randrange(10**9),
                                     Decimal(rng.randrange(-3000, 3000)) / 100, 1, True, (),
                                     ind, rng.random() < 0.01))
        out.append({"scan_id": uuid.uuid4(), "worker_id": f"bt-{s % 10 + 1}",
                    "trading_day": date(2026, 11, 24), "strategy_name": "ma_breakout",
                    "strategy_version": "ma_breakout/1", "param_version": "908e656dc0c5",
                    "rows": rows})
    return out


def backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one(dsn: str, index_set: str, name: str, scans: list[dict],
              batch: int = 1) -> tuple[float, float, float]:
    """One variant on a fresh clone of the template (as a backtest's day is made)."""
    admin = await asyncpg.connect(dsn)
    await admin.execute("DROP DATABASE IF EXISTS bench_day WITH (FORCE)")
    await admin.execute('CREATE DATABASE bench_day TEMPLATE "candidates_bench"')
    conn = await asyncpg.connect(database_dsn(dsn, "bench_day"))
    try:
        for sql in INDEX_SETS[index_set]:
            await conn.execute(sql)
        await conn.execute("VACUUM ANALYZE candidates")
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        run = BATCHED.get(name) or _one_scan(VARIANTS[name])
        size = batch if name in BATCHED else 1
        server, client, wall = backend_cpu(pid), time.process_time(), time.perf_counter()
        for k in range(0, len(scans), size):
            await run(conn, scans[k:k + size])
        return (time.process_time() - client, backend_cpu(pid) - server,
                time.perf_counter() - wall)
    finally:
        await conn.close()
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scans", type=int, default=2241)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=Path)
    parser.add_argument("--variants", default=",".join([*VARIANTS, *BATCHED]))
    parser.add_argument("--batch", type=int, default=10,
                        help="scans a statement for the batched variants (" +
                             ", ".join(BATCHED) + ")")
    parser.add_argument("--index-sets", default="all")
    args = parser.parse_args()
    scans = (pickle.loads(args.rows.read_bytes()) if args.rows else made_rows(args.scans))
    scans = scans[:args.scans]
    with scratch_dir() as tmp_name:
        dsn = await asyncio.to_thread(start_embedded, Path(tmp_name) / "pgdata",
                                      database="candidates_bench")
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn)
            await make_unlogged(conn)
            await drop_owner_key(conn)
        finally:
            await conn.close()
        dsn = database_dsn(dsn, "postgres")
        names = args.variants.split(",")
        sets = args.index_sets.split(";")
        results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        for _ in range(args.rounds):
            for index_set in sets:
                for name in names:
                    got = await one(dsn, index_set, name, scans, args.batch)
                    results.setdefault((index_set, name), []).append(got)
        n = len(scans)
        print(f"load {os.getloadavg()[0]:.2f}, {n} scans of "
              f"{sum(len(s['rows']) for s in scans) / n:.0f} rows ({args.batch} a statement "
              f"batched: {', '.join(BATCHED)}), "
              f"{args.rounds} rounds "
              f"(alternated): per scan, min and median of the rounds")
        print(f"{'index set':24} {'variant':22} {'client ms':>14} {'server ms':>14} "
              f"{'wall ms':>14}")
        for (index_set, name), got in results.items():
            cells = []
            for k in range(3):
                xs = sorted(g[k] * 1000 / n for g in got)
                cells.append(f"{xs[0]:6.3f} {xs[len(xs) // 2]:6.3f}")
            print(f"{index_set:24} {name:22} {cells[0]:>14} {cells[1]:>14} {cells[2]:>14}")


if __name__ == "__main__":
    asyncio.run(main())
