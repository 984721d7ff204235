"""The exchange's own books (executions, holdings, symbols): served over ``/_admin/books``,
read back with ``books_client``, and checked against what a ``KisBroker`` client saw over
real HTTP and against the in-process ``SimMarket.books()``."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, time, timedelta
from decimal import Decimal

from tests.kis_harness import Rig, rig
from tests.test_order_modify import _depth, _liquid

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.exchange.books_client import (
    fetch_books,
    fetch_executions,
    fetch_holdings,
    fetch_symbols,
)
from tradefleet.adapters.sim.ledger import MARKETS, Execution
from tradefleet.adapters.sim.universe import STEP_SECONDS, build_universe
from tradefleet.domain.orders import OrderAck, OrderRequest, OrderType, Side

INITIAL_CASH = 100_000_000


def _market(cid: str, symbol: str, side: Side, qty: int) -> OrderRequest:
    return OrderRequest(cid, symbol, side, OrderType.MARKET, qty, None)


async def _trade(r: Rig) -> tuple[list[OrderAck], str, str]:
    """Buys (one walking two book levels), a resting limit buy, a partial and a full sell."""
    held, flat = _liquid(r.market), _liquid(r.market, min_depth=2)
    if flat == held:
        flat = next(s for s in r.market.symbols()
                    if s != held and r.market.quote(s).ask > 0 and r.market.quote(s).bid > 0)
    acks = [await r.broker.place_order(_market("b1", held, Side.BUY,
                                               _depth(r.market, held) + 2))]
    q = r.market.quote(held)
    acks.append(await r.broker.place_order(OrderRequest("b2", held, Side.BUY, OrderType.LIMIT,
                                                        3, q.bid)))
    acks.append(await r.broker.place_order(_market("b3", flat, Side.BUY, 1)))
    r.clock.advance(20 * 60)                       # the resting buy may fill on later steps
    acks.append(await r.broker.place_order(_market("s1", held, Side.SELL, 2)))
    acks.append(await r.broker.place_order(_market("s2", flat, Side.SELL, 1)))
    return acks, held, flat


async def test_books_match_what_the_kis_client_saw() -> None:
    async with rig() as r:
        acks, held, flat = await _trade(r)
        books = await fetch_books(r.base_url, r.session)
        day = r.clock.now().date()
        by_order: dict[str, list[Execution]] = defaultdict(list)
        for e in books.executions:
            by_order[e.odno].append(e)
        assert set(by_order) <= {a.broker_order_id for a in acks}      # nothing else traded
        assert [e.seq for e in books.executions] == list(range(1, len(books.executions) + 1))
        for ack in acks:
            report = await r.broker.get_order(ack.broker_order_id, day)
            assert report is not None
            mine = by_order.get(ack.broker_order_id, [])
            assert sum(e.qty for e in mine) == report.filled_qty
            assert sum(e.amount for e in mine) == report.filled_amount
            assert {(e.symbol, e.side) for e in mine} <= {(report.symbol, report.side)}
            for e in mine:
                assert e.account == "1234****-01"              # the client's CANO, masked
                assert e.at.utcoffset() == timedelta(hours=9)
                assert ack.accepted_at <= e.at <= r.clock.now()
        first = by_order[acks[0].broker_order_id]
        assert len(first) == 2 and {e.at for e in first} == {acks[0].accepted_at}

        net: Counter[str] = Counter()
        cost: Counter[str] = Counter()
        for e in books.executions:
            net[e.symbol] += e.qty if e.side is Side.BUY else -e.qty
            cost[e.symbol] += e.amount if e.side is Side.BUY else 0
        held_now = books.holdings.of(held)
        assert held_now is not None and held_now.qty == net[held] > 0
        assert books.holdings.of(flat) is None and net[flat] == 0         # sold to zero
        bought = [e for e in books.executions if e.symbol == held and e.side is Side.BUY]
        bought_qty = sum(e.qty for e in bought)
        assert held_now.cost == cost[held] - cost[held] * 2 // bought_qty   # pro rata sell
        balance = await r.broker.get_balance()
        assert [(h.symbol, h.qty, h.avg_price) for h in balance.holdings] == \
            [(h.symbol, h.qty, h.avg_price) for h in books.holdings.holdings]
        assert books.holdings.orderable_cash == balance.cash
        spent = sum(e.amount if e.side is Side.BUY else -e.amount for e in books.executions)
        assert books.holdings.cash == INITIAL_CASH - spent
        assert books.holdings.account == "1234****-01"


async def test_each_book_alone_and_the_in_process_books_agree() -> None:
    async with rig() as r:
        await _trade(r)
        executions = await fetch_executions(r.base_url, r.session)
        holdings = await fetch_holdings(r.base_url, r.session)
        symbols = await fetch_symbols(r.base_url, r.session)
        local = r.market.books()
        assert [e.account for e in local.executions] == ["sim"] * len(executions)
        assert [(e.seq, e.odno, e.symbol, e.side, e.qty, e.price, e.at) for e in executions] \
            == [(e.seq, e.odno, e.symbol, e.side, e.qty, e.price, e.at)
                for e in local.executions]
        assert holdings.holdings == local.holdings.holdings
        assert (holdings.cash, holdings.orderable_cash) == \
            (local.holdings.cash, local.holdings.orderable_cash)
        assert symbols == list(local.symbols)
        for e in executions:
            assert Execution.from_json(e.as_json()) == e


async def test_symbols_book_lists_every_symbol_with_its_market() -> None:
    async with rig(n_symbols=40) as r:
        symbols = await fetch_symbols(r.base_url, r.session)
        assert [s.symbol for s in symbols] == r.market.symbols()
        assert {s.market for s in symbols} == set(MARKETS)     # ETFs and an ETN among 40
        assert sum(s.market == "ETF" for s in symbols) == 4
        assert all(s.name == f"SIM{s.symbol}" for s in symbols)
        assert tuple(s.market for s in symbols) == build_universe(7, 40).markets
    for n in (1, 2, 3, 9, 10, 57):
        markets = build_universe(3, n).markets
        assert len(markets) == n and set(markets) <= set(MARKETS)
        assert ("ETF" in markets) == (n >= 3) and markets.count("ETN") == (n >= 10)
        if n >= 2:
            assert {"KOSPI", "KOSDAQ"} <= set(markets)


def test_resting_fills_carry_the_step_time_they_happened_at() -> None:
    clock = FrozenClock(datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL))
    market = SimMarket(21, n_symbols=50, clock=clock)
    acks = []
    for i, symbol in enumerate(market.symbols()):
        q = market.quote(symbol)
        if q.bid > q.lower_limit and q.ask > 0:
            acks.append(market.submit(OrderRequest(f"r{i}", symbol, Side.BUY,
                                                   OrderType.LIMIT, 1, q.bid)))
    clock.set(datetime(2026, 11, 24, 15, 0, tzinfo=SEOUL))
    executions = market.executions()
    rested = [e for e in executions if e.at > acks[0].accepted_at]
    assert rested, "no resting buy filled over five hours"
    for e in rested:
        assert (e.at - market.open_at).total_seconds() % STEP_SECONDS == 0
        assert e.at <= clock.now() and e.price == market.report(e.odno).filled_amount // e.qty
    holdings = market.holdings()
    assert sum(h.qty for h in holdings.holdings) == sum(e.qty for e in executions)
    assert all(h.avg_price == (Decimal(h.cost) / h.qty).quantize(Decimal("0.0001"))
               for h in holdings.holdings)
    assert holdings.cash == INITIAL_CASH - sum(e.amount for e in executions)
    assert time(10, 0) < max(e.at for e in executions).time() <= time(15, 0)
