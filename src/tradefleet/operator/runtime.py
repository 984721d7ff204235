"""The operator's composition root: every store, service and controller it uses, built from
its configuration, a connected Database and a Kubernetes API client."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.event_sink import PostgresEventSink
from tradefleet.adapters.postgres.fleet_status_store import PostgresFleetStatusStore
from tradefleet.adapters.postgres.liquidation_run_store import PostgresLiquidationRuns
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.param_version_store import PostgresParamVersions
from tradefleet.adapters.postgres.worker_controls_store import PostgresWorkerControls
from tradefleet.adapters.telemetry.metrics import OperatorMetrics
from tradefleet.operator.config import OperatorConfig
from tradefleet.operator.kopf_views import KopfViews
from tradefleet.operator.kube import KubeApi
from tradefleet.operator.orphan_seller import WorkerOrphanSeller
from tradefleet.operator.param_version_check import ParamVersionChecks
from tradefleet.operator.schedule_controller import ScheduleController
from tradefleet.operator.secret_checks import SecretChecks
from tradefleet.operator.worker_controller import WorkerController
from tradefleet.ports.clock import Clock
from tradefleet.services.lock_service import LockService

EventPoster = Callable[[Mapping[str, Any], str, str, str], None]


def kopf_event(body: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
    kopf.event(dict(body), type=type_, reason=reason, message=message[:1024])  # type: ignore


@dataclass
class OperatorRuntime:
    config: OperatorConfig
    db: Database
    kube: KubeApi
    workers: WorkerController
    schedules: ScheduleController
    metrics: OperatorMetrics
    connection: kopf.ConnectionInfo | None = None   # explicit login (tests, local runs)
    views: KopfViews | None = None     # kopf's indexes of pods and Secrets (the handlers')


def build_runtime(config: OperatorConfig, *, db: Database, kube: KubeApi, clock: Clock,
                  calendar: Any, post_event: EventPoster = kopf_event,
                  connection: kopf.ConnectionInfo | None = None,
                  orphan_selling: Callable[[str, Any], Any] | None = None,
                  metrics: OperatorMetrics | None = None) -> OperatorRuntime:
    metrics = metrics or OperatorMetrics()
    sink = PostgresEventSink(db)
    locks = LockService(PostgresLockStore(db, reclaimer_id=config.identity), sink,
                        ttl_seconds=30)
    fleet = PostgresFleetStatusStore(db)
    controls = PostgresWorkerControls(db)
    views = KopfViews()
    workers = WorkerController(kube=kube, fleet=fleet, controls=controls, locks=locks,
                               calendar=calendar, clock=clock, config=config,
                               post_event=post_event, metrics=metrics,
                               cached_pods=views.pods_of,
                               secret_checks=SecretChecks(kube.read_secret, config,
                                                          views.secret_version),
                               param_versions=ParamVersionChecks(PostgresParamVersions(db)))
    if orphan_selling is None:
        def orphan_selling(schedule: str, spec: Any) -> WorkerOrphanSeller:
            return WorkerOrphanSeller(schedule=schedule, spec=spec, identity=config.identity,
                                      db=db, clock=clock, read_secret=kube.read_secret)
    schedules = ScheduleController(kube=kube, fleet=fleet, controls=controls,
                                   runs=PostgresLiquidationRuns(db), calendar=calendar,
                                   clock=clock, post_event=post_event,
                                   orphan_selling=orphan_selling, metrics=metrics)
    return OperatorRuntime(config=config, db=db, kube=kube, workers=workers,
                           schedules=schedules, metrics=metrics, connection=connection,
                           views=views)
