"""OpenTelemetry: each probe run as one OTLP trace, and its figures as OTLP metrics, sent over OTLP/HTTP.

Thin adapter over the OpenTelemetry SDK (``opentelemetry-sdk``, ``opentelemetry-exporter-otlp-proto-http``). Plain
data in: run records as dicts (``ProbeRun.to_dict()``, already redacted by the caller) and the location of each;
SDK objects never leave this module. Out: a list of problems (text), empty when everything arrived.

The trace: a root span ``golden_path`` whose trace id and span id are the ones the run sent in ``traceparent`` (so the
backend's spans hang under it), one child span per phase reached, dated by the run's own marks (its wall-clock start
plus the kernel-stamped offsets it recorded: a span's duration is the phase's ``phases_ms``), plus one span for the
phase it failed in (``pathwatch.phase.completed = false``), an event per frame received, and ERROR status with the
outcome as its description on failure.

The metrics (same names as the Prometheus textfile, ``probes.prom``): ``probe_success`` (gauge, ``outcome``),
``probe_duration_seconds`` (gauge), ``probe_phase_duration_seconds`` (histogram, ``phase``), ``probe_close_code``
(gauge); data points carry ``target``; the resource carries ``pathwatch.location``, so fleets aggregate by both.

Bounded: one export is traces then metrics, both inside ``timeout_s`` in total; a dead collector (refused, or
accepting and never answering) costs at most about that, and never raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

# The exporter's HTTP client loads requests on its first request; loaded here, with the module, the export budget
# is spent on the network alone.
import requests  # noqa: F401
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import Histogram, MeterProvider

# The SDK's synchronous gauge class, the key its readers take for a gauge's temporality (not re-exported by
# opentelemetry.sdk.metrics in 1.45; the version is pinned).
from opentelemetry.sdk.metrics._internal.instrument import Gauge
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader, MetricExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from probes.phases import AGENT_EVENTS, CONNECTION_PHASES, MARK_FAILURE, MARK_START_AGENT_SENT, PHASES, reached
from probes.redact import printable
from probes.timeutil import parse_iso

SCOPE = "pathwatch.probe"
ROOT_SPAN = "golden_path"
#: Histogram buckets (seconds) for phase durations: from a local hop to a slow agent.
PHASE_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
#: Events kept per span: the probe keeps at most 1,000 frames per run; a trace needs the first ones.
MAX_SPAN_EVENTS = 200
_MS = 1_000_000  # ns per ms

# The SDK logs each failed export (with the endpoint) at ERROR; with no handler Python would print that to stderr.
# The caller reports one redacted line instead.
logging.getLogger("opentelemetry").addHandler(logging.NullHandler())
logging.getLogger("opentelemetry").propagate = False


class _RunIds(IdGenerator):
    """Hands out the run's own trace id and root span id once (set just before the root span starts), random after."""

    def __init__(self) -> None:
        self._random = RandomIdGenerator()
        self.trace_id: int | None = None
        self.span_id: int | None = None

    def generate_trace_id(self) -> int:
        value, self.trace_id = self.trace_id, None
        return value if value is not None else self._random.generate_trace_id()

    def generate_span_id(self) -> int:
        value, self.span_id = self.span_id, None
        return value if value is not None else self._random.generate_span_id()


