"""The TradingWorker status built from a pass: valid against the CRD's status schema, a live
view of Postgres, transition times that move only with the condition, Events on transitions
only."""

from __future__ import annotations

from datetime import timedelta

import jsonschema
from tests.operator.crd_schema import load_crd, schema_of
from tests.operator.factories import CONFIG, NOW, SPEC, desired, observed, pod, worker

from tradefleet.operator.plan import Problem
from tradefleet.operator.reconcile import plan_worker
from tradefleet.operator.status import (
    build_status,
    history_of,
    transition_events,
    without_nones,
)
from tradefleet.ports.fleet_status import WorkerHoldings
from tradefleet.ports.worker_controls import WorkerControls

STATUS_SCHEMA = schema_of(load_crd("tradingworkers"))["properties"]["status"]


def _status(want, seen, previous=None):  # noqa: ANN001, ANN202
    plan = plan_worker(want, seen, CONFIG)
    return build_status(want, seen, plan, previous), plan


def _conditions(status: dict) -> dict:
    return {c["type"]: c for c in status["conditions"]}


def test_status_is_valid_against_the_crd_and_shows_the_database():
    want = desired()
    w = worker("HOLD", current_symbol="005930", realized_pnl_today=-12_500, trades_today=3,
               holdings=WorkerHoldings(open_positions=1, held_qty=7, locks=1))
    status, _ = _status(want, observed(w, (pod(want),)))
    jsonschema.validate(without_nones(status), STATUS_SCHEMA)
    assert status["phase"] == "Holding" and status["currentSymbol"] == "005930"
    assert status["realizedPnlToday"] == -12_500 and status["tradesToday"] == 3
    assert status["epoch"] == 1 and status["observedGeneration"] == 1
    assert status["lastHeartbeat"] == (NOW - timedelta(seconds=2)).isoformat()
    conditions = _conditions(status)
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Trading"]["status"] == "True"
    assert conditions["Degraded"]["status"] == "False"
    assert conditions["Liquidated"]["reason"] == "NotOrdered"


def test_a_created_pod_is_remembered_and_restarts_count_recreations():
    want = desired()
    status, plan = _status(want, observed(worker(None)))
    assert status["podName"] == plan.actions[0].manifest["metadata"]["name"]
    history = history_of(without_nones(status))
    assert history.pod_name == status["podName"] and history.last_pod_created == NOW
    assert history.recreations == 0 and status["restarts"] == 0


def test_transition_times_move_only_with_the_condition_and_events_only_on_change():
    want = desired()
    first, _ = _status(want, observed(worker("SCAN"), (pod(want),)))
    later = observed(worker("SCAN"), (pod(want),), now=NOW + timedelta(minutes=5))
    second, _ = _status(want, later, without_nones(first))
    assert _conditions(second)["Ready"]["lastTransitionTime"] == \
        _conditions(first)["Ready"]["lastTransitionTime"]
    assert transition_events(without_nones(first), second) == []
    failed = observed(worker("SCAN"), (pod(want, status={"phase": "Failed",
                                                         "reason": "Evicted"}),),
                      now=NOW + timedelta(minutes=6))
    third, _ = _status(want, failed, without_nones(second))
    ready = _conditions(third)["Ready"]
    assert ready["status"] == "False" and ready["reason"] == "Evicted"
    assert ready["lastTransitionTime"] == (NOW + timedelta(minutes=6)).isoformat()
    assert [(e.type, e.reason) for e in transition_events(without_nones(second), third)] == \
        [("Warning", "Evicted")]


def test_degraded_names_the_field_and_warns_once():
    problem = Problem("SecretNotFound", "spec.credentials.secretName: Secret t/x not found")
    want = desired(problems=(problem,))
    status, _ = _status(want, observed(worker(None)))
    jsonschema.validate(without_nones(status), STATUS_SCHEMA)
    degraded = _conditions(status)["Degraded"]
    assert (degraded["status"], degraded["reason"]) == ("True", "SecretNotFound")
    assert status["phase"] == "Degraded" and "spec.credentials.secretName" in status["message"]
    events = transition_events(None, status)
    assert [(e.type, e.reason) for e in events] == [("Warning", "SecretNotFound")]
    again, _ = _status(want, observed(worker(None)), without_nones(status))
    assert transition_events(without_nones(status), again) == []


def test_liquidated_when_ordered_and_flat_in_postgres():
    want = desired()
    asked = WorkerControls(liquidate_requested_at=NOW - timedelta(minutes=1))
    holding = worker("HOLD", controls=asked, holdings=WorkerHoldings(1, 5, 1, 0))
    status, _ = _status(want, observed(holding, (pod(want),)))
    assert status["phase"] == "Liquidating"
    assert _conditions(status)["Liquidated"]["reason"] == "Liquidating"
    assert _conditions(status)["Trading"]["reason"] == "LiquidationOrdered"
    flat, _ = _status(want, observed(worker("SCAN", controls=asked), (pod(want),)),
                      without_nones(status))
    assert _conditions(flat)["Liquidated"]["status"] == "True"
    assert ("Normal", "Liquidated") in [(e.type, e.reason) for e in
                                        transition_events(without_nones(status), flat)]


def test_trading_says_paused_only_when_the_pause_was_written():
    """A Degraded worker's spec may ask for a pause that this pass did not write (the row is
    another TradingWorker's): the status says what the worker reads, not the spec."""
    taken = Problem("WorkerIdTaken", "metadata.name: worker id 'w-1' is TradingWorker x/w-1")
    want = desired({**SPEC, "paused": True}, problems=(taken,))
    status, plan = _status(want, observed(worker("SCAN"), (pod(desired()),)))
    assert plan.actions == ()
    assert _conditions(status)["Trading"]["reason"] == "Trading"
    degraded = desired({**SPEC, "paused": True},
                       problems=(Problem("UnknownStrategy", "spec.strategy.name: x"),))
    written, plan = _status(degraded, observed(worker("SCAN"), (pod(desired()),)))
    assert plan.actions and _conditions(written)["Trading"]["reason"] == "Paused"


def test_the_feed_shows_as_the_live_worker_said_and_not_for_a_dead_one():
    """Issue 20: ``kubectl get tw`` has a Feed column from the worker row's feed_mode."""
    want = desired()
    for said in ("live", "polling", None):
        status, _ = _status(want, observed(worker("HOLD", current_symbol="005930",
                                                  feed_mode=said), (pod(want),)))
        jsonschema.validate(without_nones(status), STATUS_SCHEMA)
        assert status["feed"] == said
    dead = worker("HOLD", current_symbol="005930", feed_mode="live", live=False)
    status, _ = _status(want, observed(dead, (pod(want),)))
    assert status["feed"] is None
