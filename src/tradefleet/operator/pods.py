"""The pod of a TradingWorker: one bare Pod running ``tradefleet worker`` with the spec as
``TRADEFLEET_*`` environment, broker secrets from the referenced Secrets, the key mounted as a
file, probes on the worker's own /healthz and /readyz, and a termination grace long enough
to settle an order in flight.

``restartPolicy: Never``: a container restarted in place by its kubelet would register the
worker again under a new epoch, and a kubelet cut off from the cluster would do so behind
the operator's back, fencing the replacement the operator started elsewhere. Every new
process of a worker is therefore a new pod, started by the operator only when Postgres says
the previous one is gone."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tradefleet.operator.calendar_mount import mount_calendar
from tradefleet.operator.config import OperatorConfig
from tradefleet.operator.placement import apply_placement
from tradefleet.operator.resources import API_VERSION, TradingWorkerSpec

CONTAINER = "worker"
KEY_DIR = "/var/run/secrets/tradefleet/key"
DB_CA_DIR = "/var/run/secrets/tradefleet/db-ca"
WORKER_LABEL = "tradefleet.io/worker"
SPEC_HASH = "tradefleet.io/spec-hash"
EPOCH_BEFORE = "tradefleet.io/epoch-before"
MANAGED_BY = {"app.kubernetes.io/managed-by": "tradefleet-operator"}
# What only shapes a worker's own telemetry (its log level, where its traces go): left out of
# the spec hash, so that changing them (helm upgrade --set operator.logLevel=DEBUG) replaces
# no running worker; each worker reads them at start-up, so they apply from its next pod on,
# at the latest the next session's (pods end after each close). Taking them live would need
# a reload path in the worker, not worth its risk mid-session for a log level.
NO_RESTART_ENV = ("TRADEFLEET_LOG_LEVEL",)
NO_RESTART_ENV_PREFIXES = ("OTEL_",)
DEFAULT_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"},
                     "limits": {"memory": "512Mi"}}


def labels_for(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "tradefleet-worker", "app.kubernetes.io/instance": name,
            "app.kubernetes.io/component": "worker", "app.kubernetes.io/part-of": "tradefleet",
            **MANAGED_BY, WORKER_LABEL: name}


def _env(name: str, value: Any) -> dict[str, Any]:
    return {"name": name, "value": value if isinstance(value, str) else json.dumps(value)}


def _from_secret(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _feed_env(spec: TradingWorkerSpec, config: OperatorConfig) -> list[dict]:
    """The account's feed (chart feed.enabled): nothing at all when off, so pods made
    before the feed existed keep their spec hash (no restart)."""
    if config.feed_ws_url is None:
        return []
    env = [_env("TRADEFLEET_FEED__ENABLED", "true"),
           _env("TRADEFLEET_FEED__WS_URL", config.feed_ws_url),
           _env("TRADEFLEET_FEED__LEASE_SECONDS", config.feed_lease_seconds)]
    if spec.credentials is not None:
        ref = _from_secret("TRADEFLEET_FEED__HTS_ID", spec.credentials.secret_name, "htsId")
        ref["valueFrom"]["secretKeyRef"]["optional"] = True
        env.append(ref)
    elif spec.mode == "sim" and config.feed_sim_hts_id:
        env.append(_env("TRADEFLEET_FEED__HTS_ID", config.feed_sim_hts_id))
    return env


def worker_env(name: str, spec: TradingWorkerSpec, config: OperatorConfig) -> list[dict]:
    """What ``tradefleet worker`` reads (settings/model.py), field for field."""
    env = [_env("TRADEFLEET_WORKER_ID", name), _env("TRADEFLEET_MODE", spec.mode),
           _env("TRADEFLEET_CONFIRM_REAL_TRADING", spec.confirm_real_trading),
           _env("TRADEFLEET_BROKER__BASE_URL", spec.broker.base_url),
           _env("TRADEFLEET_RISK__CAPITAL_LIMIT", spec.capital_limit),
           _env("TRADEFLEET_RISK__DAILY_LOSS_LIMIT", spec.daily_loss_limit),
           _env("TRADEFLEET_RISK__LIQUIDATION_OFFSET_MINUTES", spec.liquidation_offset_minutes),
           _env("TRADEFLEET_RISK__ENTRY_CUTOFF_MINUTES", spec.entry_cutoff_minutes),
           _env("TRADEFLEET_POLL_INTERVAL_SECONDS", spec.poll_interval_seconds),
           _env("TRADEFLEET_UNIVERSE", ",".join(spec.universe)),
           _env("TRADEFLEET_STRATEGY__NAME", spec.strategy.name),
           _env("TRADEFLEET_LOCKS__TTL_SECONDS", spec.locks.ttl_seconds),
           _env("TRADEFLEET_LOCKS__HEARTBEAT_INTERVAL_SECONDS",
                spec.locks.heartbeat_interval_seconds),
           _env("TRADEFLEET_HEALTH_PORT", config.worker_health_port),
           _env("TRADEFLEET_LOG_LEVEL", config.log_level)]
    if spec.broker.rate_limit_per_second is not None:
        env.append(_env("TRADEFLEET_BROKER__RATE_LIMIT_PER_SECOND",
                        spec.broker.rate_limit_per_second))
    if spec.strategy.param_version is not None:
        env.append(_env("TRADEFLEET_STRATEGY__PARAM_VERSION", spec.strategy.param_version))
    for param, value in sorted(spec.strategy.params.items()):
        env.append(_env(f"TRADEFLEET_STRATEGY__PARAMS__{param.upper()}", value))
    if config.db_secret is not None:
        env.append(_from_secret("TRADEFLEET_DB__DSN", config.db_secret.name,
                                config.db_secret.key))
    elif config.pod_db_dsn is not None:
        env.append(_env("TRADEFLEET_DB__DSN", config.pod_db_dsn))
    if config.pod_db_sslmode:
        env.append(_env("TRADEFLEET_DB__SSLMODE", config.pod_db_sslmode))
    if config.pod_db_ca_secret is not None:
        env.append(_env("TRADEFLEET_DB__SSLROOTCERT", f"{DB_CA_DIR}/ca.crt"))
    if spec.credentials is not None:
        secret = spec.credentials.secret_name
        env += [_from_secret("TRADEFLEET_BROKER__APPKEY", secret, "appkey"),
                _from_secret("TRADEFLEET_BROKER__APPSECRET", secret, "appsecret"),
                _from_secret("TRADEFLEET_ACCOUNT__CANO", secret, "cano"),
                _env("TRADEFLEET_KEY_FILE", f"{KEY_DIR}/key")]
    if spec.mode == "sim" and config.sim_clock:
        env.append(_env("TRADEFLEET_SIM_CLOCK", config.sim_clock))
    env += _feed_env(spec, config)
    otel = dict(config.pod_env)
    otel.setdefault("OTEL_SERVICE_NAME", "tradefleet-worker")
    attrs = [a for a in otel.get("OTEL_RESOURCE_ATTRIBUTES", "").split(",") if a]
    otel["OTEL_RESOURCE_ATTRIBUTES"] = ",".join([*attrs, f"service.instance.id={name}"])
    env += [_env(k, v) for k, v in sorted(otel.items())]
    return env


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "health"}, "periodSeconds": period,
            "timeoutSeconds": 3, "failureThreshold": failures}


def _container(name: str, spec: TradingWorkerSpec, config: OperatorConfig) -> dict[str, Any]:
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]  # noqa: S108 - the pod's own emptyDir
    if spec.credentials is not None:
        mounts.append({"name": "key", "mountPath": KEY_DIR, "readOnly": True})
    if config.pod_db_ca_secret is not None:
        mounts.append({"name": "db-ca", "mountPath": DB_CA_DIR, "readOnly": True})
    container: dict[str, Any] = {
        "name": CONTAINER, "image": spec.pod.image or config.worker_image,
        "command": ["tradefleet", "worker"], "env": worker_env(name, spec, config),
        "ports": [{"name": "health", "containerPort": config.worker_health_port}],
        # start-up authenticates, registers and recovers; then the heartbeat must keep going
        "startupProbe": _probe("/healthz", 2, 90),
        "livenessProbe": _probe("/healthz", 10, 3),
        "readinessProbe": _probe("/readyz", 5, 2),
        "resources": spec.pod.resources or DEFAULT_RESOURCES,
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": mounts,
    }
    if spec.pod.image_pull_policy:
        container["imagePullPolicy"] = spec.pod.image_pull_policy
    return container


def pod_spec(name: str, spec: TradingWorkerSpec, config: OperatorConfig) -> dict[str, Any]:
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    if spec.credentials is not None:
        volumes.append({"name": "key", "secret": {
            "secretName": spec.credentials.key_secret_name, "defaultMode": 0o440,
            "items": [{"key": "key", "path": "key"}]}})
    if config.pod_db_ca_secret is not None:
        ca = config.pod_db_ca_secret
        volumes.append({"name": "db-ca", "secret": {
            "secretName": ca.name, "items": [{"key": ca.key, "path": "ca.crt"}]}})
    out: dict[str, Any] = {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": spec.pod.termination_grace_period_seconds,
        "automountServiceAccountToken": False,     # a worker never talks to the API
        "enableServiceLinks": False,
        # fsGroup: the Secret volumes (mode 0400/0440) are group-owned by it, so the
        # non-root worker can read its key and CA certificate
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                            "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [_container(name, spec, config)],
        "volumes": volumes,
    }
    if spec.pod.node_selector:
        out["nodeSelector"] = dict(spec.pod.node_selector)
    if spec.pod.tolerations:
        out["tolerations"] = [dict(t) for t in spec.pod.tolerations]
    return out


def _pull_settings(body: dict[str, Any], config: OperatorConfig) -> None:
    """How the image is fetched, not what runs: added after the spec hash, so a changed pull
    policy or registry Secret applies to the next pod instead of replacing every running
    worker mid-session. A TradingWorker's own spec.pod.imagePullPolicy is part of its spec
    (and of the hash) and wins."""
    (container,) = body["containers"]
    if config.worker_image_pull_policy:
        container.setdefault("imagePullPolicy", config.worker_image_pull_policy)
    if config.worker_image_pull_secrets:
        body["imagePullSecrets"] = [{"name": n} for n in config.worker_image_pull_secrets]


def _needs_restart(env: dict[str, Any]) -> bool:
    name = env["name"]
    return name not in NO_RESTART_ENV and not name.startswith(NO_RESTART_ENV_PREFIXES)


def spec_hash(pod: dict[str, Any]) -> str:
    """Of what the pod runs, less what may wait for the next pod (NO_RESTART_ENV): a
    different hash means the running pod must be replaced."""
    pod = json.loads(json.dumps(pod))
    for container in pod.get("containers") or []:
        container["env"] = [e for e in container.get("env") or [] if _needs_restart(e)]
    text = json.dumps(pod, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def pod_name(name: str, uid: str, hash_: str, epoch_before: int, serial: int) -> str:
    """``<worker>-<5 hex>``, at most 63 characters (a pod's hostname is its name), unique per
    (worker, spec, registration, attempt)."""
    digest = hashlib.sha256(f"{uid}/{hash_}/{epoch_before}/{serial}".encode()).hexdigest()
    return f"{name[:57]}-{digest[:5]}"


def build_pod(*, name: str, namespace: str, uid: str, spec: TradingWorkerSpec,
              config: OperatorConfig, epoch_before: int, serial: int) -> dict[str, Any]:
    """The whole Pod manifest. ``epoch_before`` is the worker row's epoch when the pod is made:
    a process of this pod registers with a higher one, which tells the operator which pod
    the database row speaks for."""
    body = pod_spec(name, spec, config)
    hash_ = spec_hash(body)
    _pull_settings(body, config)
    apply_placement(body, config.worker_placement)
    mount_calendar(body, config.worker_calendar_configmap)
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": pod_name(name, uid, hash_, epoch_before, serial), "namespace": namespace,
            "labels": labels_for(name),
            "annotations": {SPEC_HASH: hash_, EPOCH_BEFORE: str(epoch_before)},
            "ownerReferences": [{"apiVersion": API_VERSION, "kind": "TradingWorker",
                                 "name": name, "uid": uid, "controller": True,
                                 "blockOwnerDeletion": True}],
        },
        "spec": body,
    }
