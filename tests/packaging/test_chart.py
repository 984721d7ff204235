"""The Helm chart, checked offline the way CI can: ``helm lint --strict``; every option
combination rendered and validated by kubernetes-validate --strict against the Kubernetes
schemas; values.schema.json refusing bad values naming the field; the CRDs identical to
crds/; every pod non-root with resources and probes; the wiring between the pieces (database
Secret, Jaeger endpoint, exchange Service, metrics port) as the operator reads it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from tests.packaging.chart_render import (
    API_VERSIONS,
    CHART,
    COMBOS,
    EXTERNAL,
    NAMESPACE,
    RELEASE,
    ROOT,
    find,
    one,
    render,
    run_helm,
    template_text,
)

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.operator.config import load_operator_config
from tradefleet.operator.pods import build_pod
from tradefleet.operator.resources import parse_worker_spec

WORKLOADS = ("Deployment", "StatefulSet")


def test_chart_metadata_follows_the_package_version():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == version
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["image"] == {"repository": "tradefleet", "tag": "", "pullPolicy": "IfNotPresent"}


@pytest.mark.parametrize("combo", COMBOS)
def test_helm_lint_strict(combo: str) -> None:
    done = run_helm("lint", "--strict", values=COMBOS[combo])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


@pytest.mark.parametrize("combo", COMBOS)
def test_rendered_manifests_pass_kubernetes_validate_strict(combo: str) -> None:
    text = template_text(COMBOS[combo], api_versions=API_VERSIONS.get(combo, []),
                         include_crds=True)
    done = subprocess.run(["kubernetes-validate", "--strict", "--quiet", "-"], input=text,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    kinds = {d["kind"] for d in yaml.safe_load_all(text) if d}
    assert {"CustomResourceDefinition", "Deployment", "ServiceAccount", "ClusterRole",
            "Role", "RoleBinding", "ConfigMap"} <= kinds


def test_the_chart_crds_are_byte_identical_to_the_top_level_crds():
    top = sorted(p.name for p in (ROOT / "crds").glob("*.yaml"))
    chart = sorted(p.name for p in (CHART / "crds").glob("*.yaml"))
    assert top == chart and top
    for name in top:
        assert (CHART / "crds" / name).read_bytes() == (ROOT / "crds" / name).read_bytes(), \
            f"charts/tradefleet/crds/{name} differs from crds/{name}: cp crds/*.yaml " \
            "charts/tradefleet/crds/"
    docs = render(EXTERNAL, include_crds=True)
    assert {d["metadata"]["name"] for d in find(docs, "CustomResourceDefinition")} == {
        "tradingworkers.tradefleet.io", "liquidationschedules.tradefleet.io",
        "clusterkopfpeerings.kopf.dev"}


def _pod_specs(docs: list[dict]) -> list[tuple[str, dict]]:
    return [(f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"])
            for d in docs if d["kind"] in WORKLOADS]


@pytest.mark.parametrize("combo", COMBOS)
def test_every_pod_runs_non_root_with_resources_and_probes(combo: str) -> None:
    pods = _pod_specs(render(COMBOS[combo]))
    assert pods
    for where, spec in pods:
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True and pod_sc["runAsUser"] > 0, where
        assert pod_sc["seccompProfile"]["type"] == "RuntimeDefault", where
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"], where
            assert c.get("livenessProbe") and c.get("readinessProbe"), where
            ports = {p["name"] for p in c.get("ports", [])}
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                port = (c.get(probe) or {}).get("httpGet", {}).get("port")
                assert port is None or port in ports, f"{where}: {probe} on unknown {port}"


def _operator(docs: list[dict]) -> tuple[dict, dict[str, str]]:
    deploy = one(docs, "Deployment", f"{RELEASE}-operator")
    config = one(docs, "ConfigMap", f"{RELEASE}-operator")["data"]
    return deploy, config


def test_the_operator_runs_elected_replicas_with_liveness_and_metrics_ports():
    docs = render(EXTERNAL)
    deploy, config = _operator(docs)
    # replicas elect a leader through the release's ClusterKopfPeering (issue 19 item 6), so
    # a rolling update may overlap them: the new pod waits until the old one has gone
    assert deploy["spec"]["replicas"] == 2
    assert deploy["spec"]["strategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    assert _operator(render({**EXTERNAL, "operator": {"replicas": 3}}))[0]["spec"][
        "replicas"] == 3
    peering = one(docs, "ClusterKopfPeering", f"{RELEASE}-operator-{NAMESPACE}")
    assert peering["apiVersion"] == "kopf.dev/v1"
    assert config["TRADEFLEET_OPERATOR_PEERING_NAME"] == peering["metadata"]["name"]
    assert config["TRADEFLEET_OPERATOR_PEERING_LIFETIME_SECONDS"] == "30"
    (c,) = deploy["spec"]["template"]["spec"]["containers"]
    pod_id = next(e for e in c["env"] if e["name"] == "POD_ID")
    assert pod_id["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    role = one(docs, "ClusterRole", f"{RELEASE}-operator-{NAMESPACE}")
    assert {"apiGroups": ["kopf.dev"], "resources": ["clusterkopfpeerings"],
            "verbs": ["list", "watch", "patch"]} in role["rules"]
    assert c["image"] == "tradefleet:0.1.0" and c["command"] == ["tradefleet", "operator"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["metrics"] == 9100 == int(config["TRADEFLEET_OPERATOR_METRICS_PORT"])
    assert ports["healthz"] == int(config["TRADEFLEET_OPERATOR_LIVENESS_PORT"])
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    # readiness (can reconcile: Postgres answers) is not liveness (the process works)
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "healthz"}
    assert deploy["spec"]["template"]["spec"]["serviceAccountName"] == f"{RELEASE}-operator"
    svc = one(render(EXTERNAL), "Service", f"{RELEASE}-operator-metrics")
    assert svc["spec"]["ports"] == [{"name": "metrics", "port": 9100, "targetPort": "metrics"}]
    tagged = _operator(render({**EXTERNAL, "image": {"repository": "reg.example/tf",
                                                     "tag": "dev1", "pullPolicy": "Never"}}))
    assert tagged[0]["spec"]["template"]["spec"]["containers"][0]["image"] == "reg.example/tf:dev1"
    assert tagged[1]["TRADEFLEET_OPERATOR_WORKER_IMAGE"] == "reg.example/tf:dev1"


def _operator_environ(docs: list[dict]) -> dict[str, str]:
    """The operator's environment as the kubelet would build it (secret refs as markers)."""
    deploy, config = _operator(docs)
    (c,) = deploy["spec"]["template"]["spec"]["containers"]
    env = dict(config)
    for e in c["env"]:
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        env[e["name"]] = f"<{ref['name']}/{ref['key']}>" if ref else e.get("value", "<field>")
    return env


