"""python-kis 2.1.6, a third-party KIS client written against the real API, runs its normal
flows against the exchange simulator over real HTTP, in real and in paper mode, changed only
in its base URL; every value it parses is checked against the simulated market's own state.

Changed only in its base URL: python-kis has no setting for its domain; it joins each path
onto the module constants ``REAL_DOMAIN``/``VIRTUAL_DOMAIN`` that ``pykis.kis`` imported
(``PyKis.request``). ``point_python_kis_at`` replaces exactly those two names, in one place;
nothing else of the library is touched. In paper mode python-kis, as KIS intends, asks the
real domain for quotations (with the real appkey) and the paper domain for the account (with
the paper appkey), so the sandbox serves both over one simulated market."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time
from decimal import Decimal
from time import sleep as _sleep

import pykis.kis
import pytest
import requests
from pykis import PyKis
from tests.sandbox_thread import SandboxThread

from tradefleet.adapters.clock import SEOUL, FrozenClock, SimClock
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig
from tradefleet.adapters.sim.exchange.quote_payloads import pct, tick_at
from tradefleet.adapters.sim.ledger import Books, Execution, Holdings
from tradefleet.local_fleet.processes import free_port

DAY = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)
PAGE = 2            # a small page, so five holdings and a dozen orders take several pages


def point_python_kis_at(monkeypatch: pytest.MonkeyPatch, urls: dict[str, str]) -> None:
    """The ONE change to python-kis: its base URLs (see the module docstring)."""
    monkeypatch.setattr(pykis.kis, "REAL_DOMAIN", urls["real"])
    if "paper" in urls:
        monkeypatch.setattr(pykis.kis, "VIRTUAL_DOMAIN", urls["paper"])


@contextmanager
def sandbox(monkeypatch: pytest.MonkeyPatch, mode: str) -> Iterator[tuple[SimMarket, PyKis]]:
    market = SimMarket(11, n_symbols=40, clock=FrozenClock(DAY))
    paged = dict(fills_page_size=PAGE, balance_page_size=PAGE)
    configs = [ExchangeConfig(mode="real", **paged if mode == "real" else {})]
    if mode == "paper":
        configs.append(ExchangeConfig(mode="paper", **paged))
    with SandboxThread(market, configs) as sb:
        point_python_kis_at(monkeypatch, sb.urls)
        keys = {"id": "sandbox", "account": "12345678-01", "appkey": "P" * 36,
                "secretkey": "S" * 180, "use_websocket": False}
        if mode == "paper":
            keys |= {"virtual_id": "sandbox", "virtual_appkey": "V" * 36,
                     "virtual_secretkey": "W" * 180}
        kis = PyKis(**keys)
        try:
            assert kis.virtual is (mode == "paper")
            yield market, kis
        finally:
            kis.close()


def _tradable(market: SimMarket) -> list[str]:
    """Liquid symbols priced above 2,000 won (a tick above 1), most liquid first."""
    u = market.universe
    order = sorted(range(len(u.symbols)), key=lambda i: -int(u.depth[i]))
    return [u.symbols[i] for i in order if not u.thin[i] and u.prev_close[i] >= 2_000]


def _check_info_quote_book_bars(market: SimMarket, kis: PyKis, symbol: str) -> None:
    stock = kis.stock(symbol)                         # search-info (CTPF1604R) first
    info = stock.info
    assert (info.symbol, info.market, info.name) == (symbol, "KRX",
                                                     market.universe.name_of(symbol))
    assert info.std_code.startswith(f"KR7{symbol}00") and len(info.std_code) == 12

    q, sim, f = stock.quote(), market.quote(symbol), market.fundamentals[symbol]
    assert (q.price, q.volume, q.amount) == (sim.price, sim.volume, sim.traded_value)
    assert (q.open, q.high, q.low) == (sim.open, sim.high, sim.low)
    assert (q.high_limit, q.low_limit, q.base_price) == (sim.upper_limit, sim.lower_limit,
                                                         sim.prev_close)
    assert q.change == sim.price - sim.prev_close and q.prev_price == sim.prev_close
    assert q.tick == tick_at(sim.price) and q.halt is False and q.overbought is False
    assert q.market_cap == sim.price * f.listed_shares // 100_000_000
    assert q.prev_volume_rate == Decimal(pct(sim.volume, f.prev_volume))
    per, pbr = f.per_pbr(sim.price)
    hi, _, lo, _ = f.extremes(sim.high, sim.low, market.day)
    ind = q.indicator
    assert (ind.per, ind.pbr, ind.eps, ind.bps) == (per, pbr, f.eps, f.bps)
    assert (ind.week52_high, ind.week52_low) == (hi, lo) and lo <= sim.low <= sim.high <= hi

    book = stock.orderbook()
    asks, bids = market.book_levels(symbol)
    pad = [(0, 0)] * 10
    assert [(a.price, a.volume) for a in book.asks] == (asks + pad)[:10]
    assert [(b.price, b.volume) for b in book.bids] == (bids + pad)[:10]
    assert (asks[0][0], bids[0][0]) == (sim.ask, sim.bid) and asks[0][1] > 0

    chart = stock.day_chart()           # FID_INPUT_HOUR_1=000000 first, then pages back
    bars = market.minute_bars(symbol, 10_000)
    values = market.minute_values(symbol, 10_000)
    assert len(bars) > 30                              # more than one call's worth
    assert [(b.time, b.open, b.high, b.low, b.close, b.volume) for b in chart.bars] == \
        [(b.start, b.open, b.high, b.low, b.close, b.volume) for b in bars]
    assert [b.amount for b in chart.bars] == values and values[-1] <= sim.traded_value
    assert chart.prev_price == sim.prev_close
    assert all(b.change == b.close - sim.prev_close for b in chart.bars)


@pytest.mark.parametrize("mode", ["real", "paper"])
def test_python_kis_flows_against_the_sandbox(monkeypatch: pytest.MonkeyPatch,
                                              mode: str) -> None:
    with sandbox(monkeypatch, mode) as (market, kis):
        symbols = _tradable(market)
        s = symbols[0]
        _check_info_quote_book_bars(market, kis, s)
        stock, sim = kis.stock(s), market.quote(s)

        # buyable amount: market (upper-limit basis) and at a limit price
        cash = market.balance().cash
        amount = stock.orderable_amount()
        assert (amount.qty, amount.unit_price, amount.amount) == (
            market.buyable_qty(s, None), sim.upper_limit, cash)
        at_low = stock.orderable_amount(price=sim.lower_limit)
        assert at_low.qty == market.buyable_qty(s, sim.lower_limit)

        # a market buy fills at once; a limit buy at the lower limit rests
        bought = stock.buy(qty=3)
        filled = market.report(bought.number)
        assert filled is not None and filled.filled_qty == 3 and bought.symbol == s
        resting = stock.buy(price=sim.lower_limit, qty=2)
        rest = market.report(resting.number)
        assert rest is not None and (rest.remaining_qty, rest.filled_qty) == (2, 0)
        account = kis.account()

        if mode == "real":               # KIS serves open orders (psbl-rvsecncl) on real only
            pending = account.pending_orders(country="KR").orders
            assert [(p.order_number.number, p.price, p.orderable_qty) for p in pending] == \
                [(resting.number, sim.lower_limit, 2)]
        else:
            with pytest.raises(NotImplementedError):
                account.pending_orders(country="KR")

        cancel = resting.cancel()
        after = market.report(resting.number)
        assert after is not None and (after.cancelled_qty, after.remaining_qty) == (2, 0)
        assert cancel.number != resting.number

        held = symbols[1:6]
        for other in held:                # holdings over several balance pages
            kis.stock(other).buy(qty=1)

        orders = account.daily_orders(start=market.day, country="KR").orders
        listed = {o.number: o for o in orders}
        placed = [e.odno for e in market.executions()] + [resting.number]
        assert set(listed) == set(placed) | {cancel.number} and len(orders) > PAGE
        for odno in set(placed):
            report, row = market.report(odno), listed[odno]
            assert report is not None
            assert (row.qty, row.executed_qty, row.pending_qty) == (
                report.qty, report.filled_qty, report.remaining_qty)
            avg = report.filled_amount // report.filled_qty if report.filled_qty else 0
            assert row.price == avg
        assert listed[cancel.number].qty == 2 and listed[cancel.number].executed_qty == 0

        bal = account.balance(country="KR")
        book = market.balance()
        assert len(bal.stocks) == len(book.holdings) == 1 + len(held) > PAGE
        quotes = market.quotes([h.symbol for h in book.holdings])
        for h in book.holdings:
            row = bal.stock(h.symbol)
            assert row is not None
            assert (row.qty, row.orderable, row.current_price) == (
                h.qty, h.qty, quotes[h.symbol].price)
            assert row.purchase_amount == (h.avg_price * h.qty).to_integral_value()
            assert row.name == market.universe.name_of(h.symbol)
        assert bal.deposits["KRW"].amount == book.cash


def test_python_kis_minute_bars_before_the_open_are_empty_not_an_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The latest-bars request at 08:50 answers no bars (and the day's base price), as KIS
    does before the first trade, so the client's paging loop ends at once."""
    with sandbox(monkeypatch, "real") as (market, kis):
        clock = market.clock
        assert isinstance(clock, FrozenClock)
        clock.set(datetime.combine(DAY.date(), time(8, 50), tzinfo=SEOUL))
        s = _tradable(market)[0]
        chart = kis.stock(s).day_chart()
        assert chart.bars == [] and chart.prev_price == market.quote(s).prev_close


