"""The operator's cost to the Kubernetes API server per worker (issue 19/9). Run:
python3 bench/operator_api_calls.py [--sizes 10,100,500] [--minutes 1] [--label after]
(starts its own embedded PostgreSQL; a few minutes).

For each fleet size it runs the real operator (kopf and our handlers, resync every 10 s as
deployed) against kmock's in-memory API server, which records every request: N TradingWorkers
in paper mode with credentials (two Secrets) plus the database Secret, each with a Running,
Ready pod and a worker heartbeating in Postgres every 5 s. Once the fleet is Ready and one
resync has passed, it counts the requests of a fixed period by RBAC verb and resource and
prints them per worker per minute. ``--src DIR`` runs another tree's operator (e.g. the code
before this change, for a before/after table); ``--json FILE`` keeps the figures.

The goal: per-worker cost at 500 workers no higher than at 10, and no per-pass request in an
unchanged world (list pods, get secrets, patch status)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10,100,500")
    p.add_argument("--minutes", type=float, default=1.0, help="the counted period")
    p.add_argument("--resync", type=float, default=10.0)
    p.add_argument("--src", default=str(ROOT / "src"), help="the tradefleet tree to run")
    p.add_argument("--label", default="after")
    p.add_argument("--json", default=None)
    return p.parse_args(argv)


ARGS = _args() if __name__ == "__main__" else None
sys.path.insert(0, ARGS.src if ARGS else str(ROOT / "src"))
sys.path.insert(1, str(ROOT))

import asyncio  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from datetime import datetime  # noqa: E402

import asyncpg  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from kmock._internal import apps  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from tests.operator.api_calls import count_calls  # noqa: E402
from tests.operator.cluster import Cluster  # noqa: E402
from tests.operator.operator_harness import (  # noqa: E402
    NS,
    LoopClock,
    WorkerProcess,
    running_operator,
    worker_body,
)

from tradefleet.adapters.postgres.database import Database  # noqa: E402
from tradefleet.adapters.postgres.migrate import migrate  # noqa: E402
from tradefleet.domain.calendar import SEOUL  # noqa: E402
from tradefleet.operator.config import SecretKeyRef  # noqa: E402
from tradefleet.settings.secrets import encrypt  # noqa: E402

TEN = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)      # a trading day, mid-session
SHOWN = ("list pods", "get secrets", "patch tradingworkers/status", "create events",
         "create pods", "delete pods", "watch pods", "watch secrets",
         "watch tradingworkers", "list secrets")
console = Console()


class CountingCluster(Cluster):
    """The tests' in-memory API server, keeping (method, path, query) of every request and
    only the last few of kmock's own request records: kmock matches each new request against
    all it has recorded, which at 500 workers would cost more than the operator does."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    async def _handle(self, request) -> object:  # noqa: ANN001
        method = str(getattr(request.method, "value", request.method)).upper()
        self.calls.append((method, request.url.path, dict(request.params)))
        if len(self._requests) > 256:
            del self._requests[:-32]
        return await super()._handle(request)


def _ready(cluster, n: int) -> int:  # noqa: ANN001
    count = 0
    for tw in cluster.objects_of("tradingworkers", NS):
        for c in (tw.get("status") or {}).get("conditions") or []:
            if c["type"] == "Ready" and c["status"] == "True":
                count += 1
    return count


async def _wait(what: str, check, limit_s: float) -> None:  # noqa: ANN001
    began = shown = time.monotonic()
    while not check():
        if time.monotonic() - began > limit_s:
            raise SystemExit(f"timed out waiting for {what}")
        if time.monotonic() - shown > 15:
            shown = time.monotonic()
            console.print(f"  ... waiting for {what} ({shown - began:.0f} s)")
        await asyncio.sleep(0.5)


async def _heartbeats(dsn: str) -> None:
    """Every worker beats every 5 s (one statement for the whole fleet), on a connection of
    its own (the operator's pool may be busy) and through any one failure."""
    beats = await Database.connect(dsn, min_size=1, max_size=1, command_timeout=30)
    try:
        while True:
            try:
                await beats.pool.execute(
                    "UPDATE workers SET heartbeat_at = now() WHERE status <> 'EXIT'")
            except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
                console.print(f"  heartbeat failed once: {exc!r}")
            await asyncio.sleep(5)
    finally:
        await beats.close()


def _reconciles(runtime) -> float:  # noqa: ANN001
    return sum(s.value for m in runtime.metrics.reconciles.collect() for s in m.samples
               if s.name.endswith("_total"))


