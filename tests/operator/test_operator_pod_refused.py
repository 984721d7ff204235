"""A pod the API refuses (a ResourceQuota, admission, RBAC) becomes the TradingWorker's
Degraded/PodRefused condition in the API's own words, with a Warning Event on the transition,
and no pod name or recreation enters the status (nothing was created). The real apiserver's
refusal is in tests/real_k8s/test_operator_quota.py."""

from __future__ import annotations

import jsonschema
from tests.operator.crd_schema import load_crd, schema_of
from tests.operator.factories import CONFIG, desired, observed, worker

from tradefleet.operator.kube import KubeError
from tradefleet.operator.plan import CreatePod, Emit, Problem
from tradefleet.operator.reconcile import plan_worker
from tradefleet.operator.status import build_status, transition_events, without_nones
from tradefleet.operator.worker_controller import refused_plan

STATUS_SCHEMA = schema_of(load_crd("tradingworkers"))["properties"]["status"]
QUOTA = ('{"kind":"Status","status":"Failure","reason":"Forbidden","code":403,"message":'
         '"pods \\"w-1-abcde\\" is forbidden: exceeded quota: tight-cpu, requested: '
         'requests.cpu=100m, used: requests.cpu=0, limited: requests.cpu=50m"}')


def test_the_api_error_carries_the_status_message():
    err = KubeError(403, QUOTA)
    assert err.reason == "Forbidden"
    assert err.message.startswith('pods "w-1-abcde" is forbidden: exceeded quota: tight-cpu')
    assert KubeError(500, "not json").message == "not json"


def test_a_refused_pod_is_degraded_named_and_announced_once():
    want, seen = desired(), observed(worker(None))
    plan = plan_worker(want, seen, CONFIG)
    assert any(isinstance(a, CreatePod) for a in plan.actions)
    answer = KubeError(403, QUOTA).message
    problem = Problem("PodRefused", f"the API refused pod w-1-abcde: {answer}")
    refused = refused_plan(plan, problem)
    assert not any(isinstance(a, CreatePod) for a in refused.actions)
    assert not any(isinstance(a, Emit) and a.reason in ("PodCreated", "PodRecreated")
                   for a in refused.actions)
    status = build_status(want, seen, refused, None)
    jsonschema.validate(without_nones(status), STATUS_SCHEMA)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert status["phase"] == "Degraded" and status["podName"] is None
    assert conditions["Degraded"]["status"] == "True"
    assert conditions["Degraded"]["reason"] == "PodRefused"
    assert "exceeded quota: tight-cpu" in conditions["Degraded"]["message"]
    assert conditions["Ready"]["reason"] == "PodRefused"
    events = transition_events(None, status)
    assert [(e.type, e.reason) for e in events if e.reason == "PodRefused"] == [
        ("Warning", "PodRefused")]
    again = build_status(want, seen, refused, without_nones(status))
    assert not [e for e in transition_events(without_nones(status), again)
                if e.reason == "PodRefused"]
