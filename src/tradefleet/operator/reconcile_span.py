"""Every reconcile pass is one span (service ``tradefleet-operator``): which object, at which
generation, and what the pass concluded, so a slow or failing reconcile can be found in
Jaeger next to the worker traces it caused."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace

_tracer = trace.get_tracer("tradefleet.operator")
OUTCOME = "outcome"


@contextmanager
def reconcile_span(kind: str, body: Mapping[str, Any]) -> Iterator[trace.Span]:
    """``reconcile <kind>`` around one pass. The pass names its outcome with
    ``note_outcome``; a pass that raises ends with outcome ``error`` (and the exception
    recorded on the span)."""
    meta = body.get("metadata") or {}
    with _tracer.start_as_current_span(f"reconcile {kind}", attributes={
            "kind": kind, "namespace": meta.get("namespace") or "",
            "name": meta.get("name") or "",
            "generation": int(meta.get("generation") or 0)}) as span:
        try:
            yield span
        except BaseException:
            span.set_attribute(OUTCOME, "error")
            raise


def note_outcome(outcome: str, **attributes: Any) -> None:
    """Name the outcome of the pass in progress (on the current reconcile span)."""
    span = trace.get_current_span()
    span.set_attribute(OUTCOME, outcome)
    for key, value in attributes.items():
        span.set_attribute(key, value)
