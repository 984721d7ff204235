"""One token a minute per appkey (EGW00133), this process's provider: a still-valid token is
used while a refresh is throttled, the refusal is remembered (nothing asked again inside the
window), and with no valid token callers get a dated AuthError instead of a hot loop.
Over real HTTP to the simulator, which throttles as KIS does."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import pytest
from tests.gateway_probe import CASH, probed
from tests.kis_harness import APPKEY

from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.kis.token_throttle import TokenIssueThrottled
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig
from tradefleet.domain.errors import AuthError
from tradefleet.domain.orders import OrderRequest, OrderType, Side

BALANCE = "trading/inquire-balance"


async def test_throttled_refresh_uses_the_still_valid_token_and_asks_once() -> None:
    # tokens live 5 min here, inside the 10-min refresh margin: every use wants a refresh,
    # and the simulator will not issue a new one within a minute of the first
    xcfg = ExchangeConfig(mode="real", token_ttl_seconds=300, same_token_seconds=0.0)
    async with probed(exchange=xcfg, authenticate=False) as r:
        first = await r.tokens.get()
        for _ in range(5):
            assert (await r.broker.get_balance()).cash == r.ex.market.balance().cash
        assert await r.tokens.get() == first
        counters = r.ex.gateway_counters()
        assert counters["tokens_issued"] == {APPKEY: 1}
        assert counters["token_requests"] == 2        # the refresh, refused once; remembered
        assert r.tokens.throttled == 1
        assert r.ex.calls(BALANCE) == 5


async def test_no_valid_token_and_throttled_reissue_is_a_dated_auth_error_no_hot_loop() -> None:
    async with probed() as r:                         # one token issued just now
        await r.admin("POST", "tokens/expire")        # revoked: the next call gets EGW00123
        asked_at = datetime.now(SEOUL)
        with pytest.raises(TokenIssueThrottled) as info:
            await r.broker.get_balance()
        err = info.value
        assert isinstance(err, AuthError) and "EGW00133" in str(err)
        assert err.retry_at is not None and err.retry_at.tzinfo is not None
        assert 55 <= (err.retry_at - asked_at).total_seconds() <= 61
        assert err.retry_at.isoformat(timespec="seconds") in str(err)
        assert r.ex.calls(BALANCE) == 1
        assert r.ex.gateway_counters()["token_requests"] == 2
        # later calls inside the window: refused here, nothing sent to the broker at all
        for _ in range(3):
            with pytest.raises(TokenIssueThrottled) as again:
                await r.broker.get_balance()
            assert abs((again.value.retry_at - err.retry_at).total_seconds()) < 0.1
        symbol = r.ex.market.symbols()[0]
        with pytest.raises(TokenIssueThrottled):
            await r.broker.place_order(OrderRequest("x", symbol, Side.BUY, OrderType.MARKET,
                                                    1))
        assert r.ex.calls(BALANCE) == 1 and r.ex.bodies(CASH) == []
        counters = r.ex.gateway_counters()
        assert counters["token_requests"] == 2 and counters["tokens_issued"] == {APPKEY: 1}


async def test_remembered_throttle_ends_with_its_window() -> None:
    xcfg = ExchangeConfig(mode="real", reissue_seconds=1.0)
    async with probed(exchange=xcfg, throttle_seconds=1.0) as r:
        await r.admin("POST", "tokens/expire")
        with pytest.raises(TokenIssueThrottled):
            await r.broker.get_balance()
        assert r.ex.gateway_counters()["token_requests"] == 2
        await asyncio.sleep(max(0.0, r.tokens._throttled_until - time.monotonic()) + 0.05)
        assert (await r.broker.get_balance()).cash == r.ex.market.balance().cash
        counters = r.ex.gateway_counters()
        assert counters["tokens_issued"] == {APPKEY: 2}
        assert counters["token_requests"] == 3
