"""The pod manifest of a TradingWorker: ownership, labels, probes on the worker's own health
endpoints, secrets by reference, and an environment that the worker's real settings loader
turns back into exactly the spec."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from tests.operator.factories import CONFIG, SPEC

from tradefleet.domain.errors import ConfigError
from tradefleet.operator.config import OperatorConfig, SecretKeyRef, load_operator_config
from tradefleet.operator.pods import EPOCH_BEFORE, SPEC_HASH, build_pod, labels_for
from tradefleet.operator.resources import SpecError, parse_worker_spec
from tradefleet.settings import load_settings
from tradefleet.settings.secrets import encrypt

PAPER = {**SPEC, "mode": "paper", "broker": {"baseUrl": "https://paper.example:29443",
                                            "rateLimitPerSecond": 2},
         "credentials": {"secretName": "kis-paper", "keySecretName": "fleet-key"},
         "liquidationOffsetMinutes": 12, "entryCutoffMinutes": 7, "pollIntervalSeconds": 2.5,
         "strategy": {"name": "ma_breakout", "params": {"short": 3, "long": 15,
                                                        "min_score": 0.01}},
         "locks": {"ttlSeconds": 15, "heartbeatIntervalSeconds": 5},
         "pod": {"image": "reg/tf:2", "terminationGracePeriodSeconds": 120,
                 "nodeSelector": {"pool": "trading"},
                 "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "t",
                                  "effect": "NoSchedule"}]}}


def _pod(spec: dict, config: OperatorConfig = CONFIG, **kw) -> dict:  # noqa: ANN003
    return build_pod(name=kw.pop("name", "w-1"), namespace="trading", uid="uid-9",
                     spec=parse_worker_spec(spec), config=config,
                     epoch_before=kw.pop("epoch_before", 4), serial=kw.pop("serial", 0))


def _resolved_env(pod: dict, secrets: dict[str, dict[str, str]], key_dir: Path) -> dict:
    """The environment a kubelet would give the container: secretKeyRefs resolved, the key
    Secret's volume written to ``key_dir`` (and the variable pointed there)."""
    env = {}
    (container,) = pod["spec"]["containers"]
    for item in container["env"]:
        if "valueFrom" in item:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secrets[ref["name"]][ref["key"]]
        else:
            env[item["name"]] = item["value"]
    for volume in pod["spec"]["volumes"]:
        if "secret" in volume:
            (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
            for item in volume["secret"]["items"]:
                (key_dir / item["path"]).write_text(secrets[volume["secret"]["secretName"]][
                    item["key"]])
            env["TRADEFLEET_KEY_FILE"] = env["TRADEFLEET_KEY_FILE"].replace(
                mount["mountPath"], str(key_dir))
    return env


def test_the_pod_is_owned_labelled_probed_and_never_restarted_in_place():
    pod = _pod(SPEC)
    meta, spec = pod["metadata"], pod["spec"]
    assert meta["ownerReferences"] == [{
        "apiVersion": "tradefleet.io/v1alpha1", "kind": "TradingWorker", "name": "w-1",
        "uid": "uid-9", "controller": True, "blockOwnerDeletion": True}]
    assert meta["labels"] == labels_for("w-1")
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "tradefleet-operator"
    assert meta["annotations"][EPOCH_BEFORE] == "4" and len(meta["annotations"][SPEC_HASH]) == 16
    assert spec["restartPolicy"] == "Never" and spec["automountServiceAccountToken"] is False
    assert spec["terminationGracePeriodSeconds"] == 90
    (container,) = spec["containers"]
    assert container["command"] == ["tradefleet", "worker"]
    assert container["image"] == "tradefleet:test"
    assert container["ports"] == [{"name": "health", "containerPort": 8080}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    env = {e["name"]: e for e in container["env"]}
    assert env["TRADEFLEET_HEALTH_PORT"]["value"] == "8080"
    assert env["TRADEFLEET_DB__DSN"] == {"name": "TRADEFLEET_DB__DSN", "valueFrom": {
        "secretKeyRef": {"name": "tradefleet-db", "key": "dsn"}}}
    assert "TRADEFLEET_BROKER__APPKEY" not in env          # sim: the simulator's defaults


def test_overrides_reach_the_pod_and_secrets_stay_references():
    pod = _pod(PAPER)
    spec = pod["spec"]
    (container,) = spec["containers"]
    assert container["image"] == "reg/tf:2" and spec["terminationGracePeriodSeconds"] == 120
    assert spec["nodeSelector"] == {"pool": "trading"}
    assert spec["tolerations"][0]["key"] == "dedicated"
    env = {e["name"]: e for e in container["env"]}
    for name, key in (("TRADEFLEET_BROKER__APPKEY", "appkey"),
                      ("TRADEFLEET_BROKER__APPSECRET", "appsecret"),
                      ("TRADEFLEET_ACCOUNT__CANO", "cano")):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "kis-paper", "key": key}
    (key_volume,) = [v for v in spec["volumes"] if "secret" in v]
    assert key_volume["secret"]["secretName"] == "fleet-key"
    # readable by the pod's group only: the worker runs as 10001, not as the files' owner
    assert key_volume["secret"]["defaultMode"] == 0o440
    assert spec["securityContext"]["fsGroup"] == spec["securityContext"]["runAsGroup"] == 10001
    secret_env = [e for e in container["env"] if e["name"].endswith(("APPKEY", "APPSECRET",
                                                                      "CANO"))]
    assert all("value" not in e for e in secret_env) and len(secret_env) == 3


def test_the_worker_settings_loader_reads_back_exactly_the_spec(tmp_path: Path):
    fernet_key = Fernet.generate_key()
    fernet = Fernet(fernet_key)
    secrets = {"kis-paper": {"appkey": encrypt(fernet, "PSAPPKEY123"),
                             "appsecret": encrypt(fernet, "app-secret"),
                             "cano": encrypt(fernet, "50001234")},
               "fleet-key": {"key": fernet_key.decode()},
               "tradefleet-db": {"dsn": "postgresql://tf@127.0.0.1:5432/tradefleet"}}
    env = _resolved_env(_pod(PAPER), secrets, tmp_path)
    settings = load_settings(None, env)
    assert settings.worker_id == "w-1" and settings.mode == "paper"
    assert settings.broker.base_url == "https://paper.example:29443"
    assert settings.broker.rate_limit_per_second == 2
    assert settings.broker.appkey.get_secret_value() == "PSAPPKEY123"
    assert settings.account.cano.get_secret_value() == "50001234"
    assert (settings.risk.capital_limit, settings.risk.daily_loss_limit) == (5_000_000, 1_000_000)
    assert settings.risk.liquidation_offset_minutes == 12
    assert settings.risk.entry_cutoff_minutes == 7
    assert settings.poll_interval_seconds == 2.5
    assert settings.universe == ["005930", "000660"]
    assert settings.strategy.params == {"short": 3, "long": 15, "min_score": 0.01}
    assert (settings.locks.ttl_seconds, settings.locks.heartbeat_interval_seconds) == (15, 5)
    assert settings.health_port == 8080
    assert settings.db.dsn.get_secret_value().startswith("postgresql://tf@127.0.0.1")


def test_otel_is_passed_through_and_the_sim_clock_only_to_sim_pods():
    config = OperatorConfig(namespaces=("t",), worker_image="i", pod_db_dsn="postgresql://x",
                            pod_env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318",
                                     "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod"},
                            sim_clock='{"speed": 60}')

    def env_of(spec: dict) -> dict:
        (container,) = _pod(spec, config)["spec"]["containers"]
        return {e["name"]: e.get("value") for e in container["env"]}
    sim = env_of(SPEC)
    assert sim["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel:4318"
    assert sim["OTEL_SERVICE_NAME"] == "tradefleet-worker"
    assert sim["OTEL_RESOURCE_ATTRIBUTES"] == \
        "deployment.environment=prod,service.instance.id=w-1"
    assert sim["TRADEFLEET_SIM_CLOCK"] == '{"speed": 60}'
    assert sim["TRADEFLEET_DB__DSN"] == "postgresql://x"
    assert "TRADEFLEET_SIM_CLOCK" not in env_of(PAPER)


def test_names_fit_a_hostname_and_differ_per_attempt_and_hash_follows_the_spec():
    long_name = "w" * 63
    names = {_pod(SPEC, name=long_name, serial=s, epoch_before=e)["metadata"]["name"]
             for s in range(3) for e in range(3)}
    assert len(names) == 9 and all(len(n) <= 63 for n in names)
    same = [_pod(SPEC, serial=s)["metadata"]["annotations"][SPEC_HASH] for s in range(2)]
    assert same[0] == same[1]
    changed = _pod({**SPEC, "pollIntervalSeconds": 7})["metadata"]["annotations"][SPEC_HASH]
    assert changed != same[0]
    config = OperatorConfig(namespaces=("t",), worker_image="other:1",
                            db_secret=SecretKeyRef("tradefleet-db", "dsn"))
    assert _pod(SPEC, config)["metadata"]["annotations"][SPEC_HASH] != same[0]


PULLED = OperatorConfig(namespaces=("t",), worker_image="reg.example/tf:1",
                        worker_image_pull_policy="Always",
                        worker_image_pull_secrets=("regcred", "mirror.cred"),
                        db_secret=SecretKeyRef("tradefleet-db", "dsn"))


def test_every_worker_pod_is_pulled_with_the_operators_policy_and_registry_secrets():
    for spec in (SPEC, PAPER):
        body = _pod(spec, PULLED)["spec"]
        assert body["imagePullSecrets"] == [{"name": "regcred"}, {"name": "mirror.cred"}]
        (container,) = body["containers"]
        assert container["imagePullPolicy"] == "Always"
    # the TradingWorker's own image (PAPER) is still what it runs
    assert _pod(PAPER, PULLED)["spec"]["containers"][0]["image"] == "reg/tf:2"
    assert _pod(SPEC, PULLED)["spec"]["containers"][0]["image"] == "reg.example/tf:1"
    # unset: nothing on the pod, the cluster's defaults apply
    plain = _pod(SPEC)["spec"]
    assert "imagePullSecrets" not in plain and "imagePullPolicy" not in plain["containers"][0]


def test_a_workers_own_pull_policy_wins_over_the_operators():
    own = {**PAPER, "pod": {**PAPER["pod"], "imagePullPolicy": "Never"}}
    body = _pod(own, PULLED)["spec"]
    assert body["containers"][0]["imagePullPolicy"] == "Never"
    assert body["imagePullSecrets"] == [{"name": "regcred"}, {"name": "mirror.cred"}]


def test_pull_settings_do_not_replace_running_pods_but_the_workers_own_policy_does():
    """How the image is fetched is not what the pod runs: changing the operator's pull
    settings must not replace every running worker mid-session (a new hash would)."""
    def hash_of(spec: dict, config: OperatorConfig) -> str:
        return _pod(spec, config)["metadata"]["annotations"][SPEC_HASH]
    unpulled = OperatorConfig(namespaces=("t",), worker_image="reg.example/tf:1",
                              db_secret=SecretKeyRef("tradefleet-db", "dsn"))
    assert hash_of(SPEC, PULLED) == hash_of(SPEC, unpulled)
    own = {**SPEC, "pod": {"imagePullPolicy": "Always"}}
    assert hash_of(own, unpulled) != hash_of(SPEC, unpulled)


PULL_ENV = {"TRADEFLEET_OPERATOR_NAMESPACES": "trading",
            "TRADEFLEET_OPERATOR_WORKER_IMAGE": "reg.example/tf:1",
            "TRADEFLEET_OPERATOR_DB_SECRET": "tradefleet-db/dsn"}


def test_the_pull_settings_are_read_from_the_environment():
    config = load_operator_config({
        **PULL_ENV, "TRADEFLEET_OPERATOR_WORKER_IMAGE_PULL_POLICY": "IfNotPresent",
        "TRADEFLEET_OPERATOR_WORKER_IMAGE_PULL_SECRETS": " regcred, mirror.cred,,regcred "})
    assert config.worker_image_pull_policy == "IfNotPresent"
    assert config.worker_image_pull_secrets == ("regcred", "mirror.cred")
    (container,) = _pod(SPEC, config)["spec"]["containers"]
    assert container["imagePullPolicy"] == "IfNotPresent"
    empty = load_operator_config({**PULL_ENV,
                                  "TRADEFLEET_OPERATOR_WORKER_IMAGE_PULL_POLICY": "",
                                  "TRADEFLEET_OPERATOR_WORKER_IMAGE_PULL_SECRETS": ""})
    assert (empty.worker_image_pull_policy, empty.worker_image_pull_secrets) == (None, ())


@pytest.mark.parametrize(("name", "raw", "says"), [
    ("WORKER_IMAGE_PULL_POLICY", "always", ": one of Always, IfNotPresent, Never, got 'always'"),
    ("WORKER_IMAGE_PULL_POLICY", "Sometimes", "got 'Sometimes'"),
    ("WORKER_IMAGE_PULL_SECRETS", "regcred,Reg_Cred", "not a Secret name: 'Reg_Cred'"),
    ("WORKER_IMAGE_PULL_SECRETS", "a/b", "not a Secret name: 'a/b'"),
    ("WORKER_IMAGE_PULL_SECRETS", "x" * 254, "not a Secret name"),
])
def test_bad_pull_settings_are_refused_naming_the_variable(name: str, raw: str,
                                                            says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_operator_config({**PULL_ENV, f"TRADEFLEET_OPERATOR_{name}": raw})
    (line,) = [p for p in str(refused.value).splitlines() if f"TRADEFLEET_OPERATOR_{name}:" in p]
    assert says in line


def test_the_entry_cutoff_defaults_to_ten_and_a_shorter_one_than_a_liquidation_is_refused():
    env = {e["name"]: e.get("value") for e in _pod(SPEC)["spec"]["containers"][0]["env"]}
    assert env["TRADEFLEET_RISK__ENTRY_CUTOFF_MINUTES"] == "10"
    with pytest.raises(SpecError) as info:
        parse_worker_spec({**SPEC, "entryCutoffMinutes": 4})
    assert info.value.problems == [
        "spec.entryCutoffMinutes: must be at least 5 minutes, the time a forced liquidation "
        "needs to undo an entry, got 4"]
