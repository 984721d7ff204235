"""The request budget counts a request until its answer (plus the window), because the broker
counts it when it ARRIVES, which may be long after the grant on a busy machine. The KIS
simulator here holds the first arrivals back before its gateway sees them (as a loaded
machine does) and must still never answer EGW00201 or see more than the limit in a second:
for the process's own limiter and for the fleet's Postgres budget, grants and shares."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import aiohttp
from tests.gateway_probe import GatewayProbe
from tests.kis_harness import APPKEY, APPSECRET

from tradefleet.adapters.kis.auth import (
    Credentials,
    InProcessTokenProvider,
    KisTokenIssuer,
    SlidingWindowRateLimiter,
)
from tradefleet.adapters.kis.broker import KisBroker
from tradefleet.adapters.kis.client import KisConfig
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.rate_budget import PostgresRateBudget, budget_key
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig
from tradefleet.ports.tokens import RateLimiter

LIMIT = 20
HELD_BACK, HOLD_SECONDS = 10, 0.6       # far past the limiter's 0.1 s margin


async def test_a_slot_keeps_its_place_until_its_answer_plus_the_window() -> None:
    limiter = SlidingWindowRateLimiter(2, margin=0.1)
    answered: list[float] = []

    async def slow_request() -> None:
        async with limiter.slot():
            await asyncio.sleep(0.3)            # the answer comes 0.3 s after the grant
        answered.append(time.monotonic())

    first = [asyncio.create_task(slow_request()) for _ in range(2)]
    await asyncio.sleep(0.05)
    await limiter.acquire()                     # both places are in flight: wait
    granted = time.monotonic()
    await asyncio.gather(*first)
    assert granted >= min(answered) + 1.1 - 0.01     # not the grant: the answer + window


class _GrantCounted:
    """A limiter that only counts from the grant (what both limiters did before)."""

    def __init__(self, inner: RateLimiter) -> None:
        self._inner = inner

    async def acquire(self, *, order: bool = False) -> None:
        await self._inner.acquire(order=order)


@contextlib.asynccontextmanager
async def _brokers(ex: GatewayProbe, limiters: list) -> AsyncIterator[list[KisBroker]]:
    async with aiohttp.ClientSession() as session:
        cfg = KisConfig(base_url=ex.base_url, appkey=APPKEY, appsecret=APPSECRET,
                        cano="12345678", mode="real", timeout_seconds=5.0,
                        rate_limit_budget_seconds=0.0)     # a refusal is not hidden by retry
        tokens = InProcessTokenProvider(
            KisTokenIssuer(session, Credentials(ex.base_url, APPKEY, APPSECRET)))
        brokers = [KisBroker(cfg, session, tokens, lim, clock=ex.clock) for lim in limiters]
        await brokers[0].authenticate()
        yield brokers


async def _flat_out(ex: GatewayProbe, brokers: list[KisBroker], calls: int, *,
                    held_back: int = HELD_BACK) -> list:
    symbols = ex.market.symbols()
    ex.reset()
    ex.delay_first_arrivals(held_back, HOLD_SECONDS)
    return await asyncio.gather(
        *(brokers[n % len(brokers)].get_buyable_qty(symbols[n % len(symbols)], None)
          for n in range(calls)), return_exceptions=True)


async def test_held_back_arrivals_never_put_the_broker_over_its_limit_in_process() -> None:
    with GatewayProbe(ExchangeConfig(mode="real"), n_symbols=10) as ex:
        async with _brokers(ex, [SlidingWindowRateLimiter(LIMIT)]) as brokers:
            results = await _flat_out(ex, brokers, 45)
        assert not [r for r in results if isinstance(r, BaseException)]
        assert ex.rate_limited() == 0
        assert ex.max_in_any_second() <= LIMIT


async def test_counting_from_the_grant_alone_is_what_failed() -> None:
    # the same run with the limiter counting from its grant: the broker refuses some
    with GatewayProbe(ExchangeConfig(mode="real"), n_symbols=10) as ex:
        async with _brokers(ex, [_GrantCounted(SlidingWindowRateLimiter(LIMIT))]) as brokers:
            await _flat_out(ex, brokers, 45)
        assert ex.rate_limited() > 0


async def test_held_back_arrivals_never_put_the_broker_over_its_limit_fleet_wide(pg_dsn):
    """Three processes' budgets (own pools) on one key, shares on and off."""
    dbs = [await Database.connect(pg_dsn, min_size=1, max_size=3) for _ in range(3)]
    key = budget_key(APPKEY, "real")
    budgets = [PostgresRateBudget(dbs[0], key, limit_per_second=LIMIT),
               PostgresRateBudget(dbs[1], key, limit_per_second=LIMIT),
               PostgresRateBudget(dbs[2], key, limit_per_second=LIMIT, share_pool=0)]
    try:
        with GatewayProbe(ExchangeConfig(mode="real"), n_symbols=10) as ex:
            async with _brokers(ex, budgets) as brokers:
                for _ in range(4):                  # the first calls lease the shares
                    await asyncio.gather(*(b.get_buyable_qty(ex.market.symbols()[0], None)
                                           for b in brokers))
                    await asyncio.sleep(0.3)
                await asyncio.sleep(1.2)            # an empty window to start from
                # shares are capped at half the limit together: of 15 held back, at least 5
                # were per-call grants, answered 0.6 s after their grant
                results = await _flat_out(ex, brokers, 60, held_back=15)
            assert not [r for r in results if isinstance(r, BaseException)]
            assert ex.rate_limited() == 0
            assert ex.max_in_any_second() <= LIMIT
            assert sum(b.late_answers for b in budgets) >= 5   # recorded as late grants
    finally:
        for b in budgets:
            await b.close()
        for d in dbs:
            await d.close()
