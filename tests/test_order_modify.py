"""Order modify (정정): the engine, the simulator's order-rvsecncl 01, KisBroker over real HTTP
on loopback, and the in-process SimBroker. Expected values come from the book and account."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.kis_harness import Rig, rig

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.kis.tr_ids import ORDER_MODIFY, for_mode
from tradefleet.adapters.sim import ticks
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig
from tradefleet.adapters.sim.orders import BAD_ORDER, NOTHING_TO_MODIFY, OFF_TICK
from tradefleet.domain.errors import AmbiguousOrderOutcome, OrderRejected
from tradefleet.domain.orders import OrderAck, OrderRequest, OrderType, Side
from tradefleet.ports.broker import BrokerPort

_R = "/uapi/domestic-stock/v1/trading/"


def _liquid(market: SimMarket, min_depth: int = 5) -> str:
    """A symbol with a two-sided book, depth for ``min_depth`` shares a level, and a tick
    above 1 won (so an off-tick price exists)."""
    u = market.universe
    for i, s in enumerate(u.symbols):
        q = market.quote(s)
        if not u.thin[i] and u.depth[i] >= min_depth and q.bid > q.lower_limit \
                and q.ask > 0 and q.bid >= 2_000:
            return s
    raise AssertionError("no liquid symbol in the universe")


def _depth(market: SimMarket, symbol: str) -> int:
    return int(market.universe.depth[market.symbols().index(symbol)])


def _resting_buy(qty: int, symbol: str, price: int, cid: str = "c1") -> OrderRequest:
    return OrderRequest(cid, symbol, Side.BUY, OrderType.LIMIT, qty, price)


async def _headers(r: Rig, tr_id: str) -> dict[str, str]:
    return {"authorization": f"Bearer {await r.tokens.get()}", "appkey": r.config.appkey,
            "appsecret": r.config.appsecret, "tr_id": for_mode(tr_id, r.config.mode),
            "custtype": "P"}


async def _ccld_rows(r: Rig) -> list[dict[str, str]]:
    """Today's raw daily-ccld rows (one page is enough here), to read ``orgn_odno``."""
    d = r.clock.now().strftime("%Y%m%d")
    params = {"CANO": r.config.cano, "ACNT_PRDT_CD": r.config.product_code,
              "INQR_STRT_DT": d, "INQR_END_DT": d, "SLL_BUY_DVSN_CD": "00", "CCLD_DVSN": "00"}
    async with r.session.get(r.base_url + _R + "inquire-daily-ccld", params=params,
                             headers=await _headers(r, "TTTC0081R")) as resp:
        data = await resp.json()
    assert data["rt_cd"] == "0", data
    return data["output1"]


async def _post_rvsecncl(r: Rig, body: dict[str, str]) -> dict[str, Any]:
    async with r.session.post(r.base_url + _R + "order-rvsecncl", json=body,
                              headers=await _headers(r, "TTTC0013U")) as resp:
        assert resp.status == 200
        return await resp.json()


def _modify_body(r: Rig, ack: OrderAck, **fields: str) -> dict[str, str]:
    return {"CANO": r.config.cano, "ACNT_PRDT_CD": r.config.product_code,
            "KRX_FWDG_ORD_ORGNO": ack.broker_branch or "", "ORGN_ODNO": ack.broker_order_id,
            "ORD_DVSN": "00", "RVSE_CNCL_DVSN_CD": "01", "ORD_QTY": "0", "ORD_UNPR": "0",
            "QTY_ALL_ORD_YN": "Y", "EXCG_ID_DVSN_CD": "KRX", **fields}


# ---- KisBroker over HTTP ---------------------------------------------------------------------
async def test_modify_resting_buy_to_crossing_price_fills_under_the_new_odno() -> None:
    async with rig() as r:
        assert isinstance(r.broker, BrokerPort)
        symbol = _liquid(r.market)
        q = r.market.quote(symbol)
        qty = min(4, _depth(r.market, symbol))
        ack = await r.broker.place_order(_resting_buy(qty, symbol, q.lower_limit))
        cash_before = r.market.balance().cash + qty * q.lower_limit    # before the hold

        new = await r.broker.modify_order(ack.broker_order_id, ack.broker_branch, price=q.ask)

        assert new.broker_order_id != ack.broker_order_id
        assert new.broker_branch == ack.broker_branch and new.accepted_at.tzinfo is not None
        day = r.clock.now().date()
        filled = await r.broker.get_order(new.broker_order_id, day)
        assert filled == r.market.report(new.broker_order_id)
        assert filled is not None
        assert (filled.qty, filled.filled_qty, filled.filled_amount, filled.remaining_qty) == \
            (qty, qty, qty * q.ask, 0)
        orig = await r.broker.get_order(ack.broker_order_id, day)
        assert orig is not None
        assert (orig.filled_qty, orig.cancelled_qty, orig.remaining_qty) == (0, qty, 0)
        assert r.market.balance().cash == cash_before - qty * q.ask   # old hold released
        rows = {row["odno"]: row for row in await _ccld_rows(r)}
        assert rows[new.broker_order_id]["orgn_odno"] == ack.broker_order_id
        assert rows[new.broker_order_id]["ord_unpr"] == str(q.ask)
        assert rows[ack.broker_order_id]["orgn_odno"] == ""
        assert r.gateway.counters()["modifies_per_symbol"] == {symbol: 1}
        assert r.gateway.counters()["orders_per_symbol"] == {symbol: 1}


