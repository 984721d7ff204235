"""kopf is the transport: every trigger of a TradingWorker (create, update, resume, the
periodic resync, an event of one of its pods, deletion behind the finalizer) runs the same
level-triggered reconcile pass; a LiquidationSchedule runs as one daemon that sleeps until
its next moment. No handler keeps progress of its own (see the reference on why).

The handlers are plain coroutines (``make_handlers``) so that they can be called with a
``kopf.Body`` in tests; ``build_registry`` only attaches them to kopf's triggers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from tradefleet.operator.failure import ReconcileFailed
from tradefleet.operator.kopf_views import POD_INDEX, SECRET_INDEX, index_pod, index_secret
from tradefleet.operator.login import login as operator_login
from tradefleet.operator.ownership import looks_at_schedule
from tradefleet.operator.peering import apply_peering
from tradefleet.operator.plan import Finalize
from tradefleet.operator.pods import MANAGED_BY, WORKER_LABEL
from tradefleet.operator.resources import GROUP, SCHEDULES, VERSION, WORKERS
from tradefleet.operator.runtime import OperatorRuntime

FINALIZER = f"{GROUP}/finalizer"
INDEX = "tradingworkers"
Handler = Callable[..., Awaitable[Any]]


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
    # whole seconds: the apiserver refuses timeoutSeconds=300.0 (ParseInt), which kopf would
    # send for a float, and every watch of the operator would fail
    timeout = runtime.config.watch_timeout_seconds
    server = None if timeout is None else max(1, round(timeout))
    settings.watching.server_timeout = server
    settings.watching.client_timeout = None if server is None else server + 30
    settings.execution.max_workers = 8
    apply_peering(settings, runtime.config)


@dataclass(frozen=True)
class Handlers:
    index: Callable[..., dict]
    changed: Handler          # create / update / resume
    resync: Handler           # timer
    pod_event: Handler
    deleted: Handler
    schedule: Handler         # daemon
    login: Handler


def peers_of(body: Mapping[str, Any], index: Mapping | None) -> list[dict[str, Any]]:
    """TradingWorkers of the same name in the other watched namespaces (kopf's index)."""
    meta = body.get("metadata") or {}
    return [tw for (namespace, name) in list(index or {})
            if name == meta.get("name") and namespace != meta.get("namespace")
            for tw in (index or {})[(namespace, name)]]


async def finalize(workers: Any, body: Callable[[], dict[str, Any]], namespace: str,
                   name: str) -> None:
    """Behind the finalizer: the same pass, repeated until it says the worker is flat
    and stopped (a stuck wait is reported by the pass itself: Degraded and an Event).
    ``body``: kopf's view as it is now (kopf updates it in place between passes)."""
    while True:
        try:
            plan = await workers.reconcile(body())
        except ReconcileFailed as failed:      # reported: try again at the resync
            await asyncio.sleep(failed.retry_in)
            continue
        if any(isinstance(a, Finalize) for a in plan.actions):
            workers.forget(namespace, name)
            return
        await asyncio.sleep(max(1.0, plan.retry_in or 5.0))


def make_handlers(runtime: OperatorRuntime) -> Handlers:
    workers = runtime.workers

    def index(namespace: str, name: str, body: kopf.Body,
              **_: Any) -> dict[tuple[str, str], dict[str, Any]]:
        return {(namespace, name): plain(body)}

    def attach(kwargs: Mapping[str, Any]) -> None:
        if runtime.views is not None:
            runtime.views.attach(kwargs)

    async def changed(body: kopf.Body, **kwargs: Any) -> None:
        """A failed pass was reported by the controller (status, Event): kopf retries it at
        the resync interval, not after its own default backoff of a minute."""
        attach(kwargs)
        try:
            await workers.reconcile(plain(body), peers_of(body, kwargs.get(INDEX)))
        except ReconcileFailed as failed:
            raise kopf.TemporaryError(str(failed), delay=failed.retry_in) from failed

    async def pod_event(body: kopf.Body, tradingworkers: Mapping, **kwargs: Any) -> None:
        """A pod of ours changed: reconcile its TradingWorker (from kopf's index). A failed
        pass is reported already and retried by the resync timer."""
        attach(kwargs)
        meta = body.get("metadata", {})
        key = (meta.get("namespace"), (meta.get("labels") or {}).get(WORKER_LABEL))
        for tw in list(tradingworkers.get(key, [])):
            with contextlib.suppress(ReconcileFailed):
                await workers.reconcile(tw, peers_of(tw, tradingworkers))

    async def deleted(body: kopf.Body, namespace: str, name: str, **kwargs: Any) -> None:
        attach(kwargs)
        await finalize(workers, lambda: plain(body), namespace, name)

    async def schedule(body: kopf.Body, stopped: Any, tradingworkers: Mapping,
                       **_: Any) -> None:
        while not stopped:
            members = [tw for key in list(tradingworkers) for tw in tradingworkers[key]]
            wake_in = await runtime.schedules.tick(plain(body), members)
            await stopped.wait(wake_in)

    return Handlers(index=index, changed=changed, resync=changed, pod_event=pod_event,
                    deleted=deleted, schedule=schedule, login=_operator_handlers(runtime))


def _operator_handlers(runtime: OperatorRuntime) -> Handler:
    async def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        """The service account in a pod, else the kubeconfig (as KubeApi does), in the
        operator's own namespace (login.py)."""
        if runtime.connection is not None:
            return runtime.connection
        return await operator_login(**kwargs)

    return login


def build_registry(runtime: OperatorRuntime) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    h = make_handlers(runtime)
    tw = (GROUP, VERSION, WORKERS)

    def settings(settings: kopf.OperatorSettings, **_: Any) -> None:
        apply_settings(settings, runtime)

    kopf.on.startup(registry=registry)(settings)
    kopf.on.login(registry=registry)(h.login)
    # no kopf.on.probe: liveness must not depend on Postgres (operator/health.py)
    kopf.index(*tw, id=INDEX, registry=registry)(h.index)
    # whatever escapes a handler is retried at the resync interval, not kopf's 60 s
    backoff = runtime.config.resync_seconds
    for trigger in (kopf.on.resume, kopf.on.create, kopf.on.update):
        trigger(*tw, id="reconcile", backoff=backoff, registry=registry)(h.changed)
    kopf.timer(*tw, id="resync", interval=runtime.config.resync_seconds, backoff=backoff,
               registry=registry)(h.resync)
    # one watch of pods and one of Secrets per namespace instead of a list and 1-4 GETs
    # per worker per resync (operator/kopf_views.py, secret_checks.py)
    kopf.index("v1", "pods", id=POD_INDEX, labels={**MANAGED_BY, WORKER_LABEL: kopf.PRESENT},
               registry=registry)(index_pod)
    kopf.index("v1", "secrets", id=SECRET_INDEX, registry=registry)(index_secret)
    kopf.on.event("v1", "pods", id="pod-event", labels=dict(MANAGED_BY),
                  registry=registry)(h.pod_event)
    kopf.on.delete(*tw, id="finalize", backoff=backoff, registry=registry)(h.deleted)
    name = runtime.config.name
    kopf.daemon(GROUP, VERSION, SCHEDULES, id="schedule", cancellation_timeout=30,
                when=lambda spec, **_: looks_at_schedule(spec, name),
                registry=registry)(h.schedule)
    return registry