@pytest.mark.parametrize("combo", COMBOS)
def test_the_operator_accepts_the_settings_the_chart_gives_it(combo: str) -> None:
    env = _operator_environ(render(COMBOS[combo]))
    config = load_operator_config(env)          # raises naming the variable on a bad one
    watched = COMBOS[combo].get("operator", {}).get("watchNamespaces") or [NAMESPACE]
    assert config.namespaces == tuple(watched)
    assert config.db_secret is not None
    assert env["TRADEFLEET_DB__DSN"] == f"<{config.db_secret.name}/{config.db_secret.key}>"
    assert (config.max_concurrent_restarts, config.restart_window) == (1, "Anytime")


def test_restart_pacing_reaches_the_operator():
    paced = {**EXTERNAL, "operator": {"maxConcurrentRestarts": 4,
                                      "restartWindow": "OutsideTradingHours"}}
    config = load_operator_config(_operator_environ(render(paced)))
    assert (config.max_concurrent_restarts, config.restart_window) == \
        (4, "OutsideTradingHours")


def _worker_pod(values: dict) -> dict:
    """The pod the operator, configured by this chart, makes for examples/tradingworker.yaml."""
    config = load_operator_config(_operator_environ(render(values)))
    example = yaml.safe_load((ROOT / "examples" / "tradingworker.yaml").read_text())
    return build_pod(name="sim-1", namespace=NAMESPACE, uid="uid-1",
                     spec=parse_worker_spec(example["spec"]), config=config, epoch_before=0,
                     serial=0)


