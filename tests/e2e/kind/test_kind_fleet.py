"""The fleet on a real Kubernetes cluster (kind), as a user installs it:

    python3 -m pytest tests/e2e/kind -v -ra

Needs docker (with a daemon that answers), kind, helm and kubectl on PATH; anywhere else
every test here is SKIPPED, the missing tools named in the reason. It creates the kind
cluster ``tradefleet-e2e`` (TRADEFLEET_KIND_CLUSTER) with its own kubeconfig file, builds
the image from the Dockerfile and loads it into the cluster, ``helm install``s the chart with
the simulator, the bundled PostgreSQL and Jaeger (values-e2e.yaml) on one simulated session
of the next KRX day (TRADEFLEET_KIND_SIM_MINUTES before the close at install, default 150,
at TRADEFLEET_KIND_SIM_SPEED, default 15), applies examples/tradingworker.yaml and
examples/liquidationschedule.yaml and then: every TradingWorker becomes Ready; a worker pod deleted
(forced, as a crash) is recreated with no symbol ever held by two workers (lock events
replayed from Postgres); Jaeger holds worker traces with the exchange's server span as a
child; the session runs to its forced liquidation (condition Liquidated) and the workers' day
ends with everything flat, in Postgres and in the simulator's own books (each of its
executions in exactly one of our orders, fills adding up); uninstall leaves
nothing running. The cluster is
deleted at the end (TRADEFLEET_KIND_KEEP=1 keeps it for a look). About 10-20 minutes,
mostly the image build and the simulated session (TRADEFLEET_KIND_SESSION_TIMEOUT, s)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from tests.e2e.kind.readings import (
    condition,
    crd_resource,
    pod_ready,
    proxy_path,
    service_of_url,
    simulation_values,
    trading_workers,
    worker_pods,
    worker_to_exchange_links,
)
from tests.e2e.kind.rig import KindCluster, run, until, what_is_missing

from tradefleet.adapters.calendar_cache import krx_calendar
from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.postgres.lock_history import replay_lock_events
from tradefleet.adapters.sim.exchange.books_client import books_from_json
from tradefleet.domain.calendar import TradingSession
from tradefleet.local_fleet.books_check import OUR_FILLS, judge_books

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "tradefleet"
EXAMPLE = ROOT / "examples" / "tradingworker.yaml"
SCHEDULE = ROOT / "examples" / "liquidationschedule.yaml"
VALUES = Path(__file__).with_name("values-e2e.yaml")
IMAGE_REPOSITORY, IMAGE_TAG = "tradefleet", "kind-e2e"
RELEASE = NAMESPACE = "tradefleet"
WORKER_SERVICE = "tradefleet-worker"
JAEGER_UI_PORT = 16686
SESSION_TIMEOUT = float(os.environ.get("TRADEFLEET_KIND_SESSION_TIMEOUT", "1800"))
SIM_MINUTES = float(os.environ.get("TRADEFLEET_KIND_SIM_MINUTES", "150"))
SIM_SPEED = float(os.environ.get("TRADEFLEET_KIND_SIM_SPEED", "15"))

MISSING = what_is_missing()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(MISSING), reason="kind end-to-end needs "
                       + ", ".join(MISSING) + " (see tests/e2e/kind/test_kind_fleet.py)"),
]


@dataclass
class Fleet:
    cluster: KindCluster
    resource: str                  # tradingworkers.tradefleet.io
    workers: list[str]             # the example's TradingWorker names
    exchange: tuple[str, str, int]  # (namespace, service, port) the workers trade against


def _next_session() -> TradingSession:
    """Today's KRX session in Seoul, or the next one: the simulated day must be one the
    workers trade (on a closed day they say so and exit)."""
    day = datetime.now(SEOUL).date()
    for offset in range(30):
        candidate = day + timedelta(days=offset)
        session = krx_calendar(candidate).session(candidate)
        if session is not None:
            return session
    raise LookupError(f"no KRX session in the 30 days from {date.isoformat(day)}")


def _sql_lock_events() -> str:
    return ("SELECT coalesce(json_agg(e ORDER BY e.event_id), '[]') FROM ("
            "SELECT event_id, event_type, worker_id, symbol, payload FROM events WHERE "
            "event_type IN ('LockAcquiredEvent', 'LockReleasedEvent')) e")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    for needed in (CHART / "Chart.yaml", EXAMPLE, ROOT / "Dockerfile"):
        assert needed.is_file(), f"{needed.relative_to(ROOT)}: needed by the kind e2e"
    cluster = KindCluster(os.environ.get("TRADEFLEET_KIND_CLUSTER", "tradefleet-e2e"),
                          tmp_path_factory.mktemp("kind") / "kubeconfig", NAMESPACE, RELEASE)
    image = f"{IMAGE_REPOSITORY}:{IMAGE_TAG}"
    for tool in (("kind", "version"), ("helm", "version", "--short"),
                 ("kubectl", "version", "--client")):
        print(run(*tool, timeout=30).strip())
    cluster.create()
    try:
        run("docker", "build", "--tag", image, str(ROOT), timeout=1800)
        cluster.load_image(image)
        simulation = simulation_values(_next_session().close, SIM_MINUTES, SIM_SPEED,
                                       time.time())
        print(f"simulated session: {simulation}")
        sets = {"image.repository": IMAGE_REPOSITORY, "image.tag": IMAGE_TAG, **simulation}
        cluster.helm("install", RELEASE, str(CHART), "--create-namespace", "--values",
                     str(VALUES), *[a for k, v in sets.items() for a in ("--set", f"{k}={v}")],
                     "--wait", "--timeout", "10m")
        docs = list(yaml.safe_load_all(EXAMPLE.read_text(encoding="utf-8")))
        examples = trading_workers(docs)
        crds = [d for f in sorted((ROOT / "crds").glob("*.yaml"))
                for d in yaml.safe_load_all(f.read_text(encoding="utf-8"))]
        cluster.kubectl("apply", "-f", str(EXAMPLE))
        if SCHEDULE.is_file():
            cluster.kubectl("apply", "-f", str(SCHEDULE))
        yield Fleet(cluster, crd_resource(crds, "TradingWorker"),
                    [d["metadata"]["name"] for d in examples],
                    service_of_url(examples[0]["spec"]["broker"]["baseUrl"], NAMESPACE))
    except BaseException:
        cluster.diagnose()
        raise
    finally:
        if os.environ.get("TRADEFLEET_KIND_KEEP") != "1":
            cluster.delete()
        else:
            print(f"kept: kind cluster {cluster.name}, kubeconfig {cluster.kubeconfig}")


@pytest.fixture
def diagnosed(fleet: Fleet, request: pytest.FixtureRequest) -> Iterator[Fleet]:
    """The fleet, with the cluster's state printed after a failed test."""
    yield fleet
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        fleet.cluster.diagnose()


