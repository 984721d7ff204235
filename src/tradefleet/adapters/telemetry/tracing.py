"""OpenTelemetry traces: scan cycles, lock attempts, order sends and fills, broker HTTP calls.

The exporter is chosen by the standard ``OTEL_*`` variables and is off by default:
``OTEL_TRACES_EXPORTER=otlp`` (with ``OTEL_EXPORTER_OTLP_ENDPOINT``, e.g. a collector or
Jaeger's OTLP port) or ``console``. With neither set (and no exporter passed) tracing is off:
no SDK provider is installed, so spans are OpenTelemetry's no-op ones, and the SDK is never
imported (a worker's start-up does not pay for it). Trace context crosses HTTP in W3C
``traceparent``.

Each process names itself (``tradefleet-worker``, ``tradefleet-exchange``,
``tradefleet-operator``; ``OTEL_SERVICE_NAME`` wins) and flushes its batch of spans when it
stops (``flush_tracing``), so a pod that is terminated does not take its last spans with it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from typing import TYPE_CHECKING

from opentelemetry import trace

from tradefleet.domain.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

TRACER_NAME = "tradefleet"
FLUSH_TIMEOUT_MS = 5_000       # at exit: well inside a pod's termination grace period
_configured = False


def _exporter_from_env() -> SpanExporter | None:
    choice = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not choice and (os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                       or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        choice = "otlp"
    if choice in ("", "none"):
        return None
    if choice == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if choice == "otlp":
        for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
            protocol = os.environ.get(name, "").strip()
            if protocol and protocol != "http/protobuf":
                raise ConfigError(f"{name}={protocol!r}: only http/protobuf is supported "
                                  "(Jaeger and collectors take it on port 4318)")
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    raise ConfigError(f"OTEL_TRACES_EXPORTER={choice!r}: supported values are otlp, console, "
                      "none")


def _sdk_provider() -> TracerProvider | None:
    """The SDK provider installed in this process (by us or by an embedding program), if any;
    never imports the SDK to find out (nothing can have installed one without importing it)."""
    if "opentelemetry.sdk.trace" not in sys.modules:
        return None
    from opentelemetry.sdk.trace import TracerProvider

    current = trace.get_tracer_provider()
    return current if isinstance(current, TracerProvider) else None


def configure_tracing(service_name: str, *, exporter: SpanExporter | None = None,
                      worker_id: str | None = None) -> TracerProvider | None:
    """Install the process's tracer provider once. ``exporter`` (tests: in-memory) wins over
    the environment. None: tracing is off (no exporter passed or configured)."""
    global _configured
    # OpenTelemetry allows one global provider per process: reuse an SDK provider already
    # installed (by us or by an embedding program) rather than silently failing to replace it.
    current = _sdk_provider()
    if current is not None:
        if exporter is not None:
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor

            current.add_span_processor(SimpleSpanProcessor(exporter))
        return current
    chosen = _exporter_from_env() if exporter is None else None
    if exporter is None and chosen is None:
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    attributes = {"service.name": os.environ.get("OTEL_SERVICE_NAME") or service_name}
    if worker_id:
        attributes["tradefleet.worker_id"] = worker_id
    provider = TracerProvider(resource=Resource.create(attributes))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif chosen is not None:
        provider.add_span_processor(BatchSpanProcessor(chosen))
    trace.set_tracer_provider(provider)
    _configured = True
    return provider


def flush_tracing(timeout_millis: int = FLUSH_TIMEOUT_MS) -> bool:
    """Export every span still queued in the batch processor (a stopping process); False if
    the exporter did not finish in time. A no-op when tracing is off."""
    provider = _sdk_provider()
    if provider is None:
        return True
    return provider.force_flush(timeout_millis)


def tracing_on() -> bool:
    """True once a tracer provider is installed. Before that every span is OpenTelemetry's
    no-op one, and a hot path (an order POST) may skip making it."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def inject_trace_headers(headers: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Add ``traceparent`` (and baggage) of the current span to outgoing HTTP headers."""
    from opentelemetry import propagate  # loads the propagators: only when tracing

    propagate.inject(headers)
    return headers
