"""``tradefleet operator``: run the Kubernetes operator of the fleet.

TradingWorker resources become one worker pod each; failures are judged by the workers'
Postgres heartbeats and reclaimed through the fence; LiquidationSchedules order the fleet
flat before the close. Configured by TRADEFLEET_OPERATOR_* (namespaces, worker image, the
Secret with the workers' DSN) and TRADEFLEET_DB__* (the operator's own database access);
logs in with its service account in a pod, else with the kubeconfig. Replicas elect a leader
through kopf's peering (TRADEFLEET_OPERATOR_PEERING_NAME); without it, run one replica."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

from tradefleet.commands.arguments import int_in
from tradefleet.commands.console import command_console


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("operator", help="run the Kubernetes operator",
                              description=__doc__.split("\n\n", 1)[1] if __doc__ else None)
    p.add_argument("--kubeconfig", type=Path, default=None,
                   help="kubeconfig file (default: in-cluster, then KUBECONFIG)")
    p.add_argument("--namespace", action="append", default=None,
                   help="namespace to watch (repeatable; default TRADEFLEET_OPERATOR_NAMESPACES)")
    p.add_argument("--config", type=Path, default=None,
                   help="YAML settings file (its db section is the operator's database)")
    p.add_argument("--metrics-port", type=int_in(0, 65535), default=None,
                   help="port of GET /metrics (default TRADEFLEET_OPERATOR_METRICS_PORT, "
                        "else 9100; 0 = off)")
    p.add_argument("--check", action="store_true",
                   help="validate the configuration, print it and exit")
    p.set_defaults(handler=_run)


def _load(args: argparse.Namespace):  # noqa: ANN202 - (OperatorConfig, DatabaseSettings)
    from tradefleet.operator.config import load_operator_config
    from tradefleet.settings import load_database_settings

    environ = dict(os.environ)
    if args.namespace:
        environ["TRADEFLEET_OPERATOR_NAMESPACES"] = ",".join(args.namespace)
    if args.metrics_port is not None:
        environ["TRADEFLEET_OPERATOR_METRICS_PORT"] = str(args.metrics_port)
    return load_operator_config(environ), load_database_settings(args.config, environ)


def _run(args: argparse.Namespace) -> int:
    from tradefleet.adapters.telemetry.logging import configure_logging
    from tradefleet.adapters.telemetry.tracing import configure_tracing, flush_tracing
    from tradefleet.domain.errors import ConfigError

    console = command_console()
    try:
        config, db_settings = _load(args)
    except ConfigError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        return 2
    if args.check:
        console.print(f"operator configuration valid: namespaces {', '.join(config.namespaces)};"
                      f" worker image {config.worker_image}; database "
                      f"{'embedded' if db_settings.dsn is None else 'dsn'}")
        return 0
    configure_logging(level=config.log_level)
    try:
        configure_tracing("tradefleet-operator")
    except ConfigError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        return 2
    if args.kubeconfig is not None:       # kopf's login reads it from there too
        os.environ["KUBECONFIG"] = str(args.kubeconfig)
    try:
        return asyncio.run(_serve(config, db_settings, args.kubeconfig))
    except ConfigError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        return 2
    finally:            # stopped (SIGTERM) or failed: the last reconcile spans go out
        flush_tracing()


async def _serve(config, db_settings, kubeconfig: Path | None) -> int:  # noqa: ANN001
    import kopf
    import structlog

    from tradefleet.adapters.clock import SimClock, WallClock
    from tradefleet.adapters.postgres.connect import connect_database, migrate_database
    from tradefleet.adapters.telemetry.metrics_server import start_metrics_server
    from tradefleet.adapters.telemetry.redaction import register_secret
    from tradefleet.domain.calendar import load_krx_calendar
    from tradefleet.operator.handlers import build_registry
    from tradefleet.operator.health import start_health_server
    from tradefleet.operator.kube import KubeApi
    from tradefleet.operator.runtime import build_runtime

    log = structlog.get_logger("tradefleet.operator")
    if db_settings.dsn is not None:
        register_secret(db_settings.dsn.get_secret_value())
    db = await connect_database(
        db_settings.dsn.get_secret_value() if db_settings.dsn else None,
        sslmode=db_settings.sslmode,
        sslrootcert=str(db_settings.sslrootcert) if db_settings.sslrootcert else None,
        max_size=8)
    kube = await KubeApi.from_environment(str(kubeconfig) if kubeconfig else None)
    scrape = probes = None
    try:
        await migrate_database(db)
        clock = SimClock.from_env(config.sim_clock) if config.sim_clock else WallClock()
        overrides = os.environ.get("TRADEFLEET_OPERATOR_CALENDAR_OVERRIDES")
        calendar = await asyncio.to_thread(load_krx_calendar,
                                           Path(overrides) if overrides else None)
        runtime = build_runtime(config, db=db, kube=kube, clock=clock, calendar=calendar)
        scrape = await start_metrics_server(runtime.metrics.render, config.metrics_port)
        probes = await start_health_server(db.db_now, config.liveness_port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("operator starting", namespaces=list(config.namespaces),
                 identity=config.identity, probes_port=config.liveness_port or None,
                 metrics_port=config.metrics_port or None)
        await kopf.operator(registry=build_registry(runtime),
                            namespaces=list(config.namespaces), clusterwide=False,
                            stop_flag=stop)      # peering: operator/peering.py
        log.info("operator stopped")
        return 0
    finally:
        if scrape is not None:
            await scrape.cleanup()
        if probes is not None:
            await probes.cleanup()
        await kube.close()
        await db.close()
