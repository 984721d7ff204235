"""EGW00201 on an order POST: the gateway refused it before the order system saw it, so the
adapter resends the same request within a bounded budget, and past it raises RateLimited
(definite: nothing at the exchange), never AmbiguousOrderOutcome. Over real HTTP."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from tests.gateway_probe import CASH, RVSE, GatewayProbe, probed

from tradefleet.adapters.kis.client import KisConfig
from tradefleet.domain.errors import AmbiguousOrderOutcome, RateLimited
from tradefleet.domain.orders import OrderRequest, OrderType, Side


def _limit_buy(ex: GatewayProbe, cid: str, n: int = 3) -> OrderRequest:
    symbol = ex.market.symbols()[n]
    return OrderRequest(cid, symbol, Side.BUY, OrderType.LIMIT, 2, ex.market.quote(symbol)
                        .lower_limit)


async def test_rate_limited_order_is_resent_unchanged_and_placed_once() -> None:
    async with probed() as r:                        # defaults: 3 resends within 1.5 s
        req = _limit_buy(r.ex, "once")
        # the gateway answers EGW00201 to the first two sends (its real answer, no slot taken)
        rule = await r.fault(operation="place_order", kind="rate_limit", count=2)
        ack = await r.broker.place_order(req)
        bodies = r.ex.bodies(CASH)
        assert len(bodies) == 3                      # refused twice, then placed
        assert all(b == bodies[0] for b in bodies)   # the very same request each time
        assert bodies[0]["PDNO"] == req.symbol and bodies[0]["ORD_QTY"] == "2"
        assert (await r.fired())[rule] == 2
        assert r.ex.gateway_counters()["orders_per_symbol"] == {req.symbol: 1}
        found = await r.broker.find_orders(r.ex.clock.now().date(), req.symbol, Side.BUY,
                                           r.ex.clock.now() - timedelta(minutes=1))
        assert [f.broker_order_id for f in found] == [ack.broker_order_id]


async def test_persistent_rate_limit_on_order_is_rate_limited_and_nothing_placed() -> None:
    async with probed() as r:                        # defaults: 3 resends within 1.5 s
        req = _limit_buy(r.ex, "never")
        rule = await r.fault(operation="place_order", kind="rate_limit")    # every send
        with pytest.raises(RateLimited, match="nothing reached the exchange") as info:
            await r.broker.place_order(req)
        assert not isinstance(info.value, AmbiguousOrderOutcome)
        bodies = r.ex.bodies(CASH)
        assert 2 <= len(bodies) <= 4 and all(b == bodies[0] for b in bodies)
        assert (await r.fired())[rule] == len(bodies)
        assert r.ex.gateway_counters()["orders_per_symbol"] == {}
        assert await r.broker.find_orders(r.ex.clock.now().date(), req.symbol, Side.BUY,
                                          r.ex.clock.now() - timedelta(minutes=1)) == []


async def test_rate_limited_modify_and_cancel_are_resent_or_definite() -> None:
    async with probed() as r:
        req = _limit_buy(r.ex, "m")
        ack = await r.broker.place_order(req)
        await r.fault(operation="modify_order", kind="rate_limit", count=1)
        bid = r.ex.market.quote(req.symbol).bid            # rests there, does not cross
        new = await r.broker.modify_order(ack.broker_order_id, ack.broker_branch, price=bid)
        modifies = r.ex.bodies(RVSE)
        assert len(modifies) == 2 and modifies[0] == modifies[1]
        assert r.ex.gateway_counters()["modifies_per_symbol"] == {req.symbol: 1}
        await r.fault(operation="cancel_order", kind="rate_limit", count=100)
        with pytest.raises(RateLimited, match="nothing reached the exchange"):
            await r.broker.cancel_order(new.broker_order_id, new.broker_branch)
        cancels = r.ex.bodies(RVSE)[2:]
        assert 2 <= len(cancels) <= 4 and all(b == cancels[0] for b in cancels)
        still = r.ex.market.report(new.broker_order_id)
        assert still is not None and still.remaining_qty == 2 and still.cancelled_qty == 0
        await r.admin("DELETE", "faults")
        await r.broker.cancel_order(new.broker_order_id, new.broker_branch)
        done = r.ex.market.report(new.broker_order_id)
        assert done is not None and done.cancelled_qty == 2


async def test_order_post_timing_out_after_a_rate_limit_refusal_is_ambiguous() -> None:
    async with probed(timeout_seconds=1.0) as r:
        req = _limit_buy(r.ex, "t")
        # refused first (EGW00201, definite), then the resend reaches the order system and
        # its answer never comes: that one may have been placed
        await r.fault(operation="place_order", kind="rate_limit", count=1)
        await r.fault(operation="place_order", kind="timeout", delay=2.0, count=1)
        with pytest.raises(AmbiguousOrderOutcome):
            await r.broker.place_order(req)
        assert len(r.ex.bodies(CASH)) == 2


async def test_order_post_timeout_and_other_5xx_stay_ambiguous() -> None:
    async with probed(timeout_seconds=1.0) as r:
        req = _limit_buy(r.ex, "a")
        await r.fault(operation="place_order", kind="timeout", delay=2.0, count=1)
        with pytest.raises(AmbiguousOrderOutcome):
            await r.broker.place_order(req)
        await r.fault(operation="place_order", kind="error", count=1)
        with pytest.raises(AmbiguousOrderOutcome):
            await r.broker.place_order(req)
        assert len(r.ex.bodies(CASH)) == 2           # each sent once, never resent
        await r.fault(operation="place_order", kind="drop_after_accept", count=1)
        with pytest.raises(AmbiguousOrderOutcome):
            await r.broker.place_order(req)
        assert len(r.ex.bodies(CASH)) == 3
        assert r.ex.gateway_counters()["orders_per_symbol"] == {req.symbol: 1}


async def test_reads_past_the_wait_budget_still_raise_rate_limited() -> None:
    async with probed(mode="paper", client_rate=50, rate_limit_budget_seconds=0.0) as r:
        results = await asyncio.gather(*(r.broker.get_balance() for _ in range(5)),
                                       return_exceptions=True)
        assert any(isinstance(x, RateLimited) for x in results)
        assert not any(isinstance(x, AmbiguousOrderOutcome) for x in results)


def test_order_rate_limit_settings_are_checked() -> None:
    base = {"base_url": "http://x", "appkey": "k", "appsecret": "s", "cano": "12345678"}
    with pytest.raises(ValueError, match="order_rate_limit_retries"):
        KisConfig(**base, order_rate_limit_retries=-1)
    with pytest.raises(ValueError, match="order_rate_limit_budget_seconds"):
        KisConfig(**base, order_rate_limit_budget_seconds=float("nan"))


async def test_resend_waits_for_the_budget_only_within_the_resend_budget() -> None:
    # one request a second on our side: the refused POST keeps its place a second past its
    # answer, longer than the 0.5 s resend budget, so the resend is never sent
    async with probed(client_rate=1, order_rate_limit_retries=1,
                      order_rate_limit_budget_seconds=0.5) as r:
        req = _limit_buy(r.ex, "late")
        await r.fault(operation="place_order", kind="rate_limit", count=1)
        with pytest.raises(RateLimited, match="no request budget granted in time"):
            await r.broker.place_order(req)
        assert len(r.ex.bodies(CASH)) == 1
        assert r.ex.gateway_counters()["orders_per_symbol"] == {}