async def test_partial_modify_moves_only_the_given_qty_and_reserves_the_difference() -> None:
    async with rig() as r:
        symbol = _liquid(r.market)
        q = r.market.quote(symbol)
        cash = r.market.balance().cash
        ack = await r.broker.place_order(_resting_buy(5, symbol, q.lower_limit))
        new = await r.broker.modify_order(ack.broker_order_id, ack.broker_branch, price=q.bid,
                                          qty=2)      # at the bid: rests, does not cross
        orig = r.market.report(ack.broker_order_id)
        moved = r.market.report(new.broker_order_id)
        assert orig is not None and moved is not None
        assert (orig.qty, orig.cancelled_qty, orig.remaining_qty) == (5, 2, 3)
        assert (moved.qty, moved.filled_qty, moved.remaining_qty) == (2, 0, 2)
        assert r.market.balance().cash == cash - 3 * q.lower_limit - 2 * q.bid
        rows = {row["odno"]: row for row in await _ccld_rows(r)}
        assert rows[new.broker_order_id]["orgn_odno"] == ack.broker_order_id
        assert rows[new.broker_order_id]["ord_qty"] == "2"
        assert rows[ack.broker_order_id]["rmn_qty"] == "3"
        # the original's rest can still be modified (QTY_ALL_ORD_YN=Y: all 3 left)
        last = await r.broker.modify_order(ack.broker_order_id, ack.broker_branch, price=q.bid)
        assert r.market.report(last.broker_order_id).qty == 3
        assert r.market.report(ack.broker_order_id).remaining_qty == 0


async def test_modify_of_a_filled_cancelled_or_unknown_order_is_rejected() -> None:
    async with rig() as r:
        symbol = _liquid(r.market)
        q = r.market.quote(symbol)
        done = await r.broker.place_order(OrderRequest("m", symbol, Side.BUY,
                                                       OrderType.MARKET, 1))
        assert r.market.report(done.broker_order_id).remaining_qty == 0
        with pytest.raises(OrderRejected) as filled:
            await r.broker.modify_order(done.broker_order_id, done.broker_branch, price=q.bid)
        assert filled.value.code == NOTHING_TO_MODIFY == "APBK0415"
        gone = await r.broker.place_order(_resting_buy(1, symbol, q.lower_limit, "g"))
        await r.broker.cancel_order(gone.broker_order_id, gone.broker_branch)
        with pytest.raises(OrderRejected) as cancelled:
            await r.broker.modify_order(gone.broker_order_id, gone.broker_branch, price=q.bid)
        assert cancelled.value.code == "APBK0415"
        with pytest.raises(OrderRejected) as unknown:
            await r.broker.modify_order("0000099999", "00950", price=q.bid)
        assert unknown.value.code == "APBK0404"
        assert r.gateway.counters()["modifies_per_symbol"] == {}


async def test_modify_outside_hours_is_apbk0918_and_changes_nothing() -> None:
    async with rig() as r:
        symbol = _liquid(r.market)
        q = r.market.quote(symbol)
        ack = await r.broker.place_order(_resting_buy(2, symbol, q.lower_limit))
        r.clock.set(datetime.combine(r.clock.now().date(), time(15, 40), tzinfo=SEOUL))
        with pytest.raises(OrderRejected) as info:
            await r.broker.modify_order(ack.broker_order_id, ack.broker_branch, price=q.bid)
        assert info.value.code == "APBK0918"
        assert len(r.market.find(symbol, Side.BUY, r.clock.now() - timedelta(hours=8))) == 1


