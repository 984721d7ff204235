"""Fault rules of the HTTP simulator, driven over real HTTP with ``KisBroker``: rules name
``BrokerPort`` operations, each request is exactly one of them (cancel vs modify on
order-rvsecncl, get_order vs find_orders on inquire-daily-ccld), each kind answers as KIS
would, fired counts are reported, and a rule that could never fire is refused."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from tests.kis_harness import APPKEY, APPSECRET, Rig, arm, rig, rules
from tests.test_order_modify import _headers, _liquid, _resting_buy

from tradefleet.adapters.kis.auth import (
    Credentials,
    InProcessTokenProvider,
    KisTokenIssuer,
    SlidingWindowRateLimiter,
)
from tradefleet.adapters.kis.broker import KisBroker, in_process_kis_broker
from tradefleet.adapters.kis.client import KisConfig
from tradefleet.adapters.kis.tr_ids import BALANCE
from tradefleet.adapters.sim.faults import OPERATIONS, ORDER_OPERATIONS
from tradefleet.domain.errors import (
    AmbiguousOrderOutcome,
    AuthError,
    BrokerError,
    BrokerTimeout,
    BrokerUnavailable,
)
from tradefleet.domain.orders import OrderAck, Side

FIXTURES = Path(__file__).parent / "fixtures" / "kis"
_R = "/uapi/domestic-stock/v1/"


def broker_calls(r: Rig, symbol: str, for_modify: OrderAck, for_cancel: OrderAck,
           ) -> dict[str, Callable[[], Awaitable[object]]]:
    """One KisBroker call per operation (authenticate asks /oauth2/tokenP afresh)."""
    low = r.market.quote(symbol).lower_limit
    day = r.clock.now().date()
    since = r.clock.now() - timedelta(minutes=1)
    issuer = KisTokenIssuer(r.session, Credentials(r.base_url, APPKEY, APPSECRET),
                            timeout_seconds=r.config.timeout_seconds)
    b = r.broker
    return {
        "authenticate": issuer,
        "get_quotes": lambda: b.get_quotes([symbol]),
        "get_minute_bars": lambda: b.get_minute_bars(symbol, 5),
        "place_order": lambda: b.place_order(_resting_buy(1, symbol, low, "p1")),
        "get_order": lambda: b.get_order(for_modify.broker_order_id, day),
        "find_orders": lambda: b.find_orders(day, symbol, Side.BUY, since),
        "cancel_order": lambda: b.cancel_order(for_cancel.broker_order_id,
                                               for_cancel.broker_branch),
        "modify_order": lambda: b.modify_order(for_modify.broker_order_id,
                                               for_modify.broker_branch, price=low),
        "get_balance": b.get_balance,
        "get_buyable_qty": lambda: b.get_buyable_qty(symbol, low),
    }


def _expected_error(operation: str) -> type[BrokerError]:
    if operation in ORDER_OPERATIONS:
        return AmbiguousOrderOutcome        # an order POST's 5xx may have reached the exchange
    return AuthError if operation == "authenticate" else BrokerUnavailable


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_each_operation_can_be_faulted_alone(operation: str) -> None:
    async with rig() as r:
        symbol = _liquid(r.market)
        low = r.market.quote(symbol).lower_limit
        a = await r.broker.place_order(_resting_buy(2, symbol, low, "a"))
        c = await r.broker.place_order(_resting_buy(2, symbol, low, "c"))
        rule = await arm(r, operation=operation, kind="error", count=1)
        failed: dict[str, BaseException] = {}
        for name, call in broker_calls(r, symbol, a, c).items():
            try:
                await call()
            except BrokerError as exc:
                failed[name] = exc
        assert list(failed) == [operation]
        assert isinstance(failed[operation], _expected_error(operation))
        state = (await rules(r))[rule]
        assert (state["fired"], state["remaining"], state["active"]) == (1, 0, False)
        if operation == "cancel_order":        # not acted: the order still rests
            assert r.market.report(c.broker_order_id).remaining_qty == 2
        if operation == "modify_order":
            assert r.market.report(a.broker_order_id).remaining_qty == 2
        placed = r.gateway.counters()["orders_per_symbol"][symbol]
        assert placed == (2 if operation == "place_order" else 3)


async def test_cancel_lost_after_accept_while_modify_works() -> None:
    async with rig() as r:
        symbol = _liquid(r.market)
        low = r.market.quote(symbol).lower_limit
        a = await r.broker.place_order(_resting_buy(2, symbol, low, "a"))
        c = await r.broker.place_order(_resting_buy(2, symbol, low, "c"))
        rule = await arm(r, operation="cancel_order", kind="drop_after_accept")
        new = await r.broker.modify_order(a.broker_order_id, a.broker_branch, price=low)
        assert r.market.report(new.broker_order_id).remaining_qty == 2
        with pytest.raises(AmbiguousOrderOutcome):
            await r.broker.cancel_order(c.broker_order_id, c.broker_branch)
        assert r.market.report(c.broker_order_id).cancelled_qty == 2     # it did act
        day = r.clock.now().date()
        assert (await r.broker.get_order(c.broker_order_id, day)).cancelled_qty == 2
        assert (await rules(r))[rule]["fired"] == 1


async def test_get_order_times_out_while_find_orders_works() -> None:
    async with rig(timeout_seconds=1.0) as r:
        symbol = _liquid(r.market)
        low = r.market.quote(symbol).lower_limit
        since = r.clock.now()
        a = await r.broker.place_order(_resting_buy(2, symbol, low, "a"))
        rule = await arm(r, operation="get_order", kind="timeout", delay=2.0)
        day = r.clock.now().date()
        found = await r.broker.find_orders(day, symbol, Side.BUY, since)
        assert [o.broker_order_id for o in found] == [a.broker_order_id]
        with pytest.raises(BrokerTimeout):
            await r.broker.get_order(a.broker_order_id, day)
        assert (await rules(r))[rule]["fired"] == 1


async def test_fired_counts_listing_and_deletion() -> None:
    async with rig() as r:
        symbol = r.market.symbols()[0]
        twice = await arm(r, operation="get_balance", kind="error", count=2)
        slow = await arm(r, operation="get_quotes", kind="latency", delay=0.05)
        outcomes = []
        for _ in range(3):
            try:
                await r.broker.get_balance()
                outcomes.append("ok")
            except BrokerUnavailable:
                outcomes.append("error")
        assert outcomes == ["error", "error", "ok"]
        t0 = time.perf_counter()
        for _ in range(2):
            assert symbol in await r.broker.get_quotes([symbol])
        assert time.perf_counter() - t0 >= 0.1
        listed = await rules(r)
        assert (listed[twice]["fired"], listed[twice]["active"]) == (2, False)
        assert (listed[slow]["fired"], listed[slow]["remaining"], listed[slow]["active"]) \
            == (2, None, True)
        assert await r.admin("GET", f"faults/{slow}") == listed[slow]
        assert await r.admin("DELETE", f"faults/{slow}") == {"ok": True}
        async with r.session.get(f"{r.base_url}/_admin/faults/{slow}") as resp:
            assert resp.status == 404 and "id" in (await resp.json())["error"]
        assert await r.admin("DELETE", "faults") == {"ok": True, "cleared": 1}
        assert await rules(r) == {}


async def test_probability_follows_the_rules_seed() -> None:
    async with rig() as r:
        rule = await arm(r, operation="get_balance", kind="error", probability=0.5, seed=42)
        outcomes = []
        for _ in range(20):
            try:
                await r.broker.get_balance()
                outcomes.append(False)
            except BrokerUnavailable:
                outcomes.append(True)
        rng = random.Random(42)
        assert outcomes == [rng.random() < 0.5 for _ in range(20)]
        assert (await rules(r))[rule]["fired"] == sum(outcomes)


@pytest.mark.parametrize(("rule", "field"), [
    ({"operation": "place_orders", "kind": "error"}, "operation"),
    ({"operation": "order-cash", "kind": "error"}, "operation"),
    ({"kind": "error"}, "operation"),
    ({"operation": "get_quotes", "kind": "reject"}, "kind"),
    ({"operation": "get_order", "kind": "reject", "code": "APBK0952"}, "kind"),
    ({"operation": "authenticate", "kind": "reject"}, "kind"),
    ({"operation": "get_balance", "kind": "explode"}, "kind"),
    ({"operation": "get_balance"}, "kind"),
    ({"operation": "place_order", "kind": "error", "count": 0}, "count"),
    ({"operation": "place_order", "kind": "error", "count": "2"}, "count"),
    ({"operation": "place_order", "kind": "error", "count": 1.5}, "count"),
    ({"operation": "place_order", "kind": "error", "probability": 0}, "probability"),
    ({"operation": "place_order", "kind": "error", "probability": 1.5}, "probability"),
    ({"operation": "get_balance", "kind": "timeout", "delay": -1}, "delay"),
    ({"operation": "get_balance", "kind": "timeout", "delay": 3600}, "delay"),
    ({"operation": "get_balance", "kind": "latency"}, "delay"),
    ({"operation": "place_order", "kind": "error", "code": "APBK0952"}, "code"),
    ({"operation": "place_order", "kind": "reject", "code": "bad code!"}, "code"),
    ({"operation": "place_order", "kind": "timeout", "message": "x"}, "message"),
    ({"operation": "place_order", "kind": "error", "appkey": ""}, "appkey"),
    ({"operation": "place_order", "kind": "error", "worker": 7}, "worker"),
    ({"operation": "place_order", "kind": "error", "tr_id": "TTTC0012U"}, "tr_id"),
    (["place_order", "error"], "body"),
])
async def test_a_rule_that_cannot_fire_is_refused_naming_the_field(rule: object,
                                                                  field: str) -> None:
    async with rig() as r:
        async with r.session.post(r.base_url + "/_admin/faults", json=rule) as resp:
            assert resp.status == 400
            error = (await resp.json())["error"]
        assert error.startswith(f"{field}:"), error
        assert await rules(r) == {}                     # nothing armed


async def test_appkey_and_worker_selectors() -> None:
    async with rig() as r:
        other_cfg = KisConfig(base_url=r.base_url, appkey="PSOTHERKEY", appsecret="other",
                              cano="87654321", timeout_seconds=2.0)
        other = KisBroker(other_cfg, r.session, InProcessTokenProvider(KisTokenIssuer(
            r.session, Credentials(r.base_url, "PSOTHERKEY", "other"))),
            SlidingWindowRateLimiter(20), clock=r.clock)
        mine = await arm(r, operation="get_balance", kind="error", appkey=APPKEY)
        assert (await other.get_balance()).cash == r.market.balance().cash
        with pytest.raises(BrokerUnavailable):
            await r.broker.get_balance()
        assert (await rules(r))[mine]["fired"] == 1

        await r.admin("DELETE", "faults")
        w1 = await arm(r, operation="get_balance", kind="error", worker="w1")
        url = r.base_url + _R + BALANCE[0]
        headers = await _headers(r, BALANCE[1])
        statuses = {}
        for worker in ("w2", "w1", None):
            extra = {"X-Tradefleet-Worker": worker} if worker else {}
            async with r.session.get(url, headers={**headers, **extra}) as resp:
                statuses[worker] = resp.status
        assert statuses == {"w2": 200, "w1": 503, None: 200}
        assert (await rules(r))[w1]["fired"] == 1


async def test_rules_for_several_operations_at_once_and_stacked_on_one() -> None:
    async with rig() as r:
        symbol = _liquid(r.market)
        low = r.market.quote(symbol).lower_limit
        first = await arm(r, operation="get_balance", kind="error", count=1)
        then = await arm(r, operation="get_balance", kind="latency", delay=0.05, count=1)
        bars = await arm(r, operation="get_minute_bars", kind="error", count=1)
        with pytest.raises(BrokerUnavailable):
            await r.broker.get_balance()
        t0 = time.perf_counter()
        await r.broker.get_balance()
        assert time.perf_counter() - t0 >= 0.05
        await r.broker.place_order(_resting_buy(1, symbol, low))       # no rule: fine
        with pytest.raises(BrokerUnavailable):
            await r.broker.get_minute_bars(symbol, 3)
        listed = await rules(r)
        assert [listed[i]["fired"] for i in (first, then, bars)] == [1, 1, 1]


async def test_market_fault_plan_is_the_one_the_simulator_uses() -> None:
    """In-process tests arm ``market.faults`` directly; the HTTP side sees the same rules."""
    async with rig() as r:
        rule = r.market.faults.add("get_buyable_qty", "error", count=1)
        with pytest.raises(BrokerUnavailable):
            await r.broker.get_buyable_qty(r.market.symbols()[0], None)
        assert (await rules(r))[rule]["fired"] == 1


async def test_bad_clear_is_refused() -> None:
    async with rig() as r:
        await arm(r, operation="get_balance", kind="error")
        async with r.session.delete(r.base_url + "/_admin/faults",
                                    params={"operation": "inquire-balance"}) as resp:
            assert resp.status == 400 and (await resp.json())["error"].startswith("operation")
        assert len(await rules(r)) == 1
        assert await r.admin("DELETE", "faults?operation=get_balance") == \
            {"ok": True, "cleared": 1}


async def test_a_worker_tagged_client_meets_only_its_own_rules() -> None:
    """The KIS client in sim mode names its worker (X-Tradefleet-Worker), so a chaos run can
    fault one worker's broker calls while the others trade."""
    from dataclasses import replace as _replace


    async with rig() as r:
        rule = r.market.faults.add("get_balance", "error", worker="w7")
        await r.broker.get_balance()                              # untagged: not matched
        tagged = in_process_kis_broker(_replace(r.config, simulator_worker_tag="w7"),
                                       r.session, clock=r.clock)
        await tagged.authenticate()
        with pytest.raises(BrokerUnavailable):
            await tagged.get_balance()
        assert r.market.faults.fired_count(rule) == 1