def test_python_kis_paper_against_the_exchange_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """``tradefleet exchange --mode paper --real-port`` as a process: python-kis in paper mode
    with two base URLs (paper, and real for its quotations) over one market, judged by the
    exchange's own books (``/_admin/books``)."""
    paper, real = free_port(), free_port()
    env = {**os.environ, "TRADEFLEET_SIM_CLOCK": SimClock(DAY, 1.0).to_env()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradefleet.cli", "exchange", "--mode", "paper", "--port",
         str(paper), "--real-port", str(real), "--seed", "5", "--symbols", "8"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    urls = {"paper": f"http://127.0.0.1:{paper}", "real": f"http://127.0.0.1:{real}"}
    try:
        for _ in range(150):
            try:
                if all(requests.get(u + "/_admin/health", timeout=1).ok for u in urls.values()):
                    break
            except requests.ConnectionError:
                pass
            _sleep(0.1)
        else:
            raise AssertionError(f"exchange did not come up: {proc.stderr}")
        assert requests.get(urls["paper"] + "/_admin/health").json()["mode"] == "paper"
        assert requests.get(urls["real"] + "/_admin/health").json()["mode"] == "real"
        point_python_kis_at(monkeypatch, urls)
        kis = PyKis(id="sandbox", account="50001234-01", appkey="P" * 36, secretkey="S" * 180,
                    virtual_id="sandbox", virtual_appkey="V" * 36,
                    virtual_secretkey="W" * 180, use_websocket=False)
        symbols = [s["symbol"] for s in
                   requests.get(urls["paper"] + "/_admin/books/symbols").json()["symbols"]]
        stock = kis.stock(symbols[0])
        q = stock.quote()
        assert q.low_limit <= q.price <= q.high_limit and q.price % q.tick == 0
        order = stock.buy(qty=2)
        body = requests.get(urls["paper"] + "/_admin/books").json()
        books = Books(tuple(Execution.from_json(e) for e in body["executions"]),
                      Holdings.from_json(body["holdings"]), ())
        assert sum(e.qty for e in books.executions_of(order.number)) == 2
        assert {e.account for e in books.executions} == {"5000****-01"}
        bal = kis.account().balance(country="KR")
        held = books.holdings.of(symbols[0])
        row = bal.stock(symbols[0])
        assert held is not None and row is not None
        assert (row.qty, row.purchase_amount) == (held.qty, held.cost)
        assert bal.deposits["KRW"].amount == books.holdings.orderable_cash
        kis.close()
    finally:
        proc.terminate()
        proc.wait(10)


def test_python_kis_pages_minute_bars_back_to_the_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """At 14:05 the day has 305 bars: python-kis asks 000000 (the latest 30), then pages back
    30 at a time by ``FID_INPUT_HOUR_1`` until a page comes back empty before 09:00."""
    with sandbox(monkeypatch, "real") as (market, kis):
        clock = market.clock
        assert isinstance(clock, FrozenClock)
        clock.set(datetime.combine(DAY.date(), time(14, 5), tzinfo=SEOUL))
        s = _tradable(market)[1]
        chart = kis.stock(s).day_chart()
        bars = market.minute_bars(s, 10_000)
        assert len(bars) == 305
        assert [(b.time, b.close, b.volume) for b in chart.bars] == \
            [(b.start, b.close, b.volume) for b in bars]
        assert [b.amount for b in chart.bars] == market.minute_values(s, 10_000)


def test_real_port_is_refused_without_paper_mode() -> None:
    done = subprocess.run([sys.executable, "-m", "tradefleet.cli", "exchange", "--port", "0",
                           "--real-port", str(free_port())], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "--real-port" in done.stderr
