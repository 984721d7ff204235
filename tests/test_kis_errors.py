"""Error mapping of the KIS adapter against the simulator over real HTTP."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from tests.kis_harness import APPKEY, APPSECRET, rig

from tradefleet.adapters.kis.auth import SlidingWindowRateLimiter
from tradefleet.adapters.kis.broker import KisBroker
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig
from tradefleet.domain.errors import (
    AmbiguousOrderOutcome,
    AuthError,
    BrokerTimeout,
    BrokerUnavailable,
    OrderRejected,
    RateLimited,
)
from tradefleet.domain.orders import OrderRequest, OrderType, Side


async def test_rate_limit_is_waited_out_within_budget() -> None:
    # the client limiter is deliberately looser than the exchange (paper: 2/s)
    async with rig(mode="paper", client_rate=50, rate_budget_seconds=10.0) as r:
        symbols = r.market.symbols()[:6]
        got = await r.broker.get_quotes(symbols)
        assert set(got) == set(symbols)
        counters = r.gateway.counters()
        assert counters["rate_limited"] > 0          # EGW00201 was met and retried
        assert counters["max_requests_per_second"] <= 2


async def test_rate_limit_past_budget_raises_rate_limited() -> None:
    async with rig(mode="paper", client_rate=50, rate_budget_seconds=0.0) as r:
        with pytest.raises(RateLimited):
            await asyncio.gather(*(r.broker.get_balance() for _ in range(5)))


async def test_expired_token_is_reissued_once_and_call_retried() -> None:
    xcfg = ExchangeConfig(mode="real", reissue_seconds=0.0)
    async with rig(exchange=xcfg) as r:
        symbol = r.market.symbols()[0]
        await r.broker.get_quotes([symbol])
        await r.admin("POST", "tokens/expire")
        got = await r.broker.get_quotes([symbol])
        assert symbol in got
        assert r.gateway.counters()["tokens_issued"] == {APPKEY: 2}
        assert r.tokens.issued == 2


async def test_token_reissue_within_a_minute_is_throttled() -> None:
    async with rig() as r:
        await r.broker.authenticate()
        await r.admin("POST", "tokens/expire")
        with pytest.raises(AuthError, match="EGW00133"):
            await r.broker.get_balance()
        body = {"grant_type": "client_credentials", "appkey": APPKEY, "appsecret": APPSECRET}
        async with r.session.post(r.base_url + "/oauth2/tokenP", json=body) as resp:
            assert resp.status == 403
            assert (await resp.json())["error_code"] == "EGW00133"
        assert r.gateway.counters()["tokens_issued"] == {APPKEY: 1}


async def test_valid_token_request_returns_the_same_token() -> None:
    async with rig() as r:
        body = {"grant_type": "client_credentials", "appkey": APPKEY, "appsecret": APPSECRET}
        tokens = []
        for _ in range(2):
            async with r.session.post(r.base_url + "/oauth2/tokenP", json=body) as resp:
                assert resp.status == 200
                tokens.append((await resp.json())["access_token"])
        assert tokens[0] == tokens[1]
        assert r.gateway.counters()["tokens_issued"] == {APPKEY: 1}


async def test_dropped_order_response_is_ambiguous_and_order_exists_once() -> None:
    async with rig() as r:
        symbol = r.market.symbols()[2]
        q = r.market.quote(symbol)
        await r.admin("POST", "faults", {"operation": "place_order",
                                         "kind": "drop_after_accept", "count": 1})
        since = r.clock.now() - timedelta(seconds=1)
        with pytest.raises(AmbiguousOrderOutcome):
            await r.broker.place_order(OrderRequest("amb", symbol, Side.BUY, OrderType.LIMIT,
                                                    2, q.lower_limit))
        assert r.gateway.counters()["orders_per_symbol"] == {symbol: 1}
        found = await r.broker.find_orders(r.clock.now().date(), symbol, Side.BUY, since)
        assert len(found) == 1 and found[0].qty == 2


async def test_order_post_timeout_and_5xx_are_ambiguous_never_resent() -> None:
    async with rig(timeout_seconds=1.0) as r:
        symbol = r.market.symbols()[2]
        q = r.market.quote(symbol)
        req = OrderRequest("t", symbol, Side.BUY, OrderType.LIMIT, 1, q.lower_limit)
        await r.admin("POST", "faults", {"operation": "place_order", "kind": "timeout",
                                         "delay": 2.0, "count": 1})
        with pytest.raises(AmbiguousOrderOutcome):
            await r.broker.place_order(req)
        await r.admin("POST", "faults", {"operation": "place_order", "kind": "error",
                                         "count": 1})
        with pytest.raises(AmbiguousOrderOutcome):
            await r.broker.place_order(req)
        assert r.gateway.counters()["orders_per_symbol"] == {}


async def test_read_timeout_and_5xx_map_to_broker_errors() -> None:
    async with rig(timeout_seconds=1.0) as r:
        symbol = r.market.symbols()[0]
        await r.admin("POST", "faults", {"operation": "get_balance", "kind": "timeout",
                                         "delay": 2.0, "count": 1})
        with pytest.raises(BrokerTimeout):
            await r.broker.get_balance()
        await r.admin("POST", "faults", {"operation": "get_buyable_qty", "kind": "error",
                                         "count": 1})
        with pytest.raises(BrokerUnavailable):
            await r.broker.get_buyable_qty(symbol, None)
        await r.admin("POST", "faults", {"operation": "get_balance", "kind": "latency",
                                         "delay": 0.1, "count": 1})
        assert (await r.broker.get_balance()).cash == r.market.balance().cash


async def test_unknown_order_cancel_is_rejected() -> None:
    async with rig() as r:
        with pytest.raises(OrderRejected) as info:
            await r.broker.cancel_order("0000099999", "00950")
        assert info.value.code == "APBK0404"


async def test_token_is_refreshed_ahead_of_its_stated_expiry() -> None:
    # tokens live 300 s here, inside the 10-minute refresh margin: each get() renews
    xcfg = ExchangeConfig(mode="real", token_ttl_seconds=300, same_token_seconds=0.0,
                          reissue_seconds=0.0)
    async with rig(exchange=xcfg) as r:
        first = await r.tokens.get()
        expiry = r.tokens.expires_at
        second = await r.tokens.get()
        assert first != second and r.tokens.expires_at >= expiry
        assert r.gateway.counters()["tokens_issued"] == {APPKEY: 2}


async def test_same_token_handed_back_is_not_asked_for_again_at_once() -> None:
    xcfg = ExchangeConfig(mode="real", token_ttl_seconds=300)   # same token for 6 h
    async with rig(exchange=xcfg) as r:
        first = await r.tokens.get()
        assert await r.tokens.get() == first
        assert await r.tokens.get() == first
        counters = r.gateway.counters()
        assert counters["tokens_issued"] == {APPKEY: 1}
        assert counters["token_requests"] == 2      # the third get() did not ask again


async def test_order_posts_past_the_paper_limit_are_resent_and_each_placed_once() -> None:
    # the client limiter is looser than the exchange (paper: 2/s): the gateway refuses two of
    # the four with EGW00201 before the order system sees them; they are resent, not lost
    async with rig(mode="paper", client_rate=50) as r:
        symbol = r.market.symbols()[2]
        low = r.market.quote(symbol).lower_limit
        await r.broker.authenticate()
        cfg = replace(r.config, order_rate_limit_retries=5, order_rate_limit_budget_seconds=3.0)
        broker = KisBroker(cfg, r.session, r.tokens, SlidingWindowRateLimiter(50), clock=r.clock)
        acks = await asyncio.gather(
            *(broker.place_order(OrderRequest(f"o{n}", symbol, Side.BUY, OrderType.LIMIT,
                                              1, low)) for n in range(4)))
        counters = r.gateway.counters()
        assert counters["rate_limited"] > 0
        assert counters["orders_per_symbol"] == {symbol: 4}
        assert len({a.broker_order_id for a in acks}) == 4
