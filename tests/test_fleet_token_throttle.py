"""One token a minute per appkey (EGW00133), remembered for the whole fleet in Postgres
(migration 0007) by the database clock: spawned processes, each with its own pool, HTTP
session and ``SharedTokenProvider``, race against the simulator over real HTTP. What the
simulator's token endpoint saw is the proof: one request inside the window, never more."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import aiohttp
import pytest
from tests.exchange_thread import ExchangeThread
from tests.gateway_probe import GatewayProbe
from tests.released_fleet import run_released

from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.kis.auth import Credentials, KisTokenIssuer
from tradefleet.adapters.kis.client import KisConfig
from tradefleet.adapters.kis.fleet import build_fleet_kis_broker
from tradefleet.adapters.kis.token_throttle import TokenIssueThrottled
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.token_store import SharedTokenProvider, appkey_hash
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig

WORKERS = 6
APPKEY = "PSTHROTTLEAPPKEY00000000000000000000"
APPSECRET = "throttle-secret-not-real"
BALANCE = "trading/inquire-balance"


def _provider(db: Database, session: aiohttp.ClientSession, base_url: str,
              **kwargs: object) -> SharedTokenProvider:
    issuer = KisTokenIssuer(session, Credentials(base_url, APPKEY, APPSECRET))
    return SharedTokenProvider(db, appkey=APPKEY, mode="real", issue=issuer,
                               **kwargs)  # type: ignore[arg-type]


async def _member(dsn: str, base_url: str, rejected: str | None, ready, go) -> tuple:  # noqa: ANN001
    db = await Database.connect(dsn, min_size=1, max_size=2)
    try:
        async with aiohttp.ClientSession() as session:
            provider = _provider(db, session, base_url)
            ready.put(1)
            await asyncio.to_thread(go.wait, 120)
            try:
                if rejected:
                    token = await provider.get(force_new=True, rejected_token=rejected)
                else:
                    token = await provider.get()
            except TokenIssueThrottled as exc:
                assert exc.retry_at is not None
                return ("throttled", exc.retry_at.isoformat(), str(exc))
            return ("token", token, provider.issued_here)
    finally:
        await db.close()


def _child(dsn: str, base_url: str, rejected: str | None, ready, go, out) -> None:  # noqa: ANN001
    try:
        out.put(asyncio.run(_member(dsn, base_url, rejected, ready, go)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        ready.put(1)
        out.put(("error", f"{type(exc).__name__}: {exc}", None))


async def _race(dsn: str, ex: ExchangeThread, rejected: str | None = None) -> list[tuple]:
    """``WORKERS`` spawned processes ask for the token at once (``rejected``: each was just
    told by the broker that this token expired, EGW00123)."""
    results, _ = await run_released(_child, (dsn, ex.base_url, rejected), WORKERS)
    assert not [r for r in results if r[0] == "error"], results
    return results


async def _throttle_row(db: Database) -> dict | None:
    row = await db.pool.fetchrow(
        "SELECT reason, refusals, EXTRACT(EPOCH FROM throttled_until - now())::float8 AS left_s"
        " FROM broker_token_throttles WHERE appkey_hash = $1", appkey_hash(APPKEY))
    return dict(row) if row else None


async def test_fleet_uses_the_stored_token_while_its_refresh_is_throttled(pg_dsn, db):
    # tokens live 5 min: inside the 10-min refresh margin, so every process wants a refresh,
    # and the simulator issues no new token within a minute of the first
    xcfg = ExchangeConfig(mode="real", token_ttl_seconds=300, same_token_seconds=0.0)
    with GatewayProbe(xcfg) as ex:
        async with aiohttp.ClientSession() as session:
            first = await _provider(db, session, ex.base_url).get()
        assert ex.gateway_counters()["token_requests"] == 1
        results = await _race(pg_dsn, ex)
        assert results == [("token", first, 0)] * WORKERS
        counters = ex.gateway_counters()
        assert counters["token_requests"] == 2      # exactly one refused refresh, fleet-wide
        assert counters["tokens_issued"] == {APPKEY: 1}
        row = await _throttle_row(db)
        assert row is not None and row["reason"] == "EGW00133" and row["refusals"] == 1
        assert 40 < row["left_s"] <= 60
        # a second wave inside the window: nobody asks
        assert await _race(pg_dsn, ex) == [("token", first, 0)] * WORKERS
        assert ex.gateway_counters()["token_requests"] == 2


async def test_fleet_with_no_valid_token_gets_dated_errors_and_asks_once(pg_dsn, db):
    with GatewayProbe(ExchangeConfig(mode="real")) as ex:
        async with aiohttp.ClientSession() as session:
            token = await _provider(db, session, ex.base_url).get()
            async with session.post(ex.base_url + "/_admin/tokens/expire") as resp:
                assert resp.status == 200
            asked_at = datetime.now(SEOUL)
            # every process was just told the token expired (EGW00123) and forces a new one
            results = await _race(pg_dsn, ex, rejected=token)
            done_at = datetime.now(SEOUL)
            assert {r[0] for r in results} == {"throttled"}
            until = await db.pool.fetchval("SELECT throttled_until FROM broker_token_throttles")
            assert asked_at + timedelta(seconds=60) <= until <= done_at + timedelta(seconds=60)
            for _, retry_at, message in results:     # each names the fleet's retry time
                assert abs((datetime.fromisoformat(retry_at) - until).total_seconds()) < 1.0
                assert "EGW00133" in message and "retry after" in message
            counters = ex.gateway_counters()
            assert counters["token_requests"] == 2 and counters["tokens_issued"] == {APPKEY: 1}
            assert await db.pool.fetchval(   # the refused token is dead for the whole fleet
                "SELECT expires_at <= now() FROM broker_tokens WHERE appkey_hash = $1",
                appkey_hash(APPKEY))
            # later, plain calls: throttled at once, no token request, no broker request
            results = await _race(pg_dsn, ex)
            assert {r[0] for r in results} == {"throttled"}
            cfg = KisConfig(base_url=ex.base_url, appkey=APPKEY, appsecret=APPSECRET,
                            cano="12345678", mode="real")
            broker = await build_fleet_kis_broker(cfg, session, db, ex.clock,
                                                  share_quotes_window=None)
            for _ in range(3):
                with pytest.raises(TokenIssueThrottled, match="retry after"):
                    await broker.get_balance()
            assert ex.calls(BALANCE) == 0
            assert ex.gateway_counters()["token_requests"] == 2


async def test_fleet_throttle_ends_with_its_window_and_one_process_reissues(pg_dsn, db):
    xcfg = ExchangeConfig(mode="real", reissue_seconds=1.0)
    other = await Database.connect(pg_dsn, min_size=1, max_size=2)    # another process's pool
    with GatewayProbe(xcfg) as ex:
        async with aiohttp.ClientSession() as session:
            a = _provider(db, session, ex.base_url, throttle_seconds=1.0)
            b = _provider(other, session, ex.base_url, throttle_seconds=1.0)
            token = await a.get()
            async with session.post(ex.base_url + "/_admin/tokens/expire") as resp:
                assert resp.status == 200
            with pytest.raises(TokenIssueThrottled):
                await a.get(force_new=True, rejected_token=token)
            with pytest.raises(TokenIssueThrottled):
                await b.get()
            assert ex.gateway_counters()["token_requests"] == 2
            row = await _throttle_row(db)
            assert row is not None
            await asyncio.sleep(max(0.0, row["left_s"]) + 0.1)
            fresh = await b.get()
            assert fresh != token and await a.get() == fresh
            counters = ex.gateway_counters()
            assert counters["token_requests"] == 3 and counters["tokens_issued"] == {APPKEY: 2}
    await other.close()


async def test_same_token_handed_back_inside_the_margin_is_not_asked_for_on_every_call(db):
    # the simulator hands back the same (5-min) token for 6 h: a refresh cannot help
    xcfg = ExchangeConfig(mode="real", token_ttl_seconds=300)
    with GatewayProbe(xcfg) as ex:
        async with aiohttp.ClientSession() as session:
            providers = [_provider(db, session, ex.base_url) for _ in range(3)]
            first = await providers[0].get()
            for _ in range(3):
                assert [await p.get() for p in providers] == [first] * 3
        counters = ex.gateway_counters()
        assert counters["tokens_issued"] == {APPKEY: 1}
        assert counters["token_requests"] == 2        # the first and one refresh, no more
        row = await _throttle_row(db)
        assert row is not None and row["reason"] == "same_token" and row["refusals"] == 0
        assert 0 < row["left_s"] <= 60
