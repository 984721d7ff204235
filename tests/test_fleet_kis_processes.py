"""The fleet KIS broker across real OS processes, end to end: one exchange simulator on
127.0.0.1 (its own thread and loop), one test database, ten spawned processes each building
``build_fleet_kis_broker`` with their own pool and HTTP session. What the exchange saw is the
proof: one token request, never more than the per-appkey limit in a second, one quote fetch
per window for the whole fleet."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import aiohttp
import asyncpg
import pytest
from tests.exchange_thread import DAY, ExchangeThread
from tests.released_fleet import run_released

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.kis.client import KisConfig
from tradefleet.adapters.kis.fleet import MODE_RATE_LIMITS, build_fleet_kis_broker
from tradefleet.adapters.postgres.database import Database
from tradefleet.domain.request_budget import order_reserve

WORKERS = 10
APPKEY = "PSFLEETAPPKEY0000000000000000000000"
APPSECRET = "fleet-secret-not-real"
HAMMER_SECONDS = 5.0
MULTPRICE = "quotations/intstock-multprice"


def _config(base_url: str) -> KisConfig:
    return KisConfig(base_url=base_url, appkey=APPKEY, appsecret=APPSECRET, cano="12345678",
                     product_code="01", mode="real", timeout_seconds=5.0,
                     rate_limit_budget_seconds=3.0)


async def _member(kind: str, dsn: str, base_url: str, symbols: list[str], ready, go):  # noqa: ANN001
    """One fleet process: build the broker, say ready, wait for the common start, act."""
    db = await Database.connect(dsn, min_size=1, max_size=3)
    clock = FrozenClock(datetime(DAY.year, DAY.month, DAY.day, 10, 0, 5, tzinfo=SEOUL))
    try:
        async with aiohttp.ClientSession() as session:
            broker = await build_fleet_kis_broker(
                _config(base_url), session, db, clock,
                share_quotes_window=60.0 if kind == "shared" else None)
            if kind != "start":
                await broker.authenticate()     # the token is not what these tests race for
            ready.put(1)
            await asyncio.to_thread(go.wait, 120)
            if kind == "start":
                await broker.authenticate()
                return sorted(await broker.get_quotes(symbols[:1]))
            if kind == "hammer":
                calls, end = 0, time.monotonic() + HAMMER_SECONDS
                while time.monotonic() < end:
                    await broker.get_quotes(symbols[:1])
                    calls += 1
                return calls
            seen = []
            for _ in range(3):                  # three polls of the universe in one window
                quotes = await broker.get_quotes(symbols)
                seen.append(sorted((s, q.price, q.volume) for s, q in quotes.items()))
            return seen
    finally:
        await db.close()


def _child(kind: str, dsn: str, base_url: str, symbols: list[str], ready, go, out) -> None:  # noqa: ANN001
    try:
        out.put(("ok", asyncio.run(_member(kind, dsn, base_url, symbols, ready, go))))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        ready.put(1)
        out.put(("error", f"{type(exc).__name__}: {exc}"))


async def _fleet(kind: str, dsn: str, ex: ExchangeThread, symbols: list[str]) -> list:
    """Start ``WORKERS`` spawned processes, release them together once all are ready, and
    return what each reported."""
    results, procs = await run_released(_child, (kind, dsn, ex.base_url, symbols), WORKERS,
                                        before_go=ex.reset)   # count only the released fleet
    errors = [r for status, r in results if status != "ok"]
    assert not errors, errors
    assert all(p.exitcode == 0 for p in procs)
    return [r for _, r in results]


async def _issue_count(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT coalesce(sum(issue_count), 0) FROM broker_tokens")
    finally:
        await conn.close()


async def test_ten_processes_starting_at_once_cause_one_token_issuance(pg_dsn):
    with ExchangeThread(n_symbols=20) as ex:
        symbols = ex.market.symbols()
        results = await _fleet("start", pg_dsn, ex, symbols)
        counters = ex.gateway_counters()
    assert results == [symbols[:1]] * WORKERS           # every process got its quote
    # the simulator hands back the same token to repeat askers, so tokens_issued alone
    # could not fail: the token endpoint must have been asked exactly once by the fleet
    assert counters["token_requests"] == 1
    assert counters["tokens_issued"] == {APPKEY: 1}
    assert await _issue_count(pg_dsn) == 1


async def test_ten_processes_flat_out_never_exceed_the_appkey_limit(pg_dsn):
    limit = MODE_RATE_LIMITS["real"]
    with ExchangeThread(n_symbols=20) as ex:
        symbols = ex.market.symbols()
        started = time.monotonic()
        per_process = await _fleet("hammer", pg_dsn, ex, symbols)
        elapsed = time.monotonic() - started
        counters = ex.gateway_counters()
        total, peak = ex.calls(), ex.max_in_any_second()
    print(f"\nhammer: {sum(per_process)} calls by {WORKERS} processes in {HAMMER_SECONDS}s "
          f"(per process {per_process}); exchange saw {total}, peak {peak} in any 1 s, "
          f"{counters['rate_limited']} x EGW00201; fleet run {elapsed:.1f}s")
    assert counters["rate_limited"] == 0                # zero EGW00201 answers
    assert peak <= limit                                # sliding second, as KIS counts
    assert counters["max_requests_per_second"] <= limit
    assert total == sum(per_process)                    # no retries were needed
    # they really competed: the fleet used most of what reads may take (the limit less the
    # orders' reserve) x seconds, not one process's share
    assert total >= 0.75 * (limit - order_reserve(limit)) * HAMMER_SECONDS
    assert total <= limit * (HAMMER_SECONDS + 1)
    assert min(per_process) >= 1


@pytest.mark.parametrize("universe", [75])
async def test_processes_polling_one_universe_cost_the_calls_of_one(pg_dsn, universe):
    with ExchangeThread(n_symbols=universe) as ex:
        symbols = ex.market.symbols()
        results = await _fleet("shared", pg_dsn, ex, symbols)
        fleet_calls = ex.calls(MULTPRICE)
        ex.reset()
        async with aiohttp.ClientSession() as session:   # what ONE process alone costs
            db = await Database.connect(pg_dsn, min_size=1, max_size=2)
            try:
                alone = await build_fleet_kis_broker(_config(ex.base_url), session, db,
                                                     ex.clock, share_quotes_window=None)
                one = await alone.get_quotes(symbols)
            finally:
                await db.close()
        one_process_calls = ex.calls(MULTPRICE)
    assert len(one) == universe
    assert one_process_calls >= 2                       # the universe spans several batches
    assert fleet_calls == one_process_calls             # N processes x 3 polls = one fetch
    first = results[0][0]
    assert len(first) == universe
    assert all(poll == first for seen in results for poll in seen)   # all saw one snapshot


# ---- the factory's own contract, in one process -------------------------------------------
async def test_bad_factory_input_names_the_field_and_writes_nothing(pg_dsn):
    with ExchangeThread(n_symbols=5) as ex:
        db = await Database.connect(pg_dsn, min_size=1, max_size=2)
        try:
            async with aiohttp.ClientSession() as session:
                for kwargs, field in (({"share_quotes_window": 0.0}, "share_quotes_window"),
                                      ({"share_quotes_window": None, "limit_per_second": 0},
                                       "limit_per_second")):
                    with pytest.raises(ValueError, match=field):
                        await build_fleet_kis_broker(_config(ex.base_url), session, db,
                                                     ex.clock, **kwargs)
        finally:
            await db.close()
        assert ex.gateway_counters()["token_requests"] == 0
    assert await _issue_count(pg_dsn) == 0


async def test_stored_token_is_encrypted_and_holds_no_appkey_or_account(pg_dsn):
    from cryptography.fernet import Fernet

    from tradefleet.adapters.kis.auth import Credentials, KisTokenIssuer
    from tradefleet.settings.secrets import FernetCipher

    cipher = FernetCipher(Fernet(Fernet.generate_key()))
    with ExchangeThread(n_symbols=5) as ex:
        db = await Database.connect(pg_dsn, min_size=1, max_size=2)
        try:
            async with aiohttp.ClientSession() as session:
                broker = await build_fleet_kis_broker(_config(ex.base_url), session, db,
                                                      ex.clock, cipher=cipher,
                                                      share_quotes_window=None)
                await broker.get_quotes(ex.market.symbols()[:1])
                # the simulator hands a valid token back to a repeat asker: the plaintext
                token = (await KisTokenIssuer(session, Credentials(
                    ex.base_url, APPKEY, APPSECRET))()).token
        finally:
            await db.close()
    conn = await asyncpg.connect(pg_dsn)
    try:
        row = await conn.fetchrow("SELECT * FROM broker_tokens")
    finally:
        await conn.close()
    stored = " ".join(str(v) for v in row.values())
    assert token not in stored and APPKEY not in stored and "12345678" not in stored
    assert cipher.decrypt(row["token_cipher"]) == token


async def test_limit_override_is_shared_by_racing_brokers_with_their_own_pools(pg_dsn):
    limit, seconds = 5, 2.0
    with ExchangeThread(n_symbols=5) as ex:
        symbol = ex.market.symbols()[:1]
        dbs = [await Database.connect(pg_dsn, min_size=1, max_size=2) for _ in range(3)]
        try:
            async with aiohttp.ClientSession() as session:
                brokers = [await build_fleet_kis_broker(_config(ex.base_url), session, d,
                                                        ex.clock, share_quotes_window=None,
                                                        limit_per_second=limit)
                           for d in dbs]
                for b in brokers:
                    await b.authenticate()
                ex.reset()
                began = time.monotonic()
                end = began + seconds

                async def hammer(broker) -> None:  # noqa: ANN001
                    while time.monotonic() < end:
                        await broker.get_quotes(symbol)

                await asyncio.gather(*(hammer(b) for b in brokers for _ in range(3)))
                elapsed = time.monotonic() - began   # calls waiting at ``end`` finish later
        finally:
            for d in dbs:
                await d.close()
        total, peak = ex.calls(), ex.max_in_any_second()
        assert ex.gateway_counters()["rate_limited"] == 0
    assert peak <= limit
    reads_cap = limit - order_reserve(limit)      # quote reads leave the orders' reserve
    assert reads_cap * seconds * 0.75 <= total <= limit * (elapsed + 1)