def test_worker_pods_are_pulled_like_the_operator_from_the_same_registry():
    private = {**EXTERNAL, "image": {"repository": "reg.example/tf", "tag": "1.2",
                                     "pullPolicy": "Always"},
               "imagePullSecrets": [{"name": "regcred"}, {"name": "mirror.cred"}]}
    pod = _worker_pod(private)["spec"]
    (c,) = pod["containers"]
    assert (c["image"], c["imagePullPolicy"]) == ("reg.example/tf:1.2", "Always")
    assert pod["imagePullSecrets"] == [{"name": "regcred"}, {"name": "mirror.cred"}]
    operator = _operator(render(private))[0]["spec"]["template"]["spec"]
    assert operator["imagePullSecrets"] == pod["imagePullSecrets"]
    assert operator["containers"][0]["imagePullPolicy"] == c["imagePullPolicy"]
    default = _worker_pod(EXTERNAL)["spec"]
    assert default["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert "imagePullSecrets" not in default


def test_external_database_defaults_to_verified_tls_with_the_ca_mounted_everywhere():
    docs = render(EXTERNAL)
    env = _operator_environ(docs)
    config = load_operator_config(env)
    assert env["TRADEFLEET_DB__SSLMODE"] == "verify-full" == config.pod_db_sslmode
    assert config.pod_db_ca_secret is not None
    assert (config.pod_db_ca_secret.name, config.pod_db_ca_secret.key) == \
        ("tradefleet-db-ca", "ca.crt")
    deploy, _ = _operator(docs)
    spec = deploy["spec"]["template"]["spec"]
    (ca,) = [v for v in spec["volumes"] if v["name"] == "db-ca"]
    assert ca["secret"]["secretName"] == "tradefleet-db-ca"
    mount = next(m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "db-ca")
    assert env["TRADEFLEET_DB__SSLROOTCERT"] == f"{mount['mountPath']}/ca.crt"
    assert "TRADEFLEET_DB__ALLOW_INSECURE" not in env
    assert not find(docs, "StatefulSet")


def test_bundled_postgres_jaeger_and_exchange_are_wired_together():
    docs = render(COMBOS["bundled-all"])
    env = _operator_environ(docs)
    secret = one(docs, "Secret", f"{RELEASE}-postgresql")["stringData"]
    assert env["TRADEFLEET_DB__DSN"] == f"<{RELEASE}-postgresql/dsn>"
    assert env["TRADEFLEET_OPERATOR_DB_SECRET"] == f"{RELEASE}-postgresql/dsn"
    assert secret["dsn"] == (f"postgresql://tradefleet:{secret['password']}@{RELEASE}-postgresql"
                             ":5432/tradefleet?sslmode=disable")
    assert len(secret["password"]) == 24
    pg = one(docs, "StatefulSet", f"{RELEASE}-postgresql")
    assert pg["spec"]["template"]["spec"]["containers"][0]["image"].startswith("postgres:")
    assert one(docs, "Service", f"{RELEASE}-postgresql")["spec"]["ports"][0]["port"] == 5432
    jaeger = one(docs, "Service", f"{RELEASE}-jaeger")
    assert {p["name"]: p["port"] for p in jaeger["spec"]["ports"]} == {
        "otlp-http": 4318, "otlp-grpc": 4317, "ui": 16686}
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://{RELEASE}-jaeger.{NAMESPACE}.svc:4318"
    assert env["OTEL_TRACES_EXPORTER"] == "otlp"
    # the operator passes OTEL_* on to every worker pod it creates (operator/pods.py)
    assert load_operator_config(env).pod_env["OTEL_EXPORTER_OTLP_ENDPOINT"] == \
        f"http://{RELEASE}-jaeger.{NAMESPACE}.svc:4318"
    exchange = one(docs, "Deployment", f"{RELEASE}-exchange")
    (c,) = exchange["spec"]["template"]["spec"]["containers"]
    assert c["command"] == ["tradefleet", "exchange"] and "--host=0.0.0.0" in c["args"]
    assert one(docs, "Service", f"{RELEASE}-exchange")["spec"]["ports"][0]["port"] == 8900
    # the simulator's server spans go to the same Jaeger (children of the workers' KIS calls)
    exchange_env = {e["name"]: e.get("value") for e in c["env"]}
    assert exchange_env["OTEL_EXPORTER_OTLP_ENDPOINT"] == env["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert exchange_env["OTEL_TRACES_EXPORTER"] == "otlp"


def test_without_jaeger_no_endpoint_and_a_collector_of_ones_own_is_used():
    assert not [k for k in _operator_environ(render(EXTERNAL)) if k.startswith("OTEL_")]
    env = _operator_environ(render(COMBOS["external-db-insecure-otel"]))
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability:4318"
    assert env["TRADEFLEET_DB__ALLOW_INSECURE"] == "true"


def test_the_simulated_clock_reaches_the_exchange_and_the_operator():
    docs = render(COMBOS["bundled-exchange-simclock"])
    clock = load_operator_config(_operator_environ(docs)).sim_clock
    assert clock is not None
    sim = SimClock.from_env(clock)          # what every sim process parses
    assert sim.sim_start == datetime(2026, 12, 2, 14, 0, tzinfo=SEOUL)
    assert (sim.speed, sim.real_start) == (60.0, 1796000000.0)
    (c,) = one(docs, "Deployment", f"{RELEASE}-exchange")["spec"]["template"]["spec"]["containers"]
    assert {"name": "TRADEFLEET_SIM_CLOCK", "value": clock} in c["env"]
    assert load_operator_config(_operator_environ(render(COMBOS["bundled-all"]))).sim_clock \
        is None


def test_the_service_monitor_needs_the_prometheus_operator_api_or_force():
    on = {**EXTERNAL, "metrics": {"serviceMonitor": {"enabled": True}}}
    assert not find(render(on), "ServiceMonitor")
    for docs in (render(on, api_versions=["monitoring.coreos.com/v1"]),
                 render({**EXTERNAL, "metrics": {"serviceMonitor": {"enabled": True,
                                                                    "force": True}}})):
        sm = one(docs, "ServiceMonitor", f"{RELEASE}-operator")
        assert sm["spec"]["endpoints"][0]["port"] == "metrics"
        pm = one(docs, "PodMonitor", f"{RELEASE}-workers")
        assert pm["spec"]["podMetricsEndpoints"][0]["port"] == "health"
        assert pm["spec"]["namespaceSelector"]["matchNames"] == [NAMESPACE]
    assert not find(render(EXTERNAL, api_versions=["monitoring.coreos.com/v1"]), "ServiceMonitor")


def test_dashboards_become_labelled_configmaps_and_no_files_render_nothing(tmp_path: Path):
    chart = tmp_path / "tradefleet"
    shutil.copytree(CHART, chart)
    shutil.rmtree(chart / "dashboards", ignore_errors=True)
    assert not _not_calendar(find(render(EXTERNAL, chart=chart), "ConfigMap", None))[1:], \
        "only the operator's settings (and the calendar overrides) without dashboards"
    (chart / "dashboards").mkdir()
    boards = {"fleet.json": {"title": "Fleet", "panels": []},
              "broker_latency.json": {"title": "Broker", "panels": [{"id": 1}]}}
    for name, board in boards.items():
        (chart / "dashboards" / name).write_text(json.dumps(board, indent=2))
    maps = [m for m in find(render(EXTERNAL, chart=chart), "ConfigMap")
            if m["metadata"]["labels"].get("grafana_dashboard") == "1"]
    assert {m["metadata"]["name"] for m in maps} == {
        f"{RELEASE}-dashboard-fleet", f"{RELEASE}-dashboard-broker-latency"}
    for m in maps:
        ((name, text),) = m["data"].items()
        assert json.loads(text) == boards[name]
    off = {**EXTERNAL, "metrics": {"dashboards": {"enabled": False}}}
    assert len(_not_calendar(find(render(off, chart=chart), "ConfigMap"))) == 1


def _not_calendar(maps: list[dict]) -> list[dict]:
    """Without the calendar overrides and the CRD upgrade hook's CRDs."""
    return [m for m in maps if m["metadata"]["name"] not in (
        f"{RELEASE}-calendar", f"{RELEASE}-operator-crd-upgrade")]


# (values, the field the error must name, what it must say)
BAD_VALUES = [
    pytest.param({}, "/database/existingSecret", "want 1", id="external-db-without-secret"),
    pytest.param({"database": {"existingSecret": "db"}}, "/database/caSecret", "want 1",
                 id="verify-full-without-ca"),
    pytest.param({"database": {"existingSecret": "db", "sslmode": "require"}},
                 "/database/allowInsecure", "must be true", id="weak-tls-not-accepted"),
    pytest.param({**EXTERNAL, "database": {**EXTERNAL["database"], "sslmode": "on"}},
                 "/database/sslmode", "must be one of", id="sslmode-enum"),
    pytest.param({**EXTERNAL, "image": {"repository": "tradefleet", "tag": "",
                                        "pullPolicy": "Sometimes"}},
                 "/image/pullPolicy", "must be one of", id="pull-policy-enum"),
    pytest.param({**EXTERNAL, "imagePullSecrets": [{"name": "Reg_Cred"}]},
                 "/imagePullSecrets/0/name", "pattern", id="pull-secret-name"),
    pytest.param({**EXTERNAL, "imagePullSecrets": ["regcred"]}, "/imagePullSecrets/0",
                 "want object", id="pull-secret-not-a-reference"),
    pytest.param({**EXTERNAL, "operator": {"logLevel": "LOUD"}}, "/operator/logLevel",
                 "must be one of", id="log-level-enum"),
    pytest.param({**EXTERNAL, "operator": {"metricsPort": "9100"}}, "/operator/metricsPort",
                 "want integer", id="port-type"),
    pytest.param({**EXTERNAL, "operator": {"resyncSeconds": 0}}, "/operator/resyncSeconds",
                 "minimum", id="resync-range"),
    pytest.param({**EXTERNAL, "operator": {"maxConcurrentRestarts": 0}},
                 "/operator/maxConcurrentRestarts", "minimum", id="restarts-at-once-range"),
    pytest.param({**EXTERNAL, "operator": {"restartWindow": "Lunch"}},
                 "/operator/restartWindow", "must be one of", id="restart-window-enum"),
    pytest.param({**EXTERNAL, "operator": {"watchNamespaces": ["Desk_A"]}},
                 "/operator/watchNamespaces/0", "pattern", id="namespace-name"),
    pytest.param({**EXTERNAL, "exchange": {"enabled": "yes"}}, "/exchange/enabled",
                 "want boolean", id="enabled-type"),
    pytest.param({**EXTERNAL, "exchange": {"start": "9:00"}}, "/exchange/start", "pattern",
                 id="exchange-start-format"),
    pytest.param({**EXTERNAL, "jaeger": {"enable": True}}, "/jaeger", "enable",
                 id="misspelt-key"),
    pytest.param({**EXTERNAL, "simulation": {"start": "14:00", "realStart": 1}},
                 "/simulation/start", "pattern", id="sim-start-not-iso"),
    pytest.param({**EXTERNAL, "simulation": {"start": "2026-12-02T14:00:00+09:00"}},
                 "/simulation/realStart", "want 1", id="sim-start-without-real-start"),
]


@pytest.mark.parametrize(("values", "field", "says"), BAD_VALUES)
def test_values_schema_rejects_bad_values_naming_the_field(values, field, says) -> None:  # noqa: ANN001
    done = run_helm("template", RELEASE, values=values)
    assert done.returncode != 0
    assert "values don't meet the specifications of the schema" in done.stderr, done.stderr
    assert f"at '{field}'" in done.stderr, done.stderr
    assert says in done.stderr, done.stderr
    assert not done.stdout.strip(), "nothing is rendered from bad values"


def test_notes_tell_the_user_what_to_run_next():
    done = run_helm("install", RELEASE, "--dry-run=client", "--namespace", NAMESPACE,
                    values=COMBOS["bundled-all"])
    assert done.returncode == 0, done.stderr
    notes = done.stdout.split("NOTES:", 1)[1]
    for line in ("kubectl -n tradefleet apply -f examples/tradingworker.yaml",
                 "kubectl -n tradefleet get tw",
                 "port-forward svc/tradefleet-jaeger 16686:16686",
                 "port-forward svc/kube-prometheus-stack-grafana 3000:80"):
        assert line in notes, notes


def _readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Running on Kubernetes")
    return text[start:text.index("\n## ", start + 1)]


def test_the_readme_cluster_section_uses_values_and_files_that_exist():
    section = _readme_section()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    keys = re.findall(r"--set(?:-string)? ([a-zA-Z.]+)=", section)
    assert "postgresql.enabled" in keys and "database.existingSecret" in keys
    for key in keys:
        node = values
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"README sets unknown value {key}"
            node = node[part]
    for path in re.findall(r"-f (examples/[\w.-]+\.yaml)", section):
        assert (ROOT / path).is_file(), path
    for svc in re.findall(r"svc/([\w-]+)", section):
        if svc.startswith(RELEASE):
            assert find(render(COMBOS["bundled-all"]), "Service", svc), svc
