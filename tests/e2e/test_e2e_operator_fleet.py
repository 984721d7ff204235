"""The fleet under the operator, end to end on one machine: `tradefleet operator` as a
process against the in-memory Kubernetes API, a process kubelet running each pod's
`tradefleet worker`, a real Postgres and the exchange simulator, on a shared simulated
clock (one simulated minute per real second).

Three TradingWorkers trade. One holding is deleted: it sells and goes. One is killed -9:
the operator recovers it with no double hold. One is stopped (SIGSTOP) on a node cut off
from the cluster past its TTL: reclaimed and recreated elsewhere, and when it resumes
(SIGCONT) it sends nothing and exits fenced. At close - 15 the LiquidationSchedule orders
the fleet flat; after the close everything is flat, judged by the exchange's own books.
Every request the operator made is checked against the RBAC list (operator_api_calls.yaml)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
import yaml
from cryptography.fernet import Fernet
from tests.e2e.process_kubelet import ProcessKubelet
from tests.exchange_thread import DAY, ExchangeThread
from tests.operator.cluster import running_cluster, write_kubeconfig
from tests.operator.operator_harness import NS, schedule_body, worker_body
from tests.polling import until

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.fleet_view import fleet_invariants
from tradefleet.adapters.postgres.lock_history import find_double_holds
from tradefleet.adapters.sim.exchange.books_client import fetch_books
from tradefleet.local_fleet.books_check import compare_books
from tradefleet.local_fleet.processes import free_port
from tradefleet.settings.secrets import encrypt

pytestmark = pytest.mark.slow
SPEED = 60.0
START = datetime(DAY.year, DAY.month, DAY.day, 14, 25, tzinfo=SEOUL)
NAMES = ("w-a", "w-b", "w-c")
CALLS = Path(__file__).with_name("operator_api_calls.yaml")


def _rbac(request) -> tuple[str, str, str] | str:  # noqa: ANN001
    """(verb, group, resource[/subresource]) of a request, or its path when not a resource."""
    if request.resource is None or request.resource.plural is None:
        return request.url.path
    verb = {"list": "list", "watch": "watch", "fetch": "get", "create": "create",
            "update": "patch", "delete": "delete"}[str(request.action.value).lower()]
    resource = request.resource.plural + (f"/{request.subresource}"
                                           if request.subresource else "")
    return verb, request.resource.group or "", resource


def _allowed() -> tuple[set[tuple[str, str, str]], list[str]]:
    doc = yaml.safe_load(CALLS.read_text())
    allowed = {(verb, r["group"], r["resource"]) for r in doc["resources"] for verb in r["verbs"]}
    return allowed, doc["nonResourceURLs"]


def _url_allowed(path: str, patterns: list[str]) -> bool:
    return any(path == p or (p.endswith("/*") and path.startswith(p[:-1])) for p in patterns)


async def _workers(db: Database) -> dict[str, dict]:
    return {r["worker_id"]: dict(r) for r in await db.pool.fetch(
        "SELECT worker_id, status, epoch, current_symbol FROM workers")}


def _pod_of(cluster, name: str) -> str | None:  # noqa: ANN001
    for p in cluster.pods(NS):
        if p["metadata"]["labels"]["tradefleet.io/worker"] == name \
                and not p["metadata"].get("deletionTimestamp"):
            return p["metadata"]["name"]
    return None


def _secrets(cluster) -> None:  # noqa: ANN001
    key = Fernet.generate_key()
    f = Fernet(key)
    cluster.put_secret(NS, "kis-sim", {"appkey": encrypt(f, "sim-appkey-0000"),
                                       "appsecret": encrypt(f, "sim-appsecret-0000"),
                                       "cano": encrypt(f, "50000000")})
    cluster.put_secret(NS, "fleet-key", {"key": key.decode()})


async def test_the_fleet_under_the_operator(pg_dsn, tmp_path):
    clock = SimClock(START, SPEED, time.time() + 3.0)
    with ExchangeThread(n_symbols=20, clock=clock) as ex:
        market = ex.market
        universe = sorted(market.symbols(), key=lambda s: -market.quote(s).traded_value)[:15]
        db = await Database.connect(pg_dsn, min_size=1, max_size=4)
        async with running_cluster() as cluster, \
                ProcessKubelet(cluster, NS, tmp_path) as kubelet:
            _secrets(cluster)
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("TRADEFLEET_", "KUBECONFIG", "OTEL_"))}
            env.update({
                "KUBECONFIG": str(write_kubeconfig(tmp_path / "kubeconfig",
                                              str(cluster.url).rstrip("/"))),
                "TRADEFLEET_DB__DSN": pg_dsn, "TRADEFLEET_SIM_CLOCK": clock.to_env(),
                "TRADEFLEET_OPERATOR_NAMESPACES": NS,
                "TRADEFLEET_OPERATOR_WORKER_IMAGE": "tradefleet:e2e",
                "TRADEFLEET_OPERATOR_POD_DB_DSN": pg_dsn,
                "TRADEFLEET_OPERATOR_RESYNC_SECONDS": "1",
                "TRADEFLEET_OPERATOR_LIVENESS_PORT": str(free_port()),
                "TRADEFLEET_OPERATOR_METRICS_PORT": "0"})
            log = (tmp_path / "operator.log").open("wb")
            operator = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tradefleet.cli", "operator", env=env, stdout=log,
                stderr=asyncio.subprocess.STDOUT)
            try:
                await _day(cluster, kubelet, db, ex, universe)
            finally:
                if operator.returncode is None:
                    operator.send_signal(signal.SIGTERM)
                await asyncio.wait_for(operator.wait(), 60)
                log.close()
            assert operator.returncode == 0, (tmp_path / "operator.log").read_text()[-3000:]
            _check_requests(cluster)
        await db.close()


async def _day(cluster, kubelet, db, ex, universe) -> None:  # noqa: ANN001, C901
    await cluster.apply(schedule_body(
        "krx", offsetMinutes=15, checkAfterCloseMinutes=1,
        orphans={"namespace": NS, "mode": "sim", "broker": {"baseUrl": ex.base_url}}))
    for name in NAMES:
        await cluster.apply(worker_body(
            name, broker={"baseUrl": ex.base_url}, universe=universe, pollIntervalSeconds=20,
            capitalLimit=3_000_000, dailyLossLimit=1_000_000, liquidationOffsetMinutes=15,
            locks={"ttlSeconds": 9, "heartbeatIntervalSeconds": 3},
            credentials={"secretName": "kis-sim", "keySecretName": "fleet-key"},
            strategy={"name": "ma_breakout",
                      "params": {"short": 2, "long": 5, "breakout_window": 5}}))
    await until(lambda: all(_pod_of(cluster, n) for n in NAMES), "three pods", 60)
    await until(lambda: _registered(db), "three workers", 90)

    # the one that holds first is deleted while it holds; the others are killed and stopped
    holding = await until(lambda: _first_holding(db), "a worker holding shares", 120)
    print(f"\n{holding} holds at {ex.clock.now():%H:%M:%S}", flush=True)
    others = [n for n in NAMES if n != holding]
    killed, stopped = others
    old_killed, old_stopped = _pod_of(cluster, killed), _pod_of(cluster, stopped)
    epochs = await _workers(db)

    os.kill(kubelet.pid(old_killed), signal.SIGKILL)
    kubelet.partition(old_stopped)                      # its node is cut off ...
    os.kill(kubelet.pid(old_stopped), signal.SIGSTOP)   # ... and the process frozen
    await cluster.delete_object("tradingworkers", NS, holding)

    await until(lambda: cluster.find("tradingworkers", NS, holding) is None,
                f"{holding} sold and gone", 120)
    gone = (await _workers(db))[holding]
    assert gone["status"] == "EXIT" and gone["current_symbol"] is None
    assert not await db.pool.fetchval(
        "SELECT count(*) FROM positions WHERE worker_id = $1 AND status = 'OPEN'", holding)

    for name, old in ((killed, old_killed), (stopped, old_stopped)):
        await until(lambda n=name, o=old: _pod_of(cluster, n) not in (None, o),
                    f"{name} recreated", 90)
        await until(lambda n=name: _epoch(db, n, epochs[n]["epoch"]),
                    f"{name} registered again", 90)
    reclaimed = await db.pool.fetch("SELECT worker_id, payload FROM events "
                                    "WHERE event_type = 'WorkerFailedEvent'")
    assert {r["worker_id"] for r in reclaimed} >= {killed, stopped}

    os.kill(kubelet.pid(old_stopped), signal.SIGCONT)   # the zombie wakes up: fenced
    await until(lambda: kubelet.exits.get(old_stopped) is not None, "the zombie's exit", 60)
    assert kubelet.exits[old_stopped] == 3, kubelet.tail(old_stopped)
    assert kubelet.exits[old_killed] == 137

    print(f"recovered by {ex.clock.now():%H:%M:%S}", flush=True)
    schedule = await until(lambda: _checked(cluster), "the check after the close", 120)
    assert schedule["lastResult"] == "Flat", schedule
    assert schedule["workersOrdered"] == 2
    invariants = await fleet_invariants(db, DAY)
    assert invariants == {"open_positions": 0, "locks": 0, "workers_holding": 0,
                          "open_orders": 0}, invariants
    doubles, acquisitions = await find_double_holds(db)
    assert doubles == [] and acquisitions >= 1
    async with aiohttp.ClientSession() as http:
        verdict = await compare_books(db, await fetch_books(ex.base_url, http))
    assert verdict.clean and verdict.held_shares == 0, verdict
    assert verdict.executions >= 2                       # they traded: a buy and its sell


async def _registered(db: Database) -> bool:
    rows = await _workers(db)
    return all(rows.get(n, {}).get("status") in ("SCAN", "HOLD") for n in NAMES)


async def _first_holding(db: Database) -> str | None:
    for name, row in (await _workers(db)).items():
        if name in NAMES and row["status"] == "HOLD":
            return name
    return None


async def _epoch(db: Database, name: str, before: int) -> bool:
    row = (await _workers(db)).get(name, {})
    return row.get("epoch", 0) > before and row.get("status") in ("SCAN", "HOLD")


def _checked(cluster) -> dict | None:  # noqa: ANN001
    status = (cluster.find("liquidationschedules", None, "krx") or {}).get("status") or {}
    return status if status.get("lastResult") in ("Flat", "NotFlat") else None


def _check_requests(cluster) -> None:  # noqa: ANN001
    allowed, urls = _allowed()
    made = [r for r in cluster.seen
            if r.headers.get("Authorization") == "Bearer operator-token"]
    assert made
    observed = {_rbac(r) for r in made}
    resources = {o for o in observed if isinstance(o, tuple)}
    paths = {o for o in observed if isinstance(o, str)}
    assert resources <= allowed, sorted(resources - allowed)
    assert all(_url_allowed(p, urls) for p in paths), sorted(paths)
    assert {("create", "", "pods"), ("delete", "", "pods"), ("get", "", "secrets"),
            ("patch", "tradefleet.io", "tradingworkers/status"),
            ("patch", "tradefleet.io", "liquidationschedules/status"),
            ("create", "", "events")} <= resources
