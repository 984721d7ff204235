"""kopf is the transport: every trigger of a TradingWorker (create, update, resume, the
periodic resync, an event of one of its pods, deletion behind the finalizer) runs the same
level-triggered reconcile pass; a LiquidationSchedule runs as one daemon that sleeps until
its next moment. No handler keeps progress of its own (see the reference on why)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from tradefleet.operator.plan import Finalize
from tradefleet.operator.pods import MANAGED_BY, WORKER_LABEL
from tradefleet.operator.resources import GROUP, SCHEDULES, VERSION, WORKERS
from tradefleet.operator.runtime import OperatorRuntime

FINALIZER = f"{GROUP}/finalizer"


def plain(body: Mapping[str, Any]) -> dict[str, Any]:
    """A detached copy of a kopf body (kopf updates its own views in place)."""
    return json.loads(json.dumps(dict(body), default=dict))


def apply_settings(settings: kopf.OperatorSettings, runtime: OperatorRuntime) -> None:
    """Deliberate persistence: our own finalizer name, progress and diff-base in annotations
    under our prefix; kopf's log lines are not posted as Events (ours are explicit); no
    cluster-wide scanning, so the operator needs no right to list namespaces or CRDs."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration")
    settings.posting.loggers = False
    settings.posting.level = logging.INFO
    settings.scanning.disabled = True
    timeout = runtime.config.watch_timeout_seconds
    settings.watching.server_timeout = timeout
    settings.watching.client_timeout = None if timeout is None else timeout + 30
    settings.execution.max_workers = 8


def build_registry(runtime: OperatorRuntime) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    _operator_handlers(registry, runtime)
    _worker_handlers(registry, runtime)
    _schedule_handlers(registry, runtime)
    return registry


def _operator_handlers(registry: kopf.OperatorRegistry, runtime: OperatorRuntime) -> None:
    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        apply_settings(settings, runtime)

    @kopf.on.login(registry=registry)
    async def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        """The service account in a pod, else the kubeconfig (as KubeApi does)."""
        if runtime.connection is not None:
            return runtime.connection
        return await kopf.login_via_async_client(**kwargs)

    @kopf.on.probe(id="postgres", registry=registry)
    async def postgres(**_: Any) -> str:
        return str(await runtime.db.db_now())


def _worker_handlers(registry: kopf.OperatorRegistry, runtime: OperatorRuntime) -> None:
    workers = runtime.workers

    @kopf.index(GROUP, VERSION, WORKERS, id="tradingworkers", registry=registry)
    def tradingworkers(namespace: str, name: str, body: kopf.Body,
                       **_: Any) -> dict[tuple[str, str], dict[str, Any]]:
        return {(namespace, name): plain(body)}

    @kopf.on.resume(GROUP, VERSION, WORKERS, registry=registry)
    @kopf.on.create(GROUP, VERSION, WORKERS, registry=registry)
    @kopf.on.update(GROUP, VERSION, WORKERS, registry=registry)
    async def changed(body: kopf.Body, **_: Any) -> None:
        await workers.reconcile(plain(body))

    @kopf.timer(GROUP, VERSION, WORKERS, interval=runtime.config.resync_seconds,
                registry=registry)
    async def resync(body: kopf.Body, **_: Any) -> None:
        await workers.reconcile(plain(body))

    @kopf.on.event("v1", "pods", labels=dict(MANAGED_BY), registry=registry)
    async def pod_event(body: kopf.Body, tradingworkers: kopf.Index, **_: Any) -> None:
        owner = (body.get("metadata", {}).get("labels") or {}).get(WORKER_LABEL)
        key = (body.get("metadata", {}).get("namespace"), owner)
        for tw in list(tradingworkers.get(key, [])):
            await workers.reconcile(tw)

    @kopf.on.delete(GROUP, VERSION, WORKERS, registry=registry)
    async def deleted(body: kopf.Body, namespace: str, name: str, **_: Any) -> None:
        """Behind the finalizer: the same pass, repeated until it says the worker is flat
        and stopped (a stuck wait is reported by the pass itself: Degraded and an Event)."""
        while True:
            plan = await workers.reconcile(plain(body))
            if any(isinstance(a, Finalize) for a in plan.actions):
                workers.forget(namespace, name)
                return
            await asyncio.sleep(max(1.0, plan.retry_in or 5.0))


def _schedule_handlers(registry: kopf.OperatorRegistry, runtime: OperatorRuntime) -> None:
    @kopf.daemon(GROUP, VERSION, SCHEDULES, registry=registry, cancellation_timeout=30)
    async def schedule(body: kopf.Body, stopped: kopf.DaemonStopped,
                       tradingworkers: kopf.Index, **_: Any) -> None:
        while not stopped:
            members = [tw for key in list(tradingworkers) for tw in tradingworkers[key]]
            wake_in = await runtime.schedules.tick(plain(body), members)
            await stopped.wait(wake_in)