async def one_size(dsn: str, n: int, minutes: float, resync: float) -> dict:
    db = await Database.connect(dsn, min_size=4, max_size=12, command_timeout=120)
    await db.pool.execute("TRUNCATE workers, worker_controls, events, stock_locks, positions "
                          "CASCADE")
    key = Fernet.generate_key()
    kis = {k: encrypt(Fernet(key), v) for k, v in
           (("appkey", "PSKEY"), ("appsecret", "s"), ("cano", "50001234"))}
    try:
        async with CountingCluster() as cluster, apps.Server(cluster):
            for name, data in (("kis", kis), ("fleet-key", {"key": key.decode()}),
                               ("tradefleet-db", {"dsn": "postgresql://tf@db/tf"})):
                await cluster.write_secret(NS, name, data)
            async with running_operator(cluster, db, LoopClock(TEN), resync_seconds=resync,
                                        db_secret=SecretKeyRef("tradefleet-db", "dsn"),
                                        pod_db_dsn=None) as runtime:
                began = time.monotonic()
                for i in range(n):
                    await cluster.apply(worker_body(
                        f"w-{i}", mode="paper",
                        broker={"baseUrl": "https://paper.example:29443"},
                        credentials={"secretName": "kis", "keySecretName": "fleet-key"}))
                await _wait(f"{n} pods", lambda: len(cluster.pods(NS)) >= n, 60 + 2 * n)
                beating = asyncio.create_task(_heartbeats(dsn))    # before any is registered
                for p in cluster.pods(NS):
                    worker = WorkerProcess(db, p["metadata"]["labels"]["tradefleet.io/worker"])
                    await worker.start(host=p["metadata"]["name"])
                for p in cluster.pods(NS):
                    await cluster.run_pod(NS, p["metadata"]["name"])
                await _wait(f"{n} Ready", lambda: _ready(cluster, n) >= n, 300 + 2 * n)
                settle = time.monotonic() - began
                console.print(f"  {n} workers Ready after {settle:.0f} s; settling a resync")
                await asyncio.sleep(resync + 1)
                mark, passes, t0 = len(cluster.calls), _reconciles(runtime), time.monotonic()
                await asyncio.sleep(60 * minutes)
                seconds = time.monotonic() - t0
                calls = count_calls(cluster.calls[mark:])
                passes = _reconciles(runtime) - passes
                beating.cancel()
    finally:
        await db.close()
    per = 60 / seconds / n
    return {"workers": n, "seconds": round(seconds, 1), "passes_per_worker_min":
            round(passes * per, 2), "calls": dict(calls),
            "per_worker_min": {k: round(v * per, 3) for k, v in calls.items()},
            "total_per_worker_min": round(sum(calls.values()) * per, 3)}


def _table(label: str, rows: list[dict]) -> Table:
    t = Table(title=f"Kubernetes API calls per worker per minute ({label})")
    t.add_column("call")
    for r in rows:
        t.add_column(f"{r['workers']} workers", justify="right")
    kinds = [k for k in SHOWN if any(k in r["calls"] for r in rows)]
    kinds += sorted({k for r in rows for k in r["calls"]} - set(kinds))
    for k in kinds:
        t.add_row(k, *(f"{r['per_worker_min'].get(k, 0):.3f}" for r in rows))
    t.add_row("all calls", *(f"{r['total_per_worker_min']:.3f}" for r in rows))
    t.add_row("reconcile passes", *(f"{r['passes_per_worker_min']:.2f}" for r in rows))
    return t


async def main(args: argparse.Namespace) -> list[dict]:
    logging.disable(logging.WARNING)           # kopf's and structlog's chatter
    from tradefleet.adapters.postgres.embedded import scratch_dir, start_embedded
    from tradefleet.adapters.telemetry.logging import configure_logging

    configure_logging(json_output=True, level="ERROR", stream=open(os.devnull, "w"))  # noqa: SIM115, ASYNC230
    rows = []
    with scratch_dir() as tmp:
        dsn = await asyncio.to_thread(start_embedded, Path(tmp) / "pgdata")
        setup = await Database.connect(dsn, min_size=1, max_size=1)
        async with setup.pool.acquire() as conn:
            await migrate(conn)
        await setup.close()
        for n in (int(s) for s in args.sizes.split(",")):
            console.print(f"[bold]{args.label}[/]: {n} TradingWorkers, counting "
                          f"{args.minutes:g} min (resync {args.resync:g} s)")
            rows.append(await one_size(dsn, n, args.minutes, args.resync))
            console.print(_table(args.label, rows))
    return rows


if __name__ == "__main__":
    figures = asyncio.run(main(ARGS))
    if ARGS.json:
        Path(ARGS.json).write_text(json.dumps({"label": ARGS.label, "src": ARGS.src,
                                               "rows": figures}, indent=1))