def _wait_ready(fleet: Fleet, timeout: float = 300) -> None:
    for name in fleet.workers:
        fleet.cluster.kubectl("wait", f"{fleet.resource}/{name}", "--for=condition=Ready",
                              f"--timeout={int(timeout)}s", timeout=timeout + 30)


def test_every_example_worker_becomes_ready(diagnosed: Fleet):
    _wait_ready(diagnosed)
    for name in diagnosed.workers:
        body = diagnosed.cluster.kubectl_json("get", f"{diagnosed.resource}/{name}")
        assert condition(body, "Ready") == "True", body.get("status")
        pods = worker_pods(diagnosed.cluster.kubectl_json("get", "pods"), name)
        assert [p for p in pods if pod_ready(p)], f"{name}: no ready worker pod"


def test_a_deleted_worker_pod_comes_back_with_no_double_hold(diagnosed: Fleet):
    cluster, victim = diagnosed.cluster, diagnosed.workers[0]
    pods = [p for p in worker_pods(cluster.kubectl_json("get", "pods"), victim) if pod_ready(p)]
    assert pods, f"{victim}: no ready pod to delete"
    old_uid = pods[0]["metadata"]["uid"]
    # forced: the API object goes at once, as after a crash; Postgres' fence must hold
    cluster.kubectl("delete", "pod", pods[0]["metadata"]["name"], "--grace-period=0",
                    "--force", "--wait=false")

    def replaced() -> bool:
        now = worker_pods(cluster.kubectl_json("get", "pods"), victim)
        return any(pod_ready(p) and p["metadata"]["uid"] != old_uid for p in now)

    until(replaced, f"a new ready pod for {victim}", timeout=300)
    _wait_ready(diagnosed)
    problems, acquisitions = replay_lock_events(cluster.psql(_sql_lock_events()))
    assert problems == [], f"symbols held by two workers at once: {problems}"
    print(f"lock acquisitions replayed: {acquisitions}")
    doubles = cluster.psql("SELECT coalesce(json_agg(s), '[]') FROM (SELECT symbol FROM "
                           "positions WHERE status = 'OPEN' GROUP BY symbol "
                           "HAVING count(DISTINCT worker_id) > 1) s")
    assert doubles == [], f"open positions of one symbol in two workers: {doubles}"


