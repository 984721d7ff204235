"""The fault vocabulary shared by the in-process ``SimBroker`` and the HTTP simulator: the
same rule makes ``SimBroker`` raise exactly what ``KisBroker`` raises over HTTP, rules stack
and are selected per appkey/worker in process too, and rules that never fire are refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest
from tests.kis_harness import APPKEY, APPSECRET, rig
from tests.test_order_modify import _liquid, _resting_buy

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.kis.auth import Credentials, KisTokenIssuer
from tradefleet.adapters.sim.broker import ORDER_RATE_LIMIT_RESENDS, SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.faults import OPERATIONS, ORDER_OPERATIONS, FaultPlan
from tradefleet.domain.errors import BrokerError, BrokerUnavailable
from tradefleet.domain.orders import Side
from tradefleet.ports.broker import BrokerPort

AT = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)
OPTIONS = {"timeout": {"delay": 2.0}, "error": {}, "rate_limit": {},
           "drop_after_accept": {}}


async def _outcome(broker: BrokerPort, market: SimMarket,
                   authenticate: Callable[[], Awaitable[object]], operation: str,
                   kind: str) -> str:
    """The error type (or "ok") of one call of ``operation``, after a fixed setup."""
    symbol = _liquid(market)
    low = market.quote(symbol).lower_limit
    a = await broker.place_order(_resting_buy(2, symbol, low, "a"))
    c = await broker.place_order(_resting_buy(2, symbol, low, "c"))
    day = market.day
    since = market.clock.now() - timedelta(minutes=1)
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "authenticate": authenticate,
        "get_quotes": lambda: broker.get_quotes([symbol]),
        "get_minute_bars": lambda: broker.get_minute_bars(symbol, 5),
        "place_order": lambda: broker.place_order(_resting_buy(1, symbol, low, "p")),
        "get_order": lambda: broker.get_order(a.broker_order_id, day),
        "find_orders": lambda: broker.find_orders(day, symbol, Side.BUY, since),
        "cancel_order": lambda: broker.cancel_order(c.broker_order_id, c.broker_branch),
        "modify_order": lambda: broker.modify_order(a.broker_order_id, a.broker_branch,
                                                    price=low),
        "get_balance": broker.get_balance,
        "get_buyable_qty": lambda: broker.get_buyable_qty(symbol, low),
    }
    market.faults.add(operation, kind, **OPTIONS[kind])
    try:
        await calls[operation]()
    except BrokerError as exc:
        return type(exc).__name__
    return "ok"


@pytest.mark.parametrize("kind", sorted(OPTIONS))
@pytest.mark.parametrize("operation", OPERATIONS)
async def test_sim_broker_raises_what_kis_broker_raises(operation: str, kind: str) -> None:
    # a short client timeout only where the timeout itself is the fault: elsewhere a busy
    # machine's slow answer must not turn into a timeout
    timeout = 1.0 if kind == "timeout" else 5.0
    async with rig(timeout_seconds=timeout, rate_budget_seconds=0.3) as r:
        issuer = KisTokenIssuer(r.session, Credentials(r.base_url, APPKEY, APPSECRET),
                                timeout_seconds=timeout)
        over_http = await _outcome(r.broker, r.market, issuer, operation, kind)
    market = SimMarket(7, n_symbols=40, clock=FrozenClock(AT))
    broker = SimBroker(market)
    in_process = await _outcome(broker, market, broker.authenticate, operation, kind)
    assert in_process == over_http != "ok"
    # an order refused by the gateway's rate limit is resent as the KIS client resends it
    resent = kind == "rate_limit" and operation in ORDER_OPERATIONS
    assert [f.kind for f in market.faults.fired] == [kind] * (
        1 + ORDER_RATE_LIMIT_RESENDS if resent else 1)


async def test_rules_stack_and_set_replaces_the_same_scope() -> None:
    market = SimMarket(7, n_symbols=10, clock=FrozenClock(AT))
    broker = SimBroker(market)
    plan = market.faults
    first = plan.add("get_balance", "error", count=1)
    second = plan.add("get_balance", "latency", delay=0.01, count=1)
    with pytest.raises(BrokerUnavailable):
        await broker.get_balance()
    await broker.get_balance()                                   # the latency rule
    await broker.get_balance()                                   # nothing left
    assert [plan.fired_count(i) for i in (first, second)] == [1, 1]
    assert [r.active for r in plan.rules()] == [False, False]
    replaced = plan.set("get_balance", "error")
    assert [r.fault.rule_id for r in plan.rules()] == [replaced]
    kept = plan.add("get_balance", "error", worker="w9")
    plan.set("get_balance", "error", count=1)                    # other scope: kept
    assert kept in [r.fault.rule_id for r in plan.rules()]
    assert plan.clear("get_balance") == 2 and plan.rules() == []


async def test_in_process_appkey_and_worker_selectors() -> None:
    market = SimMarket(7, n_symbols=10, clock=FrozenClock(AT))
    w1, w2 = SimBroker(market, worker="w1", appkey="k1"), SimBroker(market, worker="w2")
    rule = market.faults.add("get_balance", "error", worker="w1")
    await w2.get_balance()
    with pytest.raises(BrokerUnavailable):
        await w1.get_balance()
    assert market.faults.fired_count(rule) == 1
    market.faults.clear()
    keyed = market.faults.add("get_balance", "error", appkey="k1")
    await w2.get_balance()
    with pytest.raises(BrokerUnavailable):
        await w1.get_balance()
    assert market.faults.fired_count(keyed) == 1


@pytest.mark.parametrize(("operation", "kind", "options", "field"), [
    ("get_quote", "error", {}, "operation"),
    ("get_minute_bars", "reject", {}, "kind"),
    ("get_balance", "reject", {"code": "APBK0952"}, "kind"),
    ("place_order", "error", {"probability": 0.0}, "probability"),
    ("place_order", "error", {"count": 0}, "count"),
    ("place_order", "latency", {}, "delay"),
    ("place_order", "timeout", {"delay": 301.0}, "delay"),
    ("place_order", "error", {"code": "APBK0952"}, "code"),
    ("place_order", "error", {"worker": " "}, "worker"),
])
def test_rules_that_never_fire_are_refused(operation: str, kind: str, options: dict,
                                           field: str) -> None:
    plan = FaultPlan()
    with pytest.raises(ValueError, match=f"^{field}:"):
        plan.add(operation, kind, **options)
    assert plan.rules() == []
