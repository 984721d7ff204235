"""One scan per account and quote snapshot: N workers of one account cost the scan of one,
a different (strategy, parameter version) or filter set computes its own, and a claimer
killed mid-scan holds the others up only until its claim expires by the database clock."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.postgres.candidate_store import PostgresCandidateStore
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.event_sink import PostgresEventSink
from tradefleet.adapters.postgres.shared_quotes import SharedQuotesBroker
from tradefleet.adapters.postgres.shared_scan_store import PostgresSharedScanStore
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.filters import FilterParams
from tradefleet.domain.strategies import get_strategy
from tradefleet.services.scan_service import ScanService
from tradefleet.services.shared_scan import SharedScans

WORKERS = 8
WINDOW_S = 30
PARAMS = {"short": 2, "long": 5, "breakout_window": 5}
FILTERS = FilterParams(0, 0, 50)
AT = datetime(2026, 11, 24, 9, 31, 32, tzinfo=SEOUL)   # seed 3 signals here


def _scanner(db: Database, market: SimMarket, clock: FrozenClock, worker_id: str, *,
             params: dict = PARAMS, filters: FilterParams = FILTERS,
             claim_ttl_s: float = 3.0) -> tuple[ScanService, SharedScans]:
    broker = SharedQuotesBroker(SimBroker(market), db, clock, account_key="acct",
                                window_seconds=WINDOW_S)
    shared = SharedScans(PostgresSharedScanStore(db), clock, window_seconds=WINDOW_S,
                         claim_ttl_s=claim_ttl_s, claimer=worker_id)
    scanner = ScanService(broker, PostgresCandidateStore(db), PostgresEventSink(db),
                          get_strategy("ma_breakout", params), filters, worker_id=worker_id,
                          shared=shared, account_key="acct")
    return scanner, shared


async def _fleet(dsn: str, n: int) -> list[Database]:
    dbs = [await Database.connect(dsn, min_size=1, max_size=2) for _ in range(n)]
    await dbs[0].pool.execute(
        """INSERT INTO workers (worker_id, pid, host, mode, status, lock_ttl_seconds)
           SELECT w, 1, 'h', 'sim', 'SCAN', 30 FROM unnest($1::text[]) AS w""",
        [f"{p}{i}" for p in "wabc" for i in range(WORKERS)] + ["alone"])
    return dbs


def _ranking(result) -> list[tuple[str, int, float]]:  # noqa: ANN001
    return [(c.symbol, c.price, c.score) for c in result.ranked]


async def test_n_workers_one_computation_per_snapshot_same_ranking(pg_dsn):
    clock = FrozenClock(AT)
    market = SimMarket(3, n_symbols=60, clock=clock)
    universe = market.symbols()
    dbs = await _fleet(pg_dsn, WORKERS + 1)
    try:
        fleet = [_scanner(db, market, clock, f"w{i}") for i, db in enumerate(dbs[:WORKERS])]
        results = await asyncio.gather(*[s.scan(universe, AT.date()) for s, _ in fleet])
        assert sum(sh.computed_here for _, sh in fleet) == 1
        assert sum(sh.served_shared for _, sh in fleet) == WORKERS - 1
        assert len({r.scan_id for r in results}) == 1
        assert all(_ranking(r) == _ranking(results[0]) for r in results)
        # the same ranking as a worker computing alone on the same tape
        alone = ScanService(SimBroker(market), PostgresCandidateStore(dbs[-1]),
                            PostgresEventSink(dbs[-1]), get_strategy("ma_breakout", PARAMS),
                            FILTERS, worker_id="alone")
        assert _ranking(await alone.scan(universe, AT.date())) == _ranking(results[0])
        assert results[0].ranked, "the tape must give signals, or the comparison is empty"
        # only the computing worker wrote candidate rows; every worker announced its scan
        writers = await dbs[0].pool.fetch(
            "SELECT DISTINCT worker_id FROM candidates WHERE worker_id <> 'alone'")
        assert len(writers) == 1
        shared_flags = await dbs[0].pool.fetch(
            "SELECT (payload->>'shared')::bool AS shared FROM events "
            "WHERE event_type = 'CandidateScannedEvent' AND worker_id <> 'alone'")
        assert sorted(r["shared"] for r in shared_flags) == [False] + [True] * (WORKERS - 1)

        clock.advance(WINDOW_S * 2)              # a new quote snapshot: one more computation
        await asyncio.gather(*[s.scan(universe, AT.date()) for s, _ in fleet])
        assert sum(sh.computed_here for _, sh in fleet) == 2
    finally:
        for db in dbs:
            await db.close()


async def test_a_different_parameter_version_or_filter_set_computes_its_own(pg_dsn):
    clock = FrozenClock(AT)
    market = SimMarket(3, n_symbols=60, clock=clock)
    universe = market.symbols()
    dbs = await _fleet(pg_dsn, 6)
    try:
        same = [_scanner(db, market, clock, f"a{i}") for i, db in enumerate(dbs[:2])]
        other_params = [_scanner(db, market, clock, f"b{i}",
                                 params={**PARAMS, "long": 6}) for i, db in enumerate(dbs[2:4])]
        other_filters = [_scanner(db, market, clock, f"c{i}", filters=FilterParams(0, 0, 1))
                         for i, db in enumerate(dbs[4:6])]
        groups = (same, other_params, other_filters)
        await asyncio.gather(*[s.scan(universe, AT.date()) for g in groups for s, _ in g])
        for group in groups:                     # one computation per distinct scan, shared
            assert sum(sh.computed_here for _, sh in group) == 1
            assert sum(sh.served_shared for _, sh in group) == 1
        keys = {s.scan_key(universe) for g in groups for s, _ in g}
        assert len(keys) == 3
        versions = await dbs[0].pool.fetch(
            "SELECT DISTINCT param_version FROM candidates")
        assert len(versions) == 2
    finally:
        for db in dbs:
            await db.close()


async def test_a_claimer_killed_mid_scan_stalls_the_others_only_until_its_claim_expires(
        pg_dsn):
    clock = FrozenClock(AT)                      # the window never moves: only expiry helps
    market = SimMarket(3, n_symbols=60, clock=clock)
    universe = market.symbols()
    ttl = 1.5
    dbs = await _fleet(pg_dsn, 4)
    dead_db = await Database.connect(pg_dsn, min_size=1, max_size=1)
    try:
        fleet = [_scanner(db, market, clock, f"w{i}", claim_ttl_s=ttl)
                 for i, db in enumerate(dbs)]
        key = fleet[0][0].scan_key(universe)
        window = fleet[0][1].window()
        # a worker claims the snapshot's scan and is killed before it publishes
        assert await PostgresSharedScanStore(dead_db).claim(key, window, "killed", ttl)
        await dead_db.close()
        began = time.monotonic()
        results = await asyncio.wait_for(
            asyncio.gather(*[s.scan(universe, AT.date()) for s, _ in fleet]), timeout=ttl + 10)
        waited = time.monotonic() - began
        assert waited >= ttl * 0.9               # they did wait for the live claim...
        assert sum(sh.computed_here for _, sh in fleet) == 1   # ...then one took over
        assert len({r.scan_id for r in results}) == 1
        row = await dbs[0].pool.fetchrow(
            "SELECT claimed_by, result IS NOT NULL AS done FROM shared_scans "
            "WHERE scan_key = $1 AND window_id = $2", key, window)
        assert row["done"] and row["claimed_by"] != "killed"
    finally:
        for db in dbs:
            await db.close()


async def test_a_failed_computation_gives_its_claim_back_at_once(pg_dsn):
    clock = FrozenClock(AT)
    db = await Database.connect(pg_dsn, min_size=1, max_size=2)
    try:
        shared = SharedScans(PostgresSharedScanStore(db), clock, window_seconds=WINDOW_S,
                             claim_ttl_s=60)

        async def broken() -> dict:
            raise RuntimeError("broker down")

        try:
            await shared.get_or_compute("k", broken)
        except RuntimeError:
            pass
        else:
            raise AssertionError("the computation's error must reach the caller")
        began = time.monotonic()
        data, computed = await asyncio.wait_for(
            shared.get_or_compute("k", _constant), timeout=5)
        assert computed and data == {"x": 1} and time.monotonic() - began < 5
    finally:
        await db.close()


async def _constant() -> dict:
    return {"x": 1}


async def test_a_slow_claimer_is_waited_for_even_once_the_clock_has_moved_on(pg_dsn):
    """In a compressed session a scan outlasts several quote windows: readers wait for the
    live claim rather than each computing a newer window themselves."""
    clock = FrozenClock(AT)
    dbs = await _fleet(pg_dsn, 4)
    try:
        shares = [SharedScans(PostgresSharedScanStore(db), clock, window_seconds=WINDOW_S,
                              claim_ttl_s=30, claimer=f"s{i}") for i, db in enumerate(dbs)]
        release = asyncio.Event()
        calls = []

        async def slow() -> dict:
            calls.append("slow")
            await release.wait()
            return {"by": "slow"}

        async def other() -> dict:
            calls.append("other")
            return {"by": "other"}

        first = asyncio.create_task(shares[0].get_or_compute("k", slow))
        while not calls:
            await asyncio.sleep(0.01)
        clock.advance(WINDOW_S * 3)                   # three windows later
        readers = [asyncio.create_task(s.get_or_compute("k", other)) for s in shares[1:]]
        await asyncio.sleep(0.3)
        assert calls == ["slow"]
        release.set()
        got = await asyncio.wait_for(asyncio.gather(first, *readers), timeout=10)
        assert [data for data, _ in got] == [{"by": "slow"}] * 4
        assert [computed for _, computed in got] == [True, False, False, False]
    finally:
        for db in dbs:
            await db.close()
