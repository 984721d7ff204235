"""The chart's answers to issue 19: which LiquidationSchedules a release runs (its operator's
name), and what a cluster team needs around the operator (aggregated roles, worker pod
placement, ports, CRD upgrades, uninstall while TradingWorkers exist, calendar overrides)."""

from __future__ import annotations

from datetime import date

import pytest
import yaml
from tests.packaging.chart_render import EXTERNAL, RELEASE, ROOT, one, render, run_helm

from tradefleet.adapters.calendar_cache import krx_calendar
from tradefleet.operator.config import load_operator_config
from tradefleet.operator.pods import build_pod
from tradefleet.operator.resources import parse_worker_spec


def _config(values: dict) -> dict[str, str]:
    name = f"{values.get('fullnameOverride') or RELEASE}-operator"
    return one(render(values), "ConfigMap", name)["data"]


def _operator_config(values: dict):  # noqa: ANN202
    data = _config(values)
    return load_operator_config({**data, "TRADEFLEET_DB__DSN": "postgresql://x"})


def test_each_release_names_its_operator_and_the_example_schedule_names_the_default():
    assert _operator_config(EXTERNAL).name == RELEASE
    assert _operator_config({**EXTERNAL, "fullnameOverride": "desk-a"}).name == "desk-a"
    assert _operator_config({**EXTERNAL, "operator": {"name": "canary"}}).name == "canary"
    example = yaml.safe_load((ROOT / "examples" / "liquidationschedule.yaml").read_text())
    assert example["spec"]["operator"] == _operator_config(EXTERNAL).name


def _rules_of(docs: list[dict], label: str) -> list[dict]:
    return [rule for d in docs if d["kind"] == "ClusterRole"
            and (d["metadata"].get("labels") or {}).get(label) == "true" for rule in d["rules"]]


def test_namespace_edit_manages_and_view_reads_tradingworkers_through_aggregation():
    docs = render(EXTERNAL)
    edit = _rules_of(docs, "rbac.authorization.k8s.io/aggregate-to-edit")
    assert edit == _rules_of(docs, "rbac.authorization.k8s.io/aggregate-to-admin")
    can = {(r, v) for rule in edit for r in rule["resources"] for v in rule["verbs"]}
    assert {("tradingworkers", v) for v in ("create", "update", "patch", "delete")} <= can
    assert not {v for r, v in can if r.endswith("/status")} - {"get", "list", "watch"}
    view = _rules_of(docs, "rbac.authorization.k8s.io/aggregate-to-view")
    seen = {(r, v) for rule in view for r in rule["resources"] for v in rule["verbs"]}
    assert ("tradingworkers", "list") in seen and ("liquidationschedules", "get") in seen
    assert {v for _, v in seen} == {"get", "list", "watch"}
    off = render({**EXTERNAL, "rbac": {"aggregateToBuiltinRoles": False}})
    assert not _rules_of(off, "rbac.authorization.k8s.io/aggregate-to-view")


@pytest.mark.parametrize(("ports", "named"), [
    ({"livenessPort": 9100}, "operator.livenessPort and operator.metricsPort"),
    ({"workerHealthPort": 8081}, "operator.livenessPort and operator.workerHealthPort"),
    ({"metricsPort": 8080}, "operator.metricsPort and operator.workerHealthPort"),
])
def test_every_port_clash_fails_the_render_naming_both_values(ports, named) -> None:  # noqa: ANN001
    done = run_helm("template", RELEASE, values={**EXTERNAL, "operator": ports})
    assert done.returncode != 0 and named in done.stderr, done.stderr
    assert "every port must differ" in done.stderr


PLACED = {"priorityClassName": "trading-critical",
          "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
              "nodeSelectorTerms": [{"matchExpressions": [
                  {"key": "pool", "operator": "In", "values": ["trading"]}]}]}}},
          "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "trading",
                           "effect": "NoSchedule"}]}


def _pod_of(values: dict, **spec: object) -> dict:
    example = yaml.safe_load((ROOT / "examples" / "tradingworker.yaml").read_text())
    return build_pod(name="sim-1", namespace="tradefleet", uid="u", epoch_before=0, serial=0,
                     spec=parse_worker_spec({**example["spec"], **spec}),
                     config=_operator_config(values))


