"""KisBroker over real HTTP against the KIS-dialect simulator: every endpoint, real mode."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta

import pytest
from tests.kis_harness import rig

from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.kis.broker import in_process_kis_broker
from tradefleet.domain.errors import AmbiguousOrderOutcome, OrderRejected
from tradefleet.domain.orders import OrderRequest, OrderType, Side
from tradefleet.ports.broker import BrokerPort


def _same_quote(a, b) -> None:  # noqa: ANN001
    for field in ("symbol", "price", "volume", "traded_value", "change_rate", "open", "high",
                  "low", "prev_high", "prev_low", "prev_close", "ask", "bid", "upper_limit",
                  "lower_limit"):
        assert getattr(a, field) == getattr(b, field), field


async def test_broker_implements_port_and_authenticates() -> None:
    async with rig() as r:
        assert isinstance(r.broker, BrokerPort)
        expiry = await r.broker.authenticate()
        assert expiry is not None and expiry.tzinfo is not None
        assert expiry > datetime.now(SEOUL) + timedelta(hours=23)
        await r.broker.authenticate()
        assert r.gateway.counters()["tokens_issued"] == {r.config.appkey: 1}


async def test_quotes_real_mode_batch_multprice_by_30() -> None:
    async with rig(n_symbols=40) as r:
        symbols = r.market.symbols()[:35] + ["999999"]
        got = await r.broker.get_quotes(symbols)
        want = r.market.quotes(symbols)
        assert set(got) == set(want) == set(symbols[:35])
        for s in want:
            _same_quote(got[s], want[s])


async def test_minute_bars_paged_back_by_hour() -> None:
    async with rig(at=time(10, 30)) as r:
        symbol = r.market.symbols()[0]
        got = await r.broker.get_minute_bars(symbol, 75)
        want = r.market.minute_bars(symbol, 75)
        assert len(want) == 75
        assert got == want


async def test_limit_order_report_find_and_cancel() -> None:
    async with rig() as r:
        symbol = r.market.symbols()[3]
        q = r.market.quote(symbol)
        ack = await r.broker.place_order(OrderRequest("c1", symbol, Side.BUY, OrderType.LIMIT,
                                                      5, q.lower_limit))
        assert ack.broker_branch and ack.accepted_at.tzinfo is not None
        report = await r.broker.get_order(ack.broker_order_id, r.clock.now().date())
        assert report == r.market.report(ack.broker_order_id)
        assert report is not None and report.remaining_qty == 5
        found = await r.broker.find_orders(r.clock.now().date(), symbol, Side.BUY,
                                           r.clock.now() - timedelta(minutes=1))
        assert [f.broker_order_id for f in found] == [ack.broker_order_id]
        assert await r.broker.find_orders(r.clock.now().date(), symbol, Side.SELL,
                                          r.clock.now() - timedelta(minutes=1)) == []
        await r.broker.cancel_order(ack.broker_order_id, ack.broker_branch)
        after = await r.broker.get_order(ack.broker_order_id, r.clock.now().date())
        assert after is not None and after.cancelled_qty == 5 and after.remaining_qty == 0


async def test_market_buy_fill_balance_and_buyable() -> None:
    async with rig() as r:
        symbol = r.market.symbols()[5]
        want_market = r.market.buyable_qty(symbol, None)
        assert await r.broker.get_buyable_qty(symbol, None) == want_market
        price = r.market.quote(symbol).price
        assert await r.broker.get_buyable_qty(symbol, price) == \
            r.market.buyable_qty(symbol, price)
        ack = await r.broker.place_order(OrderRequest("m1", symbol, Side.BUY,
                                                      OrderType.MARKET, 3))
        report = await r.broker.get_order(ack.broker_order_id, r.clock.now().date())
        assert report == r.market.report(ack.broker_order_id)
        bal = await r.broker.get_balance()
        want = r.market.balance()
        assert bal.cash == want.cash
        assert [(h.symbol, h.qty) for h in bal.holdings] == \
            [(h.symbol, h.qty) for h in want.holdings]
        for got_h, want_h in zip(bal.holdings, want.holdings, strict=True):
            assert abs(got_h.avg_price - want_h.avg_price) < 1


async def test_business_rejections_are_order_rejected() -> None:
    async with rig() as r:
        symbol = r.market.symbols()[1]
        q = r.market.quote(symbol)
        too_many = r.market.buyable_qty(symbol, q.upper_limit) + 1
        try:
            await r.broker.place_order(OrderRequest("x", symbol, Side.BUY, OrderType.LIMIT,
                                                    too_many, q.upper_limit))
            raise AssertionError("expected OrderRejected")
        except OrderRejected as exc:
            assert exc.code == "APBK0952"
        r.clock.set(datetime.combine(r.clock.now().date(), time(15, 45), tzinfo=SEOUL))
        try:
            await r.broker.place_order(OrderRequest("y", symbol, Side.BUY, OrderType.LIMIT,
                                                    1, q.lower_limit))
            raise AssertionError("expected OrderRejected")
        except OrderRejected as exc:
            assert exc.code == "APBK0918"
        assert r.gateway.counters()["orders_per_symbol"] == {}


async def test_cancel_of_a_filled_order_is_a_no_op() -> None:
    async with rig() as r:
        symbol = r.market.symbols()[6]
        ack = await r.broker.place_order(OrderRequest("f", symbol, Side.BUY, OrderType.MARKET,
                                                      1))
        before = r.market.report(ack.broker_order_id)
        assert before is not None and before.remaining_qty == 0
        await r.broker.cancel_order(ack.broker_order_id, ack.broker_branch)
        assert r.market.report(ack.broker_order_id) == before


async def test_client_limiter_keeps_under_the_real_budget() -> None:
    async with rig(n_symbols=10) as r:
        await r.broker.authenticate()
        symbols = r.market.symbols()
        loop = asyncio.get_running_loop()
        started = loop.time()
        got = await asyncio.gather(*(r.broker.get_buyable_qty(symbols[n % 10], None)
                                     for n in range(45)))
        elapsed = loop.time() - started
        assert got == [r.market.buyable_qty(symbols[n % 10], None) for n in range(45)]
        counters = r.gateway.counters()
        assert counters["rate_limited"] == 0
        assert counters["max_requests_per_second"] <= 20
        assert elapsed >= 2.0           # 45 requests at 20 per sliding second


async def test_in_process_factory_and_no_secret_in_reprs_or_errors() -> None:
    async with rig() as r:
        broker = in_process_kis_broker(r.config, r.session, clock=r.clock)
        symbol = r.market.symbols()[0]
        assert symbol in await broker.get_quotes([symbol])
        token = await r.tokens.get()
        texts = [repr(r.config), repr(r.tokens._token)]
        await r.admin("POST", "faults", {"operation": "place_order", "kind": "error",
                                         "count": 1})
        with pytest.raises(AmbiguousOrderOutcome) as info:
            await broker.place_order(OrderRequest("s", symbol, Side.BUY, OrderType.MARKET, 1))
        texts.append(str(info.value))
        for text in texts:
            for secret in (r.config.appkey, r.config.appsecret, r.config.cano, token):
                assert secret not in text