class _Kept(SpanProcessor):
    """Keeps ended spans for one explicit, bounded export (no background thread, nothing sent behind our back)."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def phase_spans(run: Mapping[str, Any]) -> list[tuple[str, int, int, bool]]:
    """(phase, start ns, end ns, completed) of each phase reached, then of the phase it failed in, from the run's marks.

    A reached phase ends at its mark and starts ``phases_ms[phase]`` earlier, so its duration is exactly the recorded
    one. The failed phase runs from the end of the phase before it (``start_agent_sent`` for an agent event) to the
    failure mark.
    """
    start_ns = round(parse_iso(str(run["started_at"])) * 1e9)
    marks = run.get("elapsed_ms") or {}
    phases = run.get("phases_ms") or {}
    out: list[tuple[str, int, int, bool]] = []
    for phase, _, at, ms in reached(phases, marks):
        end = start_ns + round(at * _MS)
        out.append((phase, end - round(ms * _MS), end, True))
    failed = run.get("failed_phase")
    if failed in PHASES and marks.get(MARK_FAILURE) is not None and phases.get(failed) is None:
        before = 0.0
        if failed in AGENT_EVENTS:
            i = AGENT_EVENTS.index(failed)
            before = marks.get(AGENT_EVENTS[i - 1]) if i else marks.get(MARK_START_AGENT_SENT)
        else:
            earlier = [marks[p] for p in CONNECTION_PHASES[: CONNECTION_PHASES.index(failed)] if marks.get(p) is not None]
            before = max(earlier, default=0.0)
        begin = start_ns + round((before or 0.0) * _MS)
        out.append((failed, begin, max(begin, start_ns + round(marks[MARK_FAILURE] * _MS)), False))
    return out


def _attrs(pairs: Mapping[str, Any]) -> dict[str, Any]:
    """Span attributes without the unset ones (OpenTelemetry refuses None)."""
    return {k: v for k, v in pairs.items() if v is not None and v != ""}


def _root_attributes(run: Mapping[str, Any]) -> dict[str, Any]:
    return _attrs({
        "pathwatch.run_id": run.get("run_id"), "pathwatch.target": run.get("target"), "url.full": run.get("url"),
        "pathwatch.outcome": run.get("outcome"), "pathwatch.failed_phase": run.get("failed_phase"),
        "websocket.close.code": run.get("close_code"), "websocket.close.reason": run.get("close_reason"),
        "http.response.status_code": run.get("http_status"), "pathwatch.error": run.get("error"),
        "pathwatch.revision": run.get("revision"), "pathwatch.revision_after": run.get("revision_after"),
        "pathwatch.thread_id": run.get("thread_id"), "pathwatch.server_run_id": run.get("server_run_id"),
        "pathwatch.dialect": run.get("dialect"), "pathwatch.auth_canary": run.get("auth_canary"),
        "pathwatch.total_ms": run.get("total_ms"),
    })


class OtlpExporter:
    """Exports runs to one OTLP/HTTP collector: ``endpoint`` is its base URL (``/v1/traces``, ``/v1/metrics``)."""

    def __init__(self, endpoint: str, *, service_name: str, timeout_s: float, headers: Mapping[str, str] | None = None,
                 instance: str = "") -> None:
        self.endpoint = endpoint.rstrip("/")
        self.service_name = service_name
        self.timeout_s = timeout_s
        self.headers = dict(headers or {})
        #: Names this probe process's host in ``service.instance.id`` (with the location): stable from one cron run to the
        #: next, so a metrics backend keeps one series per host and location (the SDK's default is a random id per process).
        self.instance = instance
        self._ids = _RunIds()
        # One tracer provider and one meter provider per location for the life of the exporter: the SDK registers a
        # fork hook per provider that is never removed, so a provider per export would grow a --every loop's memory.
        self._tracers: dict[str, tuple[TracerProvider, _Kept]] = {}
        self._meters: dict[str, tuple[InMemoryMetricReader, dict[str, Any]]] = {}

    def _resource(self, location: str) -> Resource:
        instance = f"{self.instance}/{location}" if self.instance else location
        return Resource.create({"service.name": self.service_name, "service.instance.id": instance, "pathwatch.location": location})

    def export(self, runs: Sequence[Mapping[str, Any]], locations: Sequence[str]) -> list[str]:
        """Send every run's trace, then the metrics, within ``timeout_s`` in all; returns what failed (never raises)."""
        problems: list[str] = []
        try:
            spans = self._spans(runs, locations)
            metrics = self._metrics(runs, locations)
        except Exception as exc:  # noqa: BLE001 - the SDK raises many types; a run is never failed by its telemetry
            return [f"could not build the OTLP data ({type(exc).__name__}: {exc})"]
        deadline = time.monotonic() + self.timeout_s  # the budget is for the network: building the data is local work
        problems += self._send("traces", spans, deadline)
        for data in metrics:
            problems += self._send("metrics", data, deadline)
        return problems

    def _send(self, signal: str, data: Any, deadline: float) -> list[str]:
        left = deadline - time.monotonic()
        if left <= 0.01:
            return [f"{signal}: not sent, the {self.timeout_s:g} s export budget was spent"]
        try:
            exporter: OTLPSpanExporter | OTLPMetricExporter
            if signal == "traces":
                exporter = OTLPSpanExporter(endpoint=f"{self.endpoint}/v1/traces", headers=self.headers, timeout=left)
                ok = exporter.export(data) is SpanExportResult.SUCCESS
            else:
                exporter = OTLPMetricExporter(endpoint=f"{self.endpoint}/v1/metrics", headers=self.headers, timeout=left)
                ok = exporter.export(data) is MetricExportResult.SUCCESS
            exporter.shutdown()
        except Exception as exc:  # noqa: BLE001 - see export()
            return [f"{signal}: {type(exc).__name__}: {exc}"]
        if ok:
            return []
        late = time.monotonic() >= deadline - 0.01
        return [f"{signal}: the collector did not accept them" + (f" within {self.timeout_s:g} s" if late else "")]

    def _spans(self, runs: Sequence[Mapping[str, Any]], locations: Sequence[str]) -> list[ReadableSpan]:
        spans: list[ReadableSpan] = []
        for location in dict.fromkeys(locations):
            if location not in self._tracers:
                provider = TracerProvider(resource=self._resource(location), id_generator=self._ids, shutdown_on_exit=False)
                kept = _Kept()
                provider.add_span_processor(kept)
                self._tracers[location] = (provider, kept)
            provider, kept = self._tracers[location]
            kept.spans = []
            for run, where in zip(runs, locations, strict=True):
                if where == location:
                    self._trace(provider.get_tracer(SCOPE), run)
            spans += kept.spans
        return spans

    def _trace(self, tracer: Any, run: Mapping[str, Any]) -> None:
        start_ns = round(parse_iso(str(run["started_at"])) * 1e9)
        phases = phase_spans(run)
        events = (run.get("events") or [])[:MAX_SPAN_EVENTS]
        ends = [end for _, _, end, _ in phases] + [start_ns + round(float(e.get("elapsed_ms") or 0) * _MS) for e in events]
        end_ns = max([start_ns + round(float(run.get("total_ms") or 0.0) * _MS), *ends])
        trace_id, span_id = run.get("trace_id"), run.get("span_id")
        self._ids.trace_id = int(trace_id, 16) if trace_id else None
        self._ids.span_id = int(span_id, 16) if span_id else None
        root = tracer.start_span(ROOT_SPAN, kind=SpanKind.CLIENT, start_time=start_ns, attributes=_root_attributes(run))
        self._ids.trace_id = self._ids.span_id = None
        for e in events:
            name = printable(str(e.get("type") or "frame"))[:64]
            root.add_event(name, {"pathwatch.elapsed_ms": float(e.get("elapsed_ms") or 0.0)},
                           timestamp=start_ns + round(float(e.get("elapsed_ms") or 0.0) * _MS))
        context = set_span_in_context(root)
        for phase, begin, end, completed in phases:
            span = tracer.start_span(phase, context=context, start_time=begin,
                                     attributes={"pathwatch.phase": phase, "pathwatch.phase.completed": completed})
            if not completed:
                span.set_status(Status(StatusCode.ERROR, str(run.get("outcome"))))
            span.end(end_time=end)
        if run.get("outcome") != "ok":
            root.set_status(Status(StatusCode.ERROR, str(run.get("outcome"))))
        root.end(end_time=end_ns)

    def _meter(self, location: str) -> tuple[InMemoryMetricReader, dict[str, Any]]:
        """The location's reader and instruments, made once. Exported as DELTA: each export holds its own runs' points
        (a gauge of an earlier run, e.g. ``outcome="ok"``, is not repeated beside a later failure), the phases of its runs, whether the process lives for one cron run or for a ``--every`` loop (a Prometheus-style
        backend sums them; the OpenTelemetry Collector's ``deltatocumulative`` processor does it for Prometheus)."""
        if location not in self._meters:
            reader = InMemoryMetricReader(preferred_temporality={Histogram: AggregationTemporality.DELTA, Gauge: AggregationTemporality.DELTA})
            meter = MeterProvider(resource=self._resource(location), metric_readers=[reader], shutdown_on_exit=False).get_meter(SCOPE)
            self._meters[location] = (reader, {
                "success": meter.create_gauge("probe_success", description="Whether the golden path completed (all five agent events)."),
                "duration": meter.create_gauge("probe_duration_seconds", unit="s",
                                               description="Seconds the whole run took until its outcome was known."),
                "phase": meter.create_histogram("probe_phase_duration_seconds", unit="s", description="Seconds each phase took (phases reached).",
                                                explicit_bucket_boundaries_advisory=PHASE_BUCKETS_S),
                "close": meter.create_gauge("probe_close_code", description="WebSocket close code received (0 when none)."),
                "auth": meter.create_gauge("probe_auth_enforced",
                                           description="Whether the server refused the auth canary's deliberately wrong token."),
            })
        return self._meters[location]

    def _metrics(self, runs: Sequence[Mapping[str, Any]], locations: Sequence[str]) -> list[Any]:
        """One batch of metrics per location (the resource names the location)."""
        out = []
        for location in dict.fromkeys(locations):
            reader, m = self._meter(location)
            for run, where in zip(runs, locations, strict=True):
                if where != location:
                    continue
                target = {"target": str(run.get("target"))}
                m["success"].set(1 if run.get("outcome") == "ok" else 0, {**target, "outcome": str(run.get("outcome"))})
                m["duration"].set(float(run.get("total_ms") or 0.0) / 1000.0, target)
                for phase, ms in (run.get("phases_ms") or {}).items():
                    if ms is not None:
                        m["phase"].record(float(ms) / 1000.0, {**target, "phase": phase})
                m["close"].set(int(run.get("close_code") or 0), target)
                if run.get("auth_canary") in ("rejected", "accepted"):
                    m["auth"].set(1 if run.get("auth_canary") == "rejected" else 0, target)
            data = reader.get_metrics_data()
            if data is not None:
                out.append(data)
        return out
