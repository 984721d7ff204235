"""The simulated KRX market: determinism, valid ticks, the book, resting orders, the account."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.sim.book import LEVELS
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.errors import OrderRejected
from tradefleet.domain.orders import OrderRequest, OrderType, Side

DAY = datetime(2026, 11, 24, tzinfo=SEOUL)


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    return DAY.replace(hour=hh, minute=mm, second=ss)


def krx_tick(price: int) -> int:
    """Independent restatement of the KRX tick table (2023 unified table)."""
    for bound, tick in ((2_000, 1), (5_000, 5), (20_000, 10), (50_000, 50),
                        (200_000, 100), (500_000, 500)):
        if price < bound:
            return tick
    return 1_000


def market(seed: int = 7, n: int = 200, start: datetime | None = None,
           cash: int = 100_000_000) -> tuple[SimMarket, FrozenClock]:
    clock = FrozenClock(start or at(9, 0))
    return SimMarket(seed, n_symbols=n, clock=clock, initial_cash=cash), clock


def buy(symbol: str, qty: int, limit: int | None = None, cid: str = "c1") -> OrderRequest:
    kind = OrderType.MARKET if limit is None else OrderType.LIMIT
    return OrderRequest(cid, symbol, Side.BUY, kind, qty, limit)


def test_same_seed_same_sim_times_give_identical_quotes_and_bars() -> None:
    a, clock_a = market(seed=11)
    b, clock_b = market(seed=11)
    # a is queried often along the way, b only at the end: chunking must not matter
    for minute in range(0, 95, 7):
        clock_a.set(at(9, 0) + timedelta(minutes=minute, seconds=13))
        a.quotes()
    clock_a.set(at(10, 35, 25))
    clock_b.set(at(10, 35, 25))
    assert a.symbols() == b.symbols()
    assert a.quotes() == b.quotes()
    first = a.symbols()[3]
    assert a.minute_bars(first, 60) == b.minute_bars(first, 60)
    assert len(a.minute_bars(first, 500)) == 96          # 09:00 .. 10:35 (in progress)

    c, clock_c = market(seed=12)
    clock_c.set(at(10, 35, 25))
    prices_a = [q.price for q in a.quotes().values()]
    prices_c = [q.price for q in c.quotes().values()]
    assert a.symbols() != c.symbols() or prices_a != prices_c


def test_every_tick_size_occurs_in_a_200_symbol_universe() -> None:
    m, _ = market(n=200)
    quotes = m.quotes()
    assert len(quotes) == 200
    assert all(len(s) == 6 and s.isdigit() for s in quotes)
    seen = {krx_tick(q.prev_close) for q in quotes.values()}
    assert seen == {1, 5, 10, 50, 100, 500, 1_000}
    prices = [q.prev_close for q in quotes.values()]
    assert min(prices) >= 1_000 and max(prices) <= 600_000


def test_prices_stay_on_valid_ticks_within_limits_all_day() -> None:
    m, clock = market(seed=3, n=200)
    last_volume: dict[str, int] = {}
    moved = 0
    for minute in range(0, 391, 5):
        clock.set(at(9, 0) + timedelta(minutes=minute))
        for q in m.quotes().values():
            lo, hi = q.lower_limit, q.upper_limit
            assert lo < q.prev_close < hi
            assert lo % krx_tick(lo) == 0 and hi % krx_tick(hi) == 0
            for p in (q.price, q.open, q.high, q.low):
                assert lo <= p <= hi and p % krx_tick(p) == 0, (q.symbol, p)
            for p in (q.bid, q.ask):
                assert p == 0 or (lo <= p <= hi and p % krx_tick(p) == 0)
            assert q.bid == 0 or q.ask == 0 or q.bid < q.ask
            assert q.low <= q.price <= q.high
            assert q.volume >= last_volume.get(q.symbol, 0)
            last_volume[q.symbol] = q.volume
            moved += q.price != q.prev_close
    assert moved > 0
    symbol = m.symbols()[0]
    bars = m.minute_bars(symbol, 1_000)
    assert len(bars) == 390
    assert bars[0].start == at(9, 0) and bars[-1].start == at(15, 29)
    assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in bars)
    assert sum(b.volume for b in bars) == m.quote(symbol).volume


def test_market_buy_on_thin_symbol_fills_partially_rest_cancelled() -> None:
    m, clock = market(seed=5, n=200, start=at(10, 0))
    u = m.universe
    i = next(k for k in range(200) if u.thin[k] and m.quote(u.symbols[k]).ask > 0)
    symbol = u.symbols[i]
    qty = int(u.depth[i]) * LEVELS + 7
    ack = m.submit(buy(symbol, qty))
    report = m.report(ack.broker_order_id)
    assert report is not None
    assert 0 < report.filled_qty < qty
    assert report.filled_qty + report.cancelled_qty == qty
    assert report.remaining_qty == 0 and report.is_done
    balance = m.balance()
    assert balance.cash == 100_000_000 - report.filled_amount   # reservation fully released
    (holding,) = balance.holdings
    assert (holding.symbol, holding.qty) == (symbol, report.filled_qty)
    assert holding.avg_price == report.avg_price


def _crossing(seed: int) -> tuple[str, int]:
    """From a reference run, a symbol whose price later falls a few ticks below its 10:00
    bid, and that level."""
    ref, clock = market(seed=seed)
    clock.set(at(10, 0))
    start = ref.quotes()
    clock.set(at(15, 30))
    for s, q in start.items():
        if q.bid == 0:
            continue
        later = [b.low for b in ref.minute_bars(s, 400) if b.start >= at(10, 1)]
        target = q.bid - 3 * krx_tick(q.bid - 1)
        if min(later) <= target:
            return s, target
    raise AssertionError("no crossing symbol in the reference run")


def test_resting_limit_buy_fills_when_crossed_and_others_expire() -> None:
    symbol, limit = _crossing(seed=9)
    m, clock = market(seed=9, start=at(10, 0))
    ack = m.submit(buy(symbol, 1, limit=limit))
    assert m.report(ack.broker_order_id).filled_qty == 0
    assert m.balance().cash == 100_000_000 - limit            # reserved at the limit
    clock.set(at(15, 30))
    report = m.report(ack.broker_order_id)
    assert (report.filled_qty, report.filled_amount) == (1, limit)

    never, clock2 = market(seed=9, start=at(10, 0))
    lowest = never.quote(symbol).lower_limit
    ack2 = never.submit(buy(symbol, 2, limit=lowest, cid="c2"))
    clock2.set(at(15, 29, 59))
    assert never.report(ack2.broker_order_id).remaining_qty == 2
    clock2.set(at(15, 30))
    expired = never.report(ack2.broker_order_id)
    assert (expired.filled_qty, expired.cancelled_qty, expired.remaining_qty) == (0, 2, 0)
    assert never.balance().cash == 100_000_000


def test_insufficient_cash_is_rejected_and_nothing_is_written() -> None:
    m, _ = market(cash=1_000_000, start=at(10, 0))
    symbol = max(m.symbols(), key=lambda s: m.quote(s).upper_limit)
    with pytest.raises(OrderRejected) as err:
        m.submit(buy(symbol, 10))
    assert err.value.code == "APBK0952"
    assert m.balance().cash == 1_000_000
    assert m.find(symbol, Side.BUY, at(9, 0)) == []
    upper = m.quote(symbol).upper_limit
    assert m.buyable_qty(symbol, None) == 1_000_000 // upper


@pytest.mark.parametrize("when", [at(8, 59, 59), at(15, 30), at(18, 0)])
def test_orders_outside_the_session_are_rejected(when: datetime) -> None:
    m, _ = market(start=when)
    with pytest.raises(OrderRejected) as err:
        m.submit(buy(m.symbols()[0], 1))
    assert err.value.code == "APBK0918"
    assert m.balance().cash == 100_000_000


def test_sell_beyond_holdings_and_bad_orders_are_rejected() -> None:
    m, _ = market(start=at(11, 0))
    symbol = m.symbols()[0]
    with pytest.raises(OrderRejected) as err:
        m.submit(OrderRequest("s1", symbol, Side.SELL, OrderType.MARKET, 1))
    assert err.value.code == "APBK0400"
    with pytest.raises(OrderRejected, match="qty"):
        m.submit(buy(symbol, 0))
    q = m.quote(symbol)
    with pytest.raises(OrderRejected, match="limit_price"):
        m.submit(buy(symbol, 1, limit=q.upper_limit + krx_tick(q.upper_limit)))
    with pytest.raises(OrderRejected) as unknown:
        m.submit(buy("999999", 1))
    assert unknown.value.code == "APBK0656"
    assert m.balance().cash == 100_000_000


def test_buy_then_sell_round_trip_and_cancel_of_resting_order() -> None:
    m, clock = market(start=at(9, 30))
    u = m.universe
    symbol = next(s for i, s in enumerate(u.symbols) if not u.thin[i] and u.depth[i] >= 10)
    bought = m.report(m.submit(buy(symbol, 10)).broker_order_id)
    assert bought.filled_qty == 10
    q = m.quote(symbol)
    rest = m.submit(OrderRequest("s2", symbol, Side.SELL, OrderType.LIMIT, 4, q.upper_limit))
    with pytest.raises(OrderRejected) as err:     # 4 of 10 are held by the resting sell
        m.submit(OrderRequest("s3", symbol, Side.SELL, OrderType.MARKET, 7))
    assert err.value.code == "APBK0400"
    m.cancel(rest.broker_order_id)
    assert m.report(rest.broker_order_id).cancelled_qty == 4
    clock.advance(60)
    sold = m.report(m.submit(
        OrderRequest("s4", symbol, Side.SELL, OrderType.MARKET, 10)).broker_order_id)
    assert sold.filled_qty == 10
    balance = m.balance()
    assert balance.holdings == ()
    assert balance.cash == 100_000_000 - bought.filled_amount + sold.filled_amount
    found = m.find(symbol, Side.SELL, at(9, 30))
    assert {r.broker_order_id for r in found} == {rest.broker_order_id, sold.broker_order_id}


def test_full_universe_quotes_quickly_after_a_day_of_stepping() -> None:
    m, clock = market(seed=1, n=2_700)
    clock.set(at(15, 30))
    t0 = time.perf_counter()
    m.quotes()
    stepping = time.perf_counter() - t0
    t1 = time.perf_counter()
    quotes = m.quotes()
    quoting = time.perf_counter() - t1
    assert len(quotes) == 2_700
    print(f"\n2,700 symbols: full day stepped in {stepping * 1000:.0f} ms, "
          f"all quotes in {quoting * 1000:.1f} ms")


def test_momentum_symbols_trend_up_so_breakouts_happen() -> None:
    m, clock = market(seed=8, n=300)
    clock.set(at(15, 30))
    quotes = m.quotes()
    u = m.universe
    rates = {s: float(quotes[s].change_rate) for s in u.symbols}
    trending = [rates[s] for i, s in enumerate(u.symbols) if u.drift[i] > 0]
    others = [rates[s] for i, s in enumerate(u.symbols) if u.drift[i] == 0]
    assert trending and others
    assert sum(trending) / len(trending) > sum(others) / len(others) + 1.0
    # and at least one of them makes a fresh 20-minute closing high after 10:00
    def breaks_out(symbol: str) -> bool:
        closes = [b.close for b in m.minute_bars(symbol, 400)]
        return any(closes[k] > max(closes[k - 20:k]) for k in range(60, len(closes)))
    assert any(breaks_out(s) for i, s in enumerate(u.symbols) if u.drift[i] > 0)


def test_unknown_symbol_quote_is_rejected_with_the_kis_code() -> None:
    m, _ = market()
    with pytest.raises(OrderRejected) as err:
        m.quote("000001")
    assert err.value.code == "APBK0656"
    assert m.quotes(["000001"]) == {}
