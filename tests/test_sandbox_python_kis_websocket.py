"""The judge of the simulator's WebSocket dialect: python-kis 2.1.6 (``KisWebsocketClient``
via ``PyKis``), a third-party KIS client written against the real API, subscribes to prices
and to executions on the simulator's feed and decodes both, in real and in paper mode; every
value it decodes is checked against the simulated market (the quote when pushed, the
exchange's executions).

Pointed by URL only. python-kis has no setting or environment variable for its domains: its
REST client joins paths onto ``pykis.kis.REAL_DOMAIN`` and its WebSocket client connects to
``pykis.client.websocket.WEBSOCKET_REAL_DOMAIN + "/tryitout"`` (module constants it imported
by name from ``pykis.__env__``; ``VIRTUAL_DOMAIN``/``WEBSOCKET_VIRTUAL_DOMAIN`` for paper).
Replacing those names is the least invasive way; nothing else of the library is touched.

python-kis 2.1.6 (the newest on PyPI) still expects the 23-field notice layout KIS used
before 2025 (it fails on today's 26 fields: Soju06/python-kis#68), so this feed is run with
``notice_width=23``; our own adapter reads both layouts (tests/test_kis_ws_frames.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import pykis.client.websocket
import pykis.kis
import pytest
from pykis import PyKis
from tests.feed_sandbox_thread import FeedSandboxThread

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig
from tradefleet.adapters.sim.exchange.ws_server import FeedConfig
from tradefleet.adapters.sim.universe import STEP_SECONDS

DAY = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)
HTS_ID, ACCOUNT = "sandbox", "12345678-01"


def _wait(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for python-kis")
        time.sleep(0.02)


@pytest.mark.parametrize("mode", ["real", "paper"])
def test_python_kis_subscribes_to_prices_and_executions_and_decodes_both(
        monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """In paper mode python-kis, as KIS intends, takes prices from the real domain's
    WebSocket (real appkey) and its executions (H0STCNI9) from the paper one."""
    clock = FrozenClock(DAY)
    market = SimMarket(11, n_symbols=40, clock=clock)
    u = market.universe
    symbol = max((s for i, s in enumerate(u.symbols) if not u.thin[i]
                  and u.prev_close[i] >= 2_000), key=lambda s: int(u.depth[u.symbols.index(s)]))
    pairs = [(ExchangeConfig(mode=m), FeedConfig(mode=m, hts_id=HTS_ID, notice_width=23,
                                                 account_no=ACCOUNT.replace("-", "")))
             for m in (["real"] if mode == "real" else ["real", "paper"])]
    with FeedSandboxThread(market, pairs) as sb:
        monkeypatch.setattr(pykis.kis, "REAL_DOMAIN", sb.urls["real"])
        monkeypatch.setattr(pykis.client.websocket, "WEBSOCKET_REAL_DOMAIN", sb.ws_urls["real"])
        keys = {"id": HTS_ID, "account": ACCOUNT, "appkey": "P" * 36, "secretkey": "S" * 180}
        if mode == "paper":
            monkeypatch.setattr(pykis.kis, "VIRTUAL_DOMAIN", sb.urls["paper"])
            monkeypatch.setattr(pykis.client.websocket, "WEBSOCKET_VIRTUAL_DOMAIN",
                                sb.ws_urls["paper"])
            keys |= {"virtual_id": HTS_ID, "virtual_appkey": "V" * 36,
                     "virtual_secretkey": "W" * 180}
        kis = PyKis(**keys, use_websocket=True)
        assert kis.virtual is (mode == "paper")
        prices_feed, notices_feed = sb.feeds["real"], sb.feeds[mode]
        lock = threading.Lock()
        prices: list = []
        executions: list = []

        def on_price(_sender, e) -> None:  # noqa: ANN001 - python-kis event types
            with lock:
                prices.append(e.response)

        def on_execution(_sender, e) -> None:  # noqa: ANN001
            with lock:
                executions.append(e.response)

        try:
            price_ticket = kis.stock(symbol).on("price", on_price)
            exec_ticket = kis.account().on("execution", on_execution)
            _wait(lambda: any(s.ticks == {symbol} for s in prices_feed.sessions)
                  and any(s.notices == {HTS_ID} for s in notices_feed.sessions))

            seen = 0
            for _ in range(3):
                before = market.quote(symbol).volume
                clock.advance(STEP_SECONDS)
                q = market.quote(symbol)
                if q.volume == before:
                    continue
                _wait(lambda v=q.volume: any(p.volume == v for p in prices))
                p = next(p for p in prices if p.volume == q.volume)
                assert p.symbol == symbol
                assert (p.price, p.open, p.high, p.low) == tuple(
                    Decimal(x) for x in (q.price, q.open, q.high, q.low))
                assert (p.ask, p.bid, p.amount) == (Decimal(q.ask), Decimal(q.bid),
                                                    Decimal(q.traded_value))
                assert p.change == Decimal(q.price - q.prev_close)
                assert p.time_kst == clock.now().replace(microsecond=0)
                seen += 1
            assert seen >= 2

            order = kis.stock(symbol).buy(qty=3)          # over REST, filled at once
            books = [e for e in market.executions() if e.odno == order.number]
            assert sum(e.qty for e in books) == 3
            _wait(lambda: len(executions) >= 1 + len(books))
            receipt, *fills = executions             # the order acknowledged, then its fills
            assert receipt.receipt and (receipt.quantity, receipt.executed_quantity) == (3, 0)
            assert receipt.order_number.number == order.number
            assert [(x.symbol, x.type, x.executed_quantity, x.price, x.order_number.number)
                    for x in fills] == [
                (e.symbol, "buy", Decimal(e.qty), Decimal(e.price), e.odno) for e in books]
            assert not any(x.receipt for x in fills)
            assert all(x.account_number.number == ACCOUNT[:8] for x in executions)
            price_ticket.unsubscribe()
            exec_ticket.unsubscribe()
        finally:
            kis.close()