async def test_modify_to_a_bad_tick_or_beyond_limits_or_cash_is_rejected() -> None:
    async with rig() as r:
        symbol = _liquid(r.market)
        q = r.market.quote(symbol)
        ack = await r.broker.place_order(_resting_buy(2, symbol, q.lower_limit))
        off_tick = q.bid + 1
        assert not ticks.is_valid_tick(off_tick)
        above = q.upper_limit + int(ticks.tick_of([q.upper_limit])[0])
        for price, code in ((off_tick, OFF_TICK), (above, BAD_ORDER)):
            with pytest.raises(OrderRejected) as info:
                await r.broker.modify_order(ack.broker_order_id, ack.broker_branch,
                                            price=price)
            assert info.value.code == code
            assert "limit_price" in info.value.message
        with pytest.raises(OrderRejected) as too_many:
            await r.broker.modify_order(ack.broker_order_id, ack.broker_branch, price=q.bid,
                                        qty=3)
        assert too_many.value.code == BAD_ORDER
        # spend the rest of the cash on a second resting buy, then ask for a higher price
        free = r.market.balance().cash
        big_qty = free // q.lower_limit
        big = await r.broker.place_order(_resting_buy(big_qty, symbol, q.lower_limit, "big"))
        extra = big_qty * (q.bid - q.lower_limit)
        assert extra > r.market.balance().cash
        with pytest.raises(OrderRejected) as cash:
            await r.broker.modify_order(big.broker_order_id, big.broker_branch, price=q.bid)
        assert cash.value.code == "APBK0952"
        for odno, qty in ((ack.broker_order_id, 2), (big.broker_order_id, big_qty)):
            report = r.market.report(odno)
            assert (report.remaining_qty, report.cancelled_qty) == (qty, 0)
        assert r.market.balance().cash == free - big_qty * q.lower_limit
        assert r.gateway.counters()["modifies_per_symbol"] == {}


def _memory_exporter() -> InMemorySpanExporter:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        trace.set_tracer_provider(TracerProvider())
        provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


async def test_paper_mode_sends_vttc0013u_and_answers_in_paper_codes() -> None:
    exporter = _memory_exporter()
    xcfg = ExchangeConfig(mode="paper", rate_limit_per_second=1000)
    async with rig(mode="paper", exchange=xcfg, client_rate=1000) as r:
        symbol = _liquid(r.market)
        q = r.market.quote(symbol)
        ack = await r.broker.place_order(_resting_buy(2, symbol, q.lower_limit))
        new = await r.broker.modify_order(ack.broker_order_id, ack.broker_branch, price=q.bid)
        assert r.market.report(new.broker_order_id).qty == 2
        sent = [s.attributes["kis.tr_id"] for s in exporter.get_finished_spans()
                if s.kind is trace.SpanKind.CLIENT
                and str(s.attributes.get("url.path", "")).endswith("order-rvsecncl")]
        assert sent == ["VTTC0013U"] == [for_mode(ORDER_MODIFY[1], "paper")]
        r.clock.set(datetime.combine(r.clock.now().date(), time(15, 40), tzinfo=SEOUL))
        with pytest.raises(OrderRejected) as closed:
            await r.broker.modify_order(new.broker_order_id, new.broker_branch, price=q.bid)
        assert closed.value.code == "40580000"


async def test_modify_answer_dropped_after_accept_is_ambiguous_and_not_resent() -> None:
    async with rig() as r:
        symbol = _liquid(r.market)
        q = r.market.quote(symbol)
        since = r.clock.now()
        ack = await r.broker.place_order(_resting_buy(3, symbol, q.lower_limit))
        await r.admin("POST", "faults", {"operation": "modify_order",
                                         "kind": "drop_after_accept", "count": 1})
        with pytest.raises(AmbiguousOrderOutcome):
            await r.broker.modify_order(ack.broker_order_id, ack.broker_branch, price=q.bid)
        assert r.gateway.counters()["modifies_per_symbol"] == {symbol: 1}
        orders = r.market.find(symbol, Side.BUY, since)
        assert len(orders) == 2                                  # the original + one new
        new = next(o for o in orders if o.broker_order_id != ack.broker_order_id)
        assert (new.qty, new.remaining_qty) == (3, 3)
        assert r.market.report(ack.broker_order_id).cancelled_qty == 3
        linked = [row for row in await _ccld_rows(r)
                  if row["orgn_odno"] == ack.broker_order_id]
        assert [row["odno"] for row in linked] == [new.broker_order_id]


