"""How the HTTP simulator's fault kinds answer, over real HTTP: a rate limit as KIS's
EGW00201 (taking no slot) and EGW00133 on the token, a reject in KIS's envelope, a timeout
bounded by its delay, and a hang after accept that places the order and holds the answer."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tests.kis_harness import APPKEY, arm, rig, rules
from tests.test_order_modify import _headers, _liquid, _resting_buy

from tradefleet.adapters.kis.broker import in_process_kis_broker
from tradefleet.adapters.kis.tr_ids import BALANCE, ORDER_BUY
from tradefleet.adapters.sim.exchange.fault_acts import DEFAULT_HANG_SECONDS
from tradefleet.domain.errors import AmbiguousOrderOutcome, AuthError, OrderRejected
from tradefleet.domain.orders import Side

FIXTURES = Path(__file__).parent / "fixtures" / "kis"
_R = "/uapi/domestic-stock/v1/"


async def test_rate_limit_answers_egw00201_as_kis_and_takes_no_slot() -> None:
    async with rig(mode="paper") as r:                  # 2 requests per second
        headers = await _headers(r, BALANCE[1])
        url = r.base_url + _R + BALANCE[0]
        rule = await arm(r, operation="get_balance", kind="rate_limit", count=5)
        for _ in range(5):
            async with r.session.get(url, headers=headers) as resp:
                assert resp.status == 500
                body = await resp.json()
            kis = json.loads((FIXTURES / "rate_limited.json").read_text())
            assert set(body) == set(kis) and body["rt_cd"] == kis["rt_cd"] == "1"
            assert body["msg_cd"] == "EGW00201"
            assert body["msg1"].strip() == kis["msg1"].strip()
        # the five refusals took no slot in the 2-per-second window
        for _ in range(2):
            async with r.session.get(url, headers=headers) as resp:
                assert resp.status == 200 and (await resp.json())["rt_cd"] == "0"
        assert (await rules(r))[rule]["fired"] == 5

    async with rig() as r:
        symbol = _liquid(r.market)
        low = r.market.quote(symbol).lower_limit
        read = await arm(r, operation="get_balance", kind="rate_limit", count=2)
        assert (await r.broker.get_balance()).cash == r.market.balance().cash   # retried
        order = await arm(r, operation="place_order", kind="rate_limit", count=1)
        # EGW00201 is answered before the order system: the adapter resends the same order
        ack = await r.broker.place_order(_resting_buy(1, symbol, low))
        assert r.gateway.counters()["orders_per_symbol"] == {symbol: 1}          # acted once
        assert r.market.report(ack.broker_order_id) is not None
        listed = await rules(r)
        assert (listed[read]["fired"], listed[order]["fired"]) == (2, 1)


async def test_rate_limit_on_token_issue_is_kis_throttle() -> None:
    async with rig() as r:
        rule = await arm(r, operation="authenticate", kind="rate_limit", count=1)
        with pytest.raises(AuthError, match="EGW00133"):
            await r.broker.authenticate()
        assert r.gateway.counters()["tokens_issued"] == {}
        # the refusal is remembered for KIS's minute: asking again at once is not even tried
        with pytest.raises(AuthError, match="EGW00133"):
            await r.broker.authenticate()
        assert (await rules(r))[rule]["fired"] == 1
        # the rule fired once: a process that had not met it gets its token
        await in_process_kis_broker(r.config, r.session, clock=r.clock).authenticate()
        assert r.gateway.counters()["tokens_issued"] == {APPKEY: 1}


async def test_reject_arrives_as_the_kis_envelope_and_order_rejected() -> None:
    async with rig() as r:
        symbol = _liquid(r.market)
        low = r.market.quote(symbol).lower_limit
        kis = json.loads((FIXTURES / "order_insufficient_funds.json").read_text())
        await arm(r, operation="place_order", kind="reject", count=1, code=kis["msg_cd"],
                  message=kis["msg1"].strip())
        headers = await _headers(r, ORDER_BUY[1])
        body = {"CANO": r.config.cano, "ACNT_PRDT_CD": "01", "PDNO": symbol, "ORD_DVSN": "00",
                "ORD_QTY": "1", "ORD_UNPR": str(low), "EXCG_ID_DVSN_CD": "KRX"}
        async with r.session.post(r.base_url + _R + ORDER_BUY[0], json=body,
                                  headers=headers) as resp:
            assert resp.status == 200
            answer = await resp.json()
        assert set(answer) == set(kis)                        # the KIS answer, padding aside
        assert (answer["rt_cd"], answer["msg_cd"]) == (kis["rt_cd"], kis["msg_cd"]) == \
            ("7", "APBK0952")
        assert answer["msg1"].strip() == kis["msg1"].strip()
        await arm(r, operation="place_order", kind="reject", count=1, code="APBK0919",
                  message="장운영시간이 아닙니다.")
        with pytest.raises(OrderRejected) as info:
            await r.broker.place_order(_resting_buy(1, symbol, low))
        assert (info.value.code, info.value.message) == ("APBK0919", "장운영시간이 아닙니다.")
        assert r.gateway.counters()["orders_per_symbol"] == {}
        a = await r.broker.place_order(_resting_buy(2, symbol, low, "a"))
        await arm(r, operation="modify_order", kind="reject", code="APBK1664")
        with pytest.raises(OrderRejected) as info:
            await r.broker.modify_order(a.broker_order_id, a.broker_branch, price=low)
        assert info.value.code == "APBK1664"
        await r.broker.cancel_order(a.broker_order_id, a.broker_branch)  # cancel unaffected
        assert r.market.report(a.broker_order_id).cancelled_qty == 2


async def test_timeout_is_bounded_by_default_and_by_its_delay() -> None:
    async with rig() as r:
        headers = await _headers(r, BALANCE[1])
        url = r.base_url + _R + BALANCE[0]
        await arm(r, operation="get_balance", kind="timeout", count=1)
        t0 = time.perf_counter()
        async with r.session.get(url, headers=headers) as resp:      # no client timeout
            assert resp.status == 504 and (await resp.json())["msg_cd"] == "EGW00504"
        waited = time.perf_counter() - t0
        assert DEFAULT_HANG_SECONDS <= waited < DEFAULT_HANG_SECONDS + 10
        assert DEFAULT_HANG_SECONDS > r.config.timeout_seconds           # outlasts a client
        await arm(r, operation="get_balance", kind="timeout", count=1, delay=0.3)
        t0 = time.perf_counter()
        async with r.session.get(url, headers=headers) as resp:
            assert resp.status == 504
        assert 0.3 <= time.perf_counter() - t0 < 3


async def test_hang_after_accept_places_the_order_and_holds_the_answer() -> None:
    async with rig(timeout_seconds=1.0) as r:
        symbol = _liquid(r.market)
        low = r.market.quote(symbol).lower_limit
        since = r.clock.now()
        await arm(r, operation="place_order", kind="hang_after_accept", delay=2.0, count=1)
        with pytest.raises(AmbiguousOrderOutcome):
            await r.broker.place_order(_resting_buy(3, symbol, low))
        found = await r.broker.find_orders(r.clock.now().date(), symbol, Side.BUY, since)
        assert [o.qty for o in found] == [3]
