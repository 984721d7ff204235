"""A local OTLP/HTTP trace receiver: what Jaeger (1.35+) or a collector ingests on port 4318,
decoded with opentelemetry-proto, so tests read back the spans a process really exported.

POST /v1/traces with an ``ExportTraceServiceRequest`` (protobuf, gzip when the exporter says
so) is answered with an ``ExportTraceServiceResponse``; any other path is a 404, so a wrong
endpoint shows up as spans that never arrive rather than as spans accepted anywhere."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto

KINDS = {SpanProto.SPAN_KIND_INTERNAL: "INTERNAL", SpanProto.SPAN_KIND_SERVER: "SERVER",
         SpanProto.SPAN_KIND_CLIENT: "CLIENT", SpanProto.SPAN_KIND_PRODUCER: "PRODUCER",
         SpanProto.SPAN_KIND_CONSUMER: "CONSUMER"}


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    resource: dict[str, Any]
    scope: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str          # "" for a root span
    attributes: dict[str, Any]
    status_code: int             # 0 unset, 1 ok, 2 error


def _value(v: AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which == "array_value":
        return [_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, which) if which else None


def _attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs}


def decode(request: ExportTraceServiceRequest) -> list[ReceivedSpan]:
    spans = []
    for rs in request.resource_spans:
        resource = _attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                spans.append(ReceivedSpan(
                    service=str(resource.get("service.name", "")), resource=resource,
                    scope=ss.scope.name, name=s.name, kind=KINDS.get(s.kind, "UNSPECIFIED"),
                    trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
                    parent_span_id=s.parent_span_id.hex(), attributes=_attributes(s.attributes),
                    status_code=s.status.code))
    return spans


@dataclass
class OtlpReceiver:
    """``with OtlpReceiver() as rx:`` serves on ``rx.endpoint`` (for
    ``OTEL_EXPORTER_OTLP_ENDPOINT``) until the block ends."""

    spans: list[ReceivedSpan] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)   # headers of each POST
    _mutex: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> OtlpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/v1/traces":
                    self.send_error(404, f"no such OTLP path {self.path}")
                    return
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                try:
                    decoded = decode(ExportTraceServiceRequest.FromString(body))
                except Exception as exc:  # noqa: BLE001 - answered as a bad request
                    self.send_error(400, f"not an ExportTraceServiceRequest: {exc}")
                    return
                with receiver._mutex:
                    receiver.spans.extend(decoded)
                    receiver.requests.append(dict(self.headers))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="otlp-receiver",
                         daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def received(self) -> list[ReceivedSpan]:
        with self._mutex:
            return list(self.spans)

    def wait_for(self, check: Callable[[list[ReceivedSpan]], bool], what: str,
                 timeout: float = 30.0) -> list[ReceivedSpan]:
        deadline = time.monotonic() + timeout
        while True:
            spans = self.received()
            if check(spans):
                return spans
            if time.monotonic() > deadline:
                names = sorted({(s.service, s.name) for s in spans})
                raise AssertionError(f"timed out waiting for {what}; received {names}")
            time.sleep(0.05)


def by_id(spans: list[ReceivedSpan]) -> dict[str, ReceivedSpan]:
    return {s.span_id: s for s in spans}


def children(spans: list[ReceivedSpan], parent: ReceivedSpan) -> list[ReceivedSpan]:
    return [s for s in spans if s.parent_span_id == parent.span_id
            and s.trace_id == parent.trace_id]