async def test_order_rvsecncl_modify_to_market_crosses_as_ioc_and_validates_fields() -> None:
    async with rig() as r:
        symbol = _liquid(r.market)
        q = r.market.quote(symbol)
        depth = _depth(r.market, symbol)
        qty = depth + 2                           # more than the best ask level holds
        ack = await r.broker.place_order(_resting_buy(qty, symbol, q.lower_limit))
        for bad, field in (({"QTY_ALL_ORD_YN": "X"}, "QTY_ALL_ORD_YN"),
                           ({"QTY_ALL_ORD_YN": "N", "ORD_QTY": "0"}, "ORD_QTY"),
                           ({"ORD_DVSN": "03"}, "ORD_DVSN"),
                           ({"RVSE_CNCL_DVSN_CD": "03"}, "RVSE_CNCL_DVSN_CD")):
            data = await _post_rvsecncl(r, _modify_body(r, ack, **bad))
            assert data["rt_cd"] != "0" and field in data["msg1"], data
        data = await _post_rvsecncl(r, _modify_body(r, ack, ORD_DVSN="01"))
        assert data["rt_cd"] == "0" and data["msg_cd"] == "APBK0013", data
        out = data["output"]
        assert out["KRX_FWDG_ORD_ORGNO"] == ack.broker_branch
        assert out["ORD_TMD"] == r.clock.now().strftime("%H%M%S")
        report = r.market.report(out["ODNO"])
        walk_fills = [(q.ask, depth), *[(p, n) for p, n in _levels_above(q.ask, depth,
                                                                           qty - depth)]]
        assert report.filled_qty == sum(n for _, n in walk_fills)
        assert report.filled_amount == sum(p * n for p, n in walk_fills)
        assert report.remaining_qty == 0
        assert report.filled_qty + report.cancelled_qty == qty


def _levels_above(ask: int, depth: int, rest: int) -> list[tuple[int, int]]:
    """Fills a market buy takes beyond the best ask: ``depth`` shares a tick further up."""
    fills, price = [], ask
    while rest > 0:
        price += int(ticks.tick_of([price])[0])
        fills.append((price, min(depth, rest)))
        rest -= min(depth, rest)
    return fills


# ---- engine and in-process SimBroker --------------------------------------------------------
def _sim() -> tuple[SimBroker, SimMarket]:
    clock = FrozenClock(datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL))
    market = SimMarket(21, n_symbols=50, clock=clock)
    return SimBroker(market), market


async def test_sim_broker_modify_crosses_and_drop_after_accept_is_ambiguous() -> None:
    broker, market = _sim()
    assert isinstance(broker, BrokerPort)
    symbol = _liquid(market)
    q = market.quote(symbol)
    qty = min(3, _depth(market, symbol))
    ack = await broker.place_order(_resting_buy(qty, symbol, q.lower_limit))
    new = await broker.modify_order(ack.broker_order_id, ack.broker_branch, price=q.ask)
    report = await broker.get_order(new.broker_order_id, market.day)
    assert report is not None
    assert (report.filled_qty, report.filled_amount) == (qty, qty * q.ask)
    assert new.client_order_id == ""
    with pytest.raises(OrderRejected) as info:
        await broker.modify_order(new.broker_order_id, new.broker_branch, price=q.bid)
    assert info.value.code == "APBK0415"

    again = await broker.place_order(_resting_buy(2, symbol, q.lower_limit, "c2"))
    market.faults.set("modify_order", "drop_after_accept", count=1)
    before = len(market.find(symbol, Side.BUY, again.accepted_at))
    with pytest.raises(AmbiguousOrderOutcome):
        await broker.modify_order(again.broker_order_id, again.broker_branch, price=q.bid,
                                  qty=1)
    after = market.find(symbol, Side.BUY, again.accepted_at)
    assert len(after) == before + 1
    assert market.report(again.broker_order_id).remaining_qty == 1


def test_engine_modify_of_a_resting_sell_and_to_market() -> None:
    _, market = _sim()
    symbol = _liquid(market)
    q = market.quote(symbol)
    market.submit(OrderRequest("b", symbol, Side.BUY, OrderType.MARKET, 2))
    sell = market.submit(OrderRequest("s", symbol, Side.SELL, OrderType.LIMIT, 2,
                                      q.upper_limit))
    moved = market.modify(sell.broker_order_id, price=None, qty=1, all_qty=False,
                          order_type=OrderType.MARKET)
    report = market.report(moved.broker_order_id)
    assert (report.side, report.qty, report.filled_qty, report.filled_amount) == \
        (Side.SELL, 1, 1, q.bid)
    rest = market.modify(sell.broker_order_id, price=q.bid, all_qty=True)
    assert market.report(rest.broker_order_id).filled_amount == q.bid
    assert market.balance().holdings == ()
    with pytest.raises(OrderRejected) as info:
        market.modify(sell.broker_order_id, price=q.bid)
    assert info.value.code == "APBK0415"