def test_jaeger_shows_worker_traces_with_exchange_child_spans(diagnosed: Fleet):
    cluster = diagnosed.cluster
    service = cluster.kubectl_json("get", "service", f"{RELEASE}-jaeger")
    path = proxy_path(NAMESPACE, service, JAEGER_UI_PORT,
                      f"api/traces?service={WORKER_SERVICE}&limit=200&lookback=1h")
    links = until(lambda: worker_to_exchange_links(cluster.get_raw(path), WORKER_SERVICE),
                  f"a {WORKER_SERVICE} trace with an exchange span as a child", timeout=300)
    trace_id, parent, child = links[0]
    print(f"{len(links)} worker -> exchange links; e.g. trace {trace_id}: {parent} -> {child}")


def test_the_session_ends_flat_after_the_forced_liquidation(diagnosed: Fleet):
    cluster = diagnosed.cluster
    if SCHEDULE.is_file():
        for name in diagnosed.workers:
            cluster.kubectl("wait", f"{diagnosed.resource}/{name}",
                            "--for=condition=Liquidated", f"--timeout={int(SESSION_TIMEOUT)}s",
                            timeout=SESSION_TIMEOUT + 30)
    names = "', '".join(diagnosed.workers)
    done_sql = (f"SELECT coalesce(json_agg(w), '[]') FROM (SELECT worker_id, status FROM "
                f"workers WHERE worker_id IN ('{names}') AND status <> 'EXIT') w")
    until(lambda: cluster.psql(done_sql) == [], "every example worker to end its day (EXIT)",
          timeout=SESSION_TIMEOUT, every=10)
    flat = cluster.psql(
        "SELECT json_build_object("
        "'open_positions', (SELECT count(*) FROM positions WHERE status = 'OPEN'),"
        "'locks', (SELECT count(*) FROM stock_locks),"
        "'workers_holding', (SELECT count(*) FROM workers WHERE current_symbol IS NOT NULL),"
        "'open_orders', (SELECT count(*) FROM orders WHERE status IN "
        "('NEW', 'SENT', 'UNKNOWN', 'PARTIALLY_FILLED')),"
        "'closed_positions', (SELECT count(*) FROM positions WHERE status = 'CLOSED'))")
    closed = flat.pop("closed_positions")
    assert flat == dict.fromkeys(flat, 0), f"not flat in Postgres: {flat}"
    ns, name, port = diagnosed.exchange
    service = cluster.kubectl_json("get", "service", name, "--namespace", ns)
    books = books_from_json(cluster.get_raw(proxy_path(ns, service, port, "_admin/books")))
    verdict = judge_books(books, cluster.psql(
        f"SELECT coalesce(json_agg(r), '[]') FROM ({OUR_FILLS}) r"))
    assert verdict.executions > 0, "no execution at the exchange: nothing traded to judge"
    assert verdict.holdings == {}, f"the simulator's account still holds {verdict.holdings}"
    assert verdict.clean, f"executions without our fills: {verdict.unrecorded} " \
                          f"{verdict.mismatched}"
    problems, _ = replay_lock_events(cluster.psql(_sql_lock_events()))
    assert problems == []
    print(f"flat: {closed} positions closed, {verdict.executions} executions at the exchange,"
          " each in exactly one of our orders")


def test_uninstall_leaves_nothing_running(diagnosed: Fleet):
    cluster = diagnosed.cluster
    # the workers (and the schedule) first, while the operator runs their finalizers
    for example in (EXAMPLE, SCHEDULE):
        if example.is_file():
            cluster.kubectl("delete", "-f", str(example), "--wait=true", "--timeout=300s",
                            timeout=330)
    cluster.helm("uninstall", RELEASE, "--wait", "--timeout", "5m")

    def gone() -> bool:
        pods = cluster.kubectl_json("get", "pods")["items"]
        return not [p["metadata"]["name"] for p in pods]

    until(gone, f"no pod left in namespace {NAMESPACE}", timeout=300)
    try:
        left = cluster.kubectl("get", diagnosed.resource, "-o", "name")
    except AssertionError:
        left = ""                 # the CRD went with the chart: nothing can be left
    assert left.strip() == "", f"TradingWorkers left after uninstall: {left}"
