"""A local OTLP/HTTP receiver (a collector's ``/v1/traces`` and ``/v1/metrics``), decoding what it gets with
``opentelemetry-proto`` into plain dicts tests can read; plus two dead collectors: a closed port, and a socket that
accepts connections and never answers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue


def value_of(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    return None if kind is None else getattr(v, kind)


def attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: value_of(kv.value) for kv in kvs if isinstance(kv, KeyValue)}


@dataclass
class Receiver:
    port: int = 0
    #: Every span received: name, ids (hex), times (ns), attributes, events, status, resource attributes.
    spans: list[dict[str, Any]] = field(default_factory=list)
    #: Every metric data point: metric name, kind, attributes, resource attributes, value (or histogram count/sum).
    points: list[dict[str, Any]] = field(default_factory=list)
    #: (path, headers) of each request.
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def traces(self) -> dict[str, list[dict[str, Any]]]:
        """Spans grouped by trace id."""
        out: dict[str, list[dict[str, Any]]] = {}
        with self.lock:
            for s in self.spans:
                out.setdefault(s["trace_id"], []).append(s)
        return out

    def add_traces(self, body: bytes) -> None:
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        for rs in req.resource_spans:
            resource = attrs(rs.resource.attributes)
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    with self.lock:
                        self.spans.append({
                            "name": sp.name, "trace_id": sp.trace_id.hex(), "span_id": sp.span_id.hex(),
                            "parent_span_id": sp.parent_span_id.hex(), "start_ns": sp.start_time_unix_nano,
                            "end_ns": sp.end_time_unix_nano, "attributes": attrs(sp.attributes), "resource": resource,
                            "events": [{"name": e.name, "time_ns": e.time_unix_nano, "attributes": attrs(e.attributes)} for e in sp.events],
                            "status_code": sp.status.code, "status_message": sp.status.message, "kind": sp.kind,
                        })

    def add_metrics(self, body: bytes) -> None:
        req = ExportMetricsServiceRequest()
        req.ParseFromString(body)
        for rm in req.resource_metrics:
            resource = attrs(rm.resource.attributes)
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    kind = m.WhichOneof("data")
                    for p in getattr(m, kind).data_points:
                        point = {"name": m.name, "kind": kind, "attributes": attrs(p.attributes), "resource": resource}
                        if kind == "histogram":
                            point.update(count=p.count, sum=p.sum)
                        else:
                            point["value"] = p.as_double if p.WhichOneof("value") == "as_double" else p.as_int
                        with self.lock:
                            self.points.append(point)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver.lock:
                receiver.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            if self.path == "/v1/traces":
                receiver.add_traces(body)
            elif self.path == "/v1/metrics":
                receiver.add_metrics(body)
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def silent_collector() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog does) and never reads or answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield int(s.getsockname()[1])

