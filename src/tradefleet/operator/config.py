"""The operator's own settings, from ``TRADEFLEET_OPERATOR_*`` environment variables. Bad
values stop start-up with every problem named by its variable; nothing is watched or written
before the whole configuration is valid."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from tradefleet.domain.errors import ConfigError
from tradefleet.operator.placement import WorkerPlacement, load_placement

PREFIX = "TRADEFLEET_OPERATOR_"
NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
SECRET_REF = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)/([-._a-zA-Z0-9]+)$")
# a Secret's name: a DNS-1123 subdomain
SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
RESTART_WINDOWS = ("Anytime", "OutsideTradingHours")


@dataclass(frozen=True, slots=True)
class SecretKeyRef:
    name: str
    key: str


@dataclass(frozen=True)
class OperatorConfig:
    namespaces: tuple[str, ...]
    worker_image: str
    # how worker pods pull their image (a TradingWorker's spec.pod.imagePullPolicy wins);
    # None: the cluster's default
    worker_image_pull_policy: str | None = None
    # Secrets (in the worker's namespace) for a private registry, on every worker pod
    worker_image_pull_secrets: tuple[str, ...] = ()
    # the database DSN every worker pod gets, from a Secret in the worker's namespace
    db_secret: SecretKeyRef | None = None
    # or literally (local clusters and tests only: it shows in the pod spec)
    pod_db_dsn: str | None = None
    pod_db_sslmode: str | None = None
    # the database server's CA certificate (verify-full), mounted into every worker pod
    pod_db_ca_secret: SecretKeyRef | None = None
    worker_health_port: int = 8080
    resync_seconds: float = 10.0
    # while a worker stays Ready its status.lastHeartbeat is rewritten only once it is this
    # old (a status write per worker per resync otherwise); 0: every heartbeat (status.py)
    heartbeat_status_seconds: float = 60.0
    delete_timeout_seconds: float = 600.0
    # a worker pod Pending this long (unschedulable, an image it cannot pull) turns the
    # TradingWorker's phase Degraded (pending.py); its cause is reported at once
    pod_pending_timeout_seconds: float = 300.0
    pre_open_minutes: int = 5
    identity: str = "tradefleet-operator"
    # which LiquidationSchedules are ours (their spec.operator): see ownership.py
    name: str = "tradefleet"
    # PriorityClass, affinity and tolerations of every worker pod (placement.py)
    worker_placement: WorkerPlacement = field(default_factory=WorkerPlacement)
    # the ConfigMap (in each watched namespace) of calendar overrides for worker pods
    worker_calendar_configmap: str | None = None
    liveness_port: int = 8081
    metrics_port: int = 9100             # GET /metrics (Prometheus); 0 = off
    # watch requests end after this long (server side) and are restarted; None: never
    watch_timeout_seconds: float | None = 300.0
    log_level: str = "INFO"
    # passed to every worker pod as is (OTEL_* of the operator's environment)
    pod_env: Mapping[str, str] = field(default_factory=dict)
    # TRADEFLEET_SIM_CLOCK: simulated sessions (sim mode pods only)
    sim_clock: str | None = None
    # paced restarts (a pod spec changed): at most this many workers replace their pod at
    # once, each slot held until the new pod is Ready; and, with OutsideTradingHours, no
    # running pod is replaced between the open and the close (rollout.py)
    max_concurrent_restarts: int = 1
    restart_window: str = "Anytime"
    # leader election (peering.py): the release's ClusterKopfPeering; None: standalone (one
    # replica, local runs). Priority None: from the replica's start time (the oldest leads)
    peering_name: str | None = None
    peering_priority: int | None = None
    peering_lifetime_seconds: int = 30
    # the account's WebSocket feed for every worker pod (issue 20; chart feed.enabled); None:
    # off. Every pod stands for the account's holder, one is elected through PostgreSQL
    feed_ws_url: str | None = None
    feed_lease_seconds: float = 3.0
    # the HTS id the chart's exchange simulator pushes fill notices to (sim-mode pods); real
    # and paper pods read theirs from their broker Secret's optional key htsId
    feed_sim_hts_id: str | None = None


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float,
            problems: list[str]) -> float:
    raw = env.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        problems.append(f"{PREFIX}{name}: not a number: {raw!r}")
        return default
    if not low <= value <= high:
        problems.append(f"{PREFIX}{name}: must be in {low:g}..{high:g}, got {raw}")
    return value


def _secret_ref(env: Mapping[str, str], name: str, problems: list[str]) -> SecretKeyRef | None:
    raw = env.get(PREFIX + name, "").strip()
    if not raw:
        return None
    found = SECRET_REF.match(raw)
    if found is None:
        problems.append(f"{PREFIX}{name}: expected SECRET/KEY, got {raw!r}")
        return None
    return SecretKeyRef(found.group(1), found.group(3))


def _pull_policy(env: Mapping[str, str], problems: list[str]) -> str | None:
    raw = env.get(PREFIX + "WORKER_IMAGE_PULL_POLICY", "").strip()
    if raw and raw not in PULL_POLICIES:
        problems.append(f"{PREFIX}WORKER_IMAGE_PULL_POLICY: one of {', '.join(PULL_POLICIES)}, "
                        f"got {raw!r}")
        return None
    return raw or None


def _pull_secrets(env: Mapping[str, str], problems: list[str]) -> tuple[str, ...]:
    raw = env.get(PREFIX + "WORKER_IMAGE_PULL_SECRETS", "")
    names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
    problems += [f"{PREFIX}WORKER_IMAGE_PULL_SECRETS: not a Secret name: {n!r}" for n in names
                 if len(n) > 253 or not SECRET_NAME.match(n)]
    return names


def _restart_window(env: Mapping[str, str], problems: list[str]) -> str:
    raw = env.get(PREFIX + "RESTART_WINDOW", "").strip() or "Anytime"
    if raw not in RESTART_WINDOWS:
        problems.append(f"{PREFIX}RESTART_WINDOW: one of {', '.join(RESTART_WINDOWS)}, "
                        f"got {raw!r}")
        return "Anytime"
    return raw


def _priority(env: Mapping[str, str], problems: list[str]) -> int | None:
    raw = env.get(PREFIX + "PEERING_PRIORITY", "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        problems.append(f"{PREFIX}PEERING_PRIORITY: not an integer: {raw!r}")
        return None


def load_operator_config(environ: Mapping[str, str] | None = None) -> OperatorConfig:
    env = os.environ if environ is None else environ
    problems: list[str] = []
    raw_ns = env.get(PREFIX + "NAMESPACES") or env.get("POD_NAMESPACE", "")
    namespaces = tuple(n.strip() for n in raw_ns.split(",") if n.strip())
    if not namespaces:
        problems.append(f"{PREFIX}NAMESPACES: list the namespaces to watch (comma-separated)")
    problems += [f"{PREFIX}NAMESPACES: not a namespace name: {n!r}" for n in namespaces
                 if not NAMESPACE.match(n)]
    image = env.get(PREFIX + "WORKER_IMAGE", "").strip()
    if not image:
        problems.append(f"{PREFIX}WORKER_IMAGE: the image worker pods run (unless a "
                        "TradingWorker sets spec.pod.image)")
    raw_ref = env.get(PREFIX + "DB_SECRET", "").strip()
    db_secret = _secret_ref(env, "DB_SECRET", problems)
    pod_db_ca = _secret_ref(env, "POD_DB_CA_SECRET", problems)
    pod_dsn = env.get(PREFIX + "POD_DB_DSN") or None
    if not raw_ref and pod_dsn is None:
        problems.append(f"{PREFIX}DB_SECRET: name the Secret (SECRET/KEY) holding the DSN "
                        "worker pods use")
    sslmode = env.get(PREFIX + "POD_DB_SSLMODE") or None
    config = OperatorConfig(
        namespaces=namespaces, worker_image=image,
        worker_image_pull_policy=_pull_policy(env, problems),
        worker_image_pull_secrets=_pull_secrets(env, problems),
        db_secret=db_secret, pod_db_dsn=pod_dsn,
        pod_db_sslmode=sslmode, pod_db_ca_secret=pod_db_ca,
        worker_health_port=int(_number(env, "WORKER_HEALTH_PORT", 8080, 1, 65535, problems)),
        resync_seconds=_number(env, "RESYNC_SECONDS", 10.0, 1, 600, problems),
        heartbeat_status_seconds=_number(env, "HEARTBEAT_STATUS_SECONDS", 60.0, 0, 3600,
                                         problems),
        delete_timeout_seconds=_number(env, "DELETE_TIMEOUT_SECONDS", 600.0, 10, 86400,
                                       problems),
        pod_pending_timeout_seconds=_number(env, "POD_PENDING_TIMEOUT_SECONDS", 300.0, 10,
                                           86400, problems),
        pre_open_minutes=int(_number(env, "PRE_OPEN_MINUTES", 5, 0, 120, problems)),
        identity=env.get(PREFIX + "IDENTITY") or "tradefleet-operator",
        name=env.get(PREFIX + "NAME") or "tradefleet",
        worker_placement=load_placement(env, problems),
        worker_calendar_configmap=env.get(PREFIX + "WORKER_CALENDAR_CONFIGMAP") or None,
        liveness_port=int(_number(env, "LIVENESS_PORT", 8081, 0, 65535, problems)),
        metrics_port=int(_number(env, "METRICS_PORT", 9100, 0, 65535, problems)),
        log_level=(env.get(PREFIX + "LOG_LEVEL") or "INFO").upper(),
        # OTEL_SERVICE_NAME names the operator itself; its pods are tradefleet-worker
        pod_env={k: v for k, v in env.items()
                 if k.startswith("OTEL_") and k != "OTEL_SERVICE_NAME"},
        sim_clock=env.get("TRADEFLEET_SIM_CLOCK") or None,
        max_concurrent_restarts=int(_number(env, "MAX_CONCURRENT_RESTARTS", 1, 1, 1000,
                                            problems)),
        restart_window=_restart_window(env, problems),
        peering_name=env.get(PREFIX + "PEERING_NAME", "").strip() or None,
        peering_priority=_priority(env, problems),
        peering_lifetime_seconds=int(_number(env, "PEERING_LIFETIME_SECONDS", 30, 5, 600,
                                             problems)),
        feed_ws_url=env.get(PREFIX + "FEED_WS_URL", "").strip() or None,
        feed_lease_seconds=_number(env, "FEED_LEASE_SECONDS", 3.0, 1, 60, problems),
        feed_sim_hts_id=env.get(PREFIX + "FEED_SIM_HTS_ID", "").strip() or None)
    if config.feed_ws_url is not None and not re.match(r"^wss?://[^\s/:]+(:\d{1,5})?(/\S*)?$",
                                                       config.feed_ws_url):
        problems.append(f"{PREFIX}FEED_WS_URL: a ws:// or wss:// URL, got "
                        f"{config.feed_ws_url!r}")
    if config.peering_name is not None and not re.match(
            r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", config.peering_name):
        problems.append(f"{PREFIX}PEERING_NAME: not an object name: {config.peering_name!r}")
    if config.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        problems.append(f"{PREFIX}LOG_LEVEL: one of DEBUG, INFO, WARNING, ERROR")
    if not re.match(r"^[a-z0-9][a-z0-9-]{0,62}$", config.identity):
        problems.append(f"{PREFIX}IDENTITY: lower-case letters, digits and '-'")
    if not re.match(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", config.name):
        problems.append(f"{PREFIX}NAME: lower-case letters, digits and '-', at most 63 "
                        "(LiquidationSchedules name it in spec.operator)")
    if problems:
        raise ConfigError("invalid operator configuration:\n  - " + "\n  - ".join(problems))
    return config
