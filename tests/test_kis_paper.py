"""Paper (모의투자) mode: V-prefixed TRs, no real-only endpoints, small pages, paper codes."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from tests.kis_harness import rig

from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.kis.tr_ids import for_mode
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig
from tradefleet.domain.errors import OrderRejected
from tradefleet.domain.orders import OrderRequest, OrderType, Side


def test_paper_tr_ids_swap_first_letter() -> None:
    assert for_mode("TTTC8434R", "paper") == "VTTC8434R"
    assert for_mode("CTSC9215R", "paper") == "VTSC9215R"
    assert for_mode("FHKST01010100", "paper") == "FHKST01010100"
    assert for_mode("TTTC8434R", "real") == "TTTC8434R"
    with pytest.raises(ValueError, match="paper"):
        for_mode("FHKST11300006", "paper")


async def test_paper_quotes_take_price_and_orderbook_per_symbol() -> None:
    """Paper has no multprice and inquire-price has no book: the best bid/ask must come from
    the orderbook endpoint, or the spread filter would reject every symbol."""
    async with rig(mode="paper", client_rate=2) as r:
        symbols = r.market.symbols()[:3] + ["999999"]
        got = await r.broker.get_quotes(symbols)
        want = r.market.quotes(symbols)
        assert set(got) == set(want)
        for s in want:
            assert (got[s].price, got[s].upper_limit, got[s].ask, got[s].bid) == \
                (want[s].price, want[s].upper_limit, want[s].ask, want[s].bid)
            assert got[s].ask > got[s].bid > 0


async def test_daily_fills_paginate_with_paper_page_of_15() -> None:
    xcfg = ExchangeConfig(mode="paper", rate_limit_per_second=1000)
    async with rig(mode="paper", exchange=xcfg, client_rate=1000) as r:
        assert xcfg.fills_page_size == 15
        symbol = r.market.symbols()[4]
        low = r.market.quote(symbol).lower_limit
        since = r.clock.now() - timedelta(seconds=1)
        acks = []
        for n in range(23):
            acks.append(await r.broker.place_order(
                OrderRequest(f"p{n}", symbol, Side.BUY, OrderType.LIMIT, 1 + n % 3, low)))
        found = await r.broker.find_orders(r.clock.now().date(), symbol, Side.BUY, since)
        assert sorted(f.broker_order_id for f in found) == \
            sorted(a.broker_order_id for a in acks)
        assert sum(f.qty for f in found) == sum(1 + n % 3 for n in range(23))
        last = await r.broker.get_order(acks[0].broker_order_id, r.clock.now().date())
        assert last == r.market.report(acks[0].broker_order_id)


async def test_paper_after_close_code_and_real_only_endpoint_refused() -> None:
    async with rig(mode="paper", client_rate=2) as r:
        symbol = r.market.symbols()[0]
        low = r.market.quote(symbol).lower_limit
        r.clock.set(datetime.combine(r.clock.now().date(), time(15, 40), tzinfo=SEOUL))
        with pytest.raises(OrderRejected) as info:
            await r.broker.place_order(OrderRequest("z", symbol, Side.BUY, OrderType.LIMIT,
                                                    1, low))
        assert info.value.code == "40580000"
        token = await r.tokens.get()
        headers = {"authorization": f"Bearer {token}", "appkey": r.config.appkey,
                   "appsecret": r.config.appsecret, "tr_id": "FHKST11300006",
                   "custtype": "P"}
        url = r.base_url + "/uapi/domestic-stock/v1/quotations/intstock-multprice"
        async with r.session.get(url, headers=headers,
                                 params={"FID_INPUT_ISCD_1": symbol}) as resp:
            assert resp.status == 500
            assert (await resp.json())["rt_cd"] != "0"
        headers["tr_id"] = "TTTC8434R"            # a real TR on the paper server
        url = r.base_url + "/uapi/domestic-stock/v1/trading/inquire-balance"
        async with r.session.get(url, headers=headers) as resp:
            assert resp.status == 500


async def test_balance_paginates_with_paper_page_of_20() -> None:
    xcfg = ExchangeConfig(mode="paper", rate_limit_per_second=1000)
    async with rig(mode="paper", exchange=xcfg, client_rate=1000, n_symbols=30) as r:
        assert xcfg.balance_page_size == 20
        for n, symbol in enumerate(r.market.symbols()[:23]):
            await r.broker.place_order(OrderRequest(f"b{n}", symbol, Side.BUY,
                                                    OrderType.MARKET, 1))
        got = await r.broker.get_balance()
        want = r.market.balance()
        assert len(want.holdings) > 20
        assert [(h.symbol, h.qty) for h in got.holdings] == \
            [(h.symbol, h.qty) for h in want.holdings]
        assert got.cash == want.cash