def test_worker_pod_placement_goes_values_to_operator_config_to_pod_spec():
    own = {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
           "effect": "NoExecute", "tolerationSeconds": 30}
    placed = _pod_of({**EXTERNAL, "operator": {"workerPods": PLACED}},
                     pod={"tolerations": [own]})
    plain = _pod_of(EXTERNAL, pod={"tolerations": [own]})
    assert placed["spec"]["priorityClassName"] == "trading-critical"
    assert placed["spec"]["affinity"] == PLACED["affinity"]
    assert placed["spec"]["tolerations"] == [own, *PLACED["tolerations"]]
    assert "priorityClassName" not in plain["spec"] and "affinity" not in plain["spec"]
    # placement is not part of what runs: changing it replaces no running worker
    assert placed["metadata"]["annotations"] == plain["metadata"]["annotations"]


def test_uninstall_is_refused_by_a_pre_delete_hook_while_tradingworkers_exist():
    values = {**EXTERNAL, "operator": {"watchNamespaces": ["desk-a", "desk-b"]}}
    (job,) = [d for d in render(values) if d["kind"] == "Job"
              and d["metadata"]["annotations"]["helm.sh/hook"] == "pre-delete"]
    assert "hook-succeeded" in job["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
    pod = job["spec"]["template"]["spec"]
    assert job["spec"]["backoffLimit"] == 0 and pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == f"{RELEASE}-operator"     # may list TradingWorkers
    (c,) = pod["containers"]
    assert c["command"][-1] == "tradefleet.operator.uninstall_guard"
    # helm says only "job failed": the refusal naming them is the pod's termination message
    assert c["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert {"name": "TRADEFLEET_OPERATOR_NAMESPACES", "value": "desk-a,desk-b"} in c["env"]


CLOSURE = {"holidays": [{"date": "2026-12-23", "reason": "ad-hoc closure"}]}


def test_calendar_overrides_come_from_a_chart_configmap_for_operator_and_workers(
        tmp_path, monkeypatch) -> None:  # noqa: ANN001
    values = {**EXTERNAL, "calendar": {"overrides": CLOSURE},
              "operator": {"watchNamespaces": ["desk-a", "desk-b"]}}
    docs = render(values)
    maps = {d["metadata"]["namespace"]: d for d in docs if d["kind"] == "ConfigMap"
            and d["metadata"]["name"] == f"{RELEASE}-calendar"}
    assert set(maps) == {"desk-a", "desk-b", "tradefleet"}
    text = maps["desk-a"]["data"]["overrides.yaml"]
    assert yaml.safe_load(text) == CLOSURE
    deploy = one(docs, "Deployment", f"{RELEASE}-operator")["spec"]["template"]["spec"]
    (mount,) = [m for m in deploy["containers"][0]["volumeMounts"] if m["name"] == "calendar"]
    (volume,) = [v for v in deploy["volumes"] if v["name"] == "calendar"]
    assert volume["configMap"]["name"] == f"{RELEASE}-calendar"
    operator_file = _config(values)["TRADEFLEET_OPERATOR_CALENDAR_OVERRIDES"]
    assert operator_file.startswith(mount["mountPath"] + "/")

    pod = _pod_of(values)["spec"]
    (worker_volume,) = [v for v in pod["volumes"] if "configMap" in v]
    assert worker_volume["configMap"]["name"] == f"{RELEASE}-calendar"
    (c,) = pod["containers"]
    (wmount,) = [m for m in c["volumeMounts"] if m["name"] == worker_volume["name"]]
    env = {e["name"]: e.get("value") for e in c["env"]}
    worker_file = env["TRADEFLEET_CALENDAR_OVERRIDES"]
    assert worker_file.startswith(wmount["mountPath"] + "/")

    # the worker process reads the mounted file (here: the rendered text in a temp dir)
    mounted = tmp_path / worker_file.rsplit("/", 1)[1]
    mounted.write_text(text)
    monkeypatch.setenv("TRADEFLEET_CALENDAR_OVERRIDES", str(mounted))
    day = date(2026, 12, 23)
    assert krx_calendar(day).session(day) is None
    assert "ad-hoc closure" in krx_calendar(day).closed_reason(day)
    monkeypatch.delenv("TRADEFLEET_CALENDAR_OVERRIDES")
    assert krx_calendar(day).session(day) is not None        # a Wednesday that trades


def test_the_pod_pending_timeout_goes_from_values_to_the_operator():
    assert _operator_config(EXTERNAL).pod_pending_timeout_seconds == 300
    tuned = {**EXTERNAL, "operator": {"podPendingTimeoutSeconds": 120}}
    assert _operator_config(tuned).pod_pending_timeout_seconds == 120
