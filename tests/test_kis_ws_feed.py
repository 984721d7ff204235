"""The KIS WebSocket adapter (approval key, registrations, PINGPONG, ticks, encrypted fill
notices, reconnect with resubscribe) against the exchange simulator's feed over a real
WebSocket on 127.0.0.1. What arrives is checked against the simulated market itself: the
quote at the moment of the push, and the executions in the exchange's books."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from tests.feed_env import APPKEY, HTS_ID, Received, feed_env, running

from tradefleet.adapters.kis.ws_frames import MAX_SUBSCRIBE_OVER, classify, registration
from tradefleet.adapters.kis.ws_session import (
    RealtimeSession,
    SubscriptionCapReached,
    SubscriptionRefused,
)
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.universe import STEP_SECONDS
from tradefleet.domain.orders import OrderRequest, OrderType, Side

NOTICE = "H0STCNI0"


def liquid(market: SimMarket, n: int) -> list[str]:
    u = market.universe
    order = sorted(range(len(u.symbols)), key=lambda i: -int(u.depth[i]))
    return [u.symbols[i] for i in order if not u.thin[i] and u.prev_close[i] >= 2_000][:n]


def buy(market: SimMarket, symbol: str, qty: int, tag: str) -> str:
    ack = market.submit(OrderRequest(tag, symbol, Side.BUY, OrderType.MARKET, qty, None))
    return ack.broker_order_id


async def test_ticks_are_the_markets_trades_and_notices_are_its_executions():
    async with feed_env() as env:
        got = Received()
        feed = env.feed(got)
        a, b = liquid(env.market, 2)
        async with running(feed):
            for sym in (a, b):
                await feed.subscribe("H0STCNT0", sym)
            await feed.subscribe(NOTICE, HTS_ID)
            await got.until(lambda: feed.state == "live")
            volumes = {s: env.market.quote(s).volume for s in (a, b)}
            last = dict(volumes)
            checked = 0
            for _ in range(5):                       # five steps of the tape
                env.clock.advance(STEP_SECONDS)
                quotes = env.market.quotes([a, b])
                traded = [s for s in (a, b) if quotes[s].volume > last[s]]
                await got.until(lambda q=quotes, ts=traded: all(
                    any(t.symbol == s and t.volume == q[s].volume for t in got.ticks)
                    for s in ts))
                for s in traded:
                    pushed = [t for t in got.ticks if t.symbol == s][-1]
                    q = quotes[s]
                    assert (pushed.price, pushed.volume, pushed.traded_value, pushed.high,
                            pushed.low, pushed.ask, pushed.bid) == (
                        q.price, q.volume, q.traded_value, q.high, q.low, q.ask, q.bid)
                    assert pushed.change == q.price - q.prev_close
                    assert pushed.at == env.clock.now().replace(microsecond=0)
                    assert pushed.qty == q.volume - last[s]
                    last[s] = q.volume
                    checked += 1
            assert checked >= 5
            for s in (a, b):   # every share traded since subscribing is in exactly one tick
                mine = [t for t in got.ticks if t.symbol == s]
                assert sum(t.qty for t in mine) == last[s] - volumes[s]
            # both symbols traded in one step went out as one frame of several records
            assert env.server.counters["tick_frames"] < env.server.counters["ticks"]

            odnos = [buy(env.market, a, 3, "c1"), buy(env.market, b, 2, "c2")]
            books = [e for e in env.market.executions() if e.odno in odnos]
            await got.until(lambda: len(got.notices) == len(books))
            assert [(n.order_no, n.symbol, n.side, n.qty, n.price, n.is_fill)
                    for n in got.notices] == [
                (e.odno, e.symbol, e.side, e.qty, e.price, True) for e in books]
            assert all(n.hts_id == HTS_ID and n.time_hms == e.at.strftime("%H%M%S")
                       for n, e in zip(got.notices, books, strict=True))


async def test_pingpong_is_echoed():
    async with feed_env(ping_interval=0.1) as env:
        got = Received()
        feed = env.feed(got)
        async with running(feed):
            await feed.subscribe("H0STCNT0", liquid(env.market, 1)[0])
            await got.until(lambda: feed.state == "live")
            await got.until(lambda: env.server.counters["pongs"] >= 3)
            assert feed.session is not None and feed.session.pings >= 3


async def test_the_client_stops_at_40_registrations_and_the_server_at_41():
    async with feed_env(n_symbols=60) as env:
        got = Received()
        feed = env.feed(got)
        symbols = liquid(env.market, 60)
        symbols += [s for s in env.market.symbols() if s not in symbols]
        async with running(feed):
            for s in symbols[:40]:
                await feed.subscribe("H0STCNT0", s)
            with pytest.raises(SubscriptionCapReached, match="cap is 40"):
                await feed.subscribe("H0STCNT0", symbols[40])
            await got.until(lambda: feed.session is not None
                            and len(feed.session.registered) == 40)
        # a session told to allow more finds the server's own limit: the 42nd is refused
        key = await env.issuer()
        async with env.http.ws_connect(env.ws_url) as ws:
            session = RealtimeSession(ws, key.token, max_registrations=50)
            reader = asyncio.create_task(session.run(got, stale_after=5))
            for s in symbols[:41]:
                await session.subscribe("H0STCNT0", s)
            with pytest.raises(SubscriptionRefused, match=MAX_SUBSCRIBE_OVER):
                await session.subscribe("H0STCNT0", symbols[41])
            await ws.close()
            await reader


async def test_a_dropped_connection_reconnects_and_registers_everything_again():
    async with feed_env() as env:
        got = Received()
        feed = env.feed(got)
        a, b = liquid(env.market, 2)
        async with running(feed):
            for reg in (("H0STCNT0", a), ("H0STCNT0", b), (NOTICE, HTS_ID)):
                await feed.subscribe(*reg)
            await got.until(lambda: feed.state == "live")
            async with env.http.post(env.ws_url.replace("ws://", "http://")
                                     + "/_admin/ws/faults", json={"kind": "drop"}) as r:
                assert r.status == 200
            await got.until(lambda: feed.connects == 2 and feed.state == "live")
            assert [s for s, _ in got.states] == ["live", "down", "live"]
            (session,) = env.server.sessions
            assert (session.ticks, session.notices) == ({a, b}, {HTS_ID})
            odno = buy(env.market, a, 1, "after-drop")
            await got.until(lambda: any(n.order_no == odno for n in got.notices))
            before = len(got.ticks)
            env.clock.advance(10)
            await got.until(lambda: len(got.ticks) > before)
            assert env.approvals_issued == 1          # the cached key served both sessions


async def test_a_stalled_stream_is_noticed_and_replaced():
    async with feed_env(ping_interval=0.1) as env:
        got = Received()
        feed = env.feed(got, stale_after=0.6)
        async with running(feed):
            await feed.subscribe("H0STCNT0", liquid(env.market, 1)[0])
            await got.until(lambda: feed.state == "live")
            async with env.http.post(env.ws_url.replace("ws://", "http://")
                                     + "/_admin/ws/faults",
                                     json={"kind": "stall", "seconds": 1.5}) as r:
                assert r.status == 200
            await got.until(lambda: any(s == "down" and "stale" in why
                                        for s, why in got.states))
            await got.until(lambda: feed.state == "live" and feed.connects >= 2, timeout=8)


@pytest.mark.parametrize("kind", ["duplicate_notice", "reorder_notices", "lose_notice"])
async def test_notice_faults_reach_the_client_as_armed(kind):
    async with feed_env() as env:
        got = Received()
        feed = env.feed(got)
        a, b, c = liquid(env.market, 3)
        async with running(feed):
            await feed.subscribe(NOTICE, HTS_ID)
            await got.until(lambda: feed.state == "live")
            async with env.http.post(env.ws_url.replace("ws://", "http://")
                                     + "/_admin/ws/faults", json={"kind": kind}) as r:
                assert r.status == 200
            odnos = []
            for sym in (a, b, c):       # one at a time: each its own pump
                odnos.append(buy(env.market, sym, 1, sym))
                if len(odnos) == 1 and kind != "duplicate_notice":
                    await asyncio.sleep(0.2)        # held back or lost: nothing comes
                    assert got.notices == []
                    continue
                lost = kind == "lose_notice"
                await got.until(lambda n=len(odnos), lost=lost:
                                len({x.order_no for x in got.notices}) >= n - lost)
            seen = [n.order_no for n in got.notices]
            if kind == "duplicate_notice":
                assert seen == [odnos[0], odnos[0], odnos[1], odnos[2]]
            elif kind == "reorder_notices":
                assert seen == [odnos[1], odnos[0], odnos[2]]
            else:
                assert seen == odnos[1:]
                assert {e.odno for e in env.market.executions()} == set(odnos)


async def test_bad_fault_requests_name_the_field():
    async with feed_env() as env:
        url = env.ws_url.replace("ws://", "http://") + "/_admin/ws/faults"
        for body, field in (({"kind": "nap"}, "kind"), ({"kind": "stall"}, "seconds"),
                            ({"kind": "lose_notice", "count": 0}, "count")):
            async with env.http.post(url, json=body) as r:
                assert r.status == 400 and (await r.json())["error"].startswith(field)


async def test_a_refused_approval_key_is_replaced_and_a_second_session_is_refused():
    async with feed_env() as env:
        got = Received()
        feed = env.feed(got)
        sym = liquid(env.market, 1)[0]
        async with running(feed):
            await feed.subscribe("H0STCNT0", sym)
            await got.until(lambda: feed.state == "live")
            # one session per appkey: another one is refused OPSP8996
            key = await env.issuer()
            async with env.http.ws_connect(env.ws_url) as ws:
                await ws.send_str(registration(key.token, "H0STCNT0", sym))
                answer = classify((await ws.receive(timeout=5)).data)
                assert answer.code == "OPSP8996" and not answer.ok
            # the simulator forgets every approval key, then the line drops
            env.server.approvals.revoke_all()
            async with env.http.post(env.ws_url.replace("ws://", "http://")
                                     + "/_admin/ws/faults", json={"kind": "drop"}):
                pass
            await got.until(lambda: feed.state == "live" and feed.connects >= 3, timeout=8)
            assert any("OPSP0011" in why for _, why in got.states)
            assert env.approvals_issued == 3   # first, the test's own, and the replacement


async def test_unsubscribe_stops_the_ticks_and_no_secret_is_logged(caplog):
    caplog.set_level(logging.DEBUG)
    async with feed_env() as env:
        got = Received()
        feed = env.feed(got)
        sym = liquid(env.market, 1)[0]
        async with running(feed):
            await feed.subscribe("H0STCNT0", sym)
            await got.until(lambda: feed.state == "live")
            env.clock.advance(10)
            await got.until(lambda: len(got.ticks) > 0)
            await feed.unsubscribe("H0STCNT0", sym)
            assert env.server.sessions[0].ticks == set()
            n = len(got.ticks)
            env.clock.advance(10)
            await asyncio.sleep(0.3)
            assert len(got.ticks) == n
            session_key = next(iter(env.server.approvals._appkey_of))
        text = caplog.text + repr(feed) + repr(got.states)
        assert session_key not in text and APPKEY not in text


async def test_approval_refusals_are_clear_errors():
    async with feed_env() as env:
        from tradefleet.adapters.kis.auth import Credentials
        from tradefleet.adapters.kis.ws_approval import KisApprovalIssuer
        from tradefleet.domain.errors import AuthError
        bad = KisApprovalIssuer(env.http, Credentials(env.base_url, "", "x"))
        with pytest.raises(AuthError, match="EGW00103"):
            await bad()
        down = KisApprovalIssuer(env.http, Credentials("http://127.0.0.1:9", APPKEY, "x"))
        from tradefleet.domain.errors import BrokerUnavailable
        with pytest.raises(BrokerUnavailable):
            await down()
        assert isinstance(aiohttp.ClientSession, type)
