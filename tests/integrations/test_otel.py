"""OpenTelemetry end to end: the real probe CLI (a subprocess) against the real sandbox, exporting to a local OTLP/HTTP
receiver that decodes what arrives with opentelemetry-proto. One wss:// sandbox (so all ten phases, TLS included, are
reached) and one crashing sandbox are shared by the module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analysis.server_logs import link_to_runs, parse_entry
from probes.phases import PHASES
from sandbox.logs import SPAN_KEY, TRACE_KEY
from store.sqlite import open_store
from tests.conftest import TEST_SECRET, RunningSandbox, leaks, running_sandbox
from tests.fakes.otlp import Receiver, closed_port, running_receiver, silent_collector
from tests.fakes.trickle import trickling_server
from tests.hostile.rawserver import self_signed_context

ROOT = Path(__file__).resolve().parents[2]
STATUS_ERROR = 2  # opentelemetry.proto.trace.v1.Status.STATUS_CODE_ERROR


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as rx:
        yield rx


@pytest.fixture(scope="module")
def wss_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """The healthy sandbox behind a self-signed certificate, on its own loop in a thread."""
    with running_sandbox(tls=self_signed_context(tmp_path_factory.mktemp("tls")), time_scale=0.05) as sb:
        yield sb


@pytest.fixture(scope="module")
def crash_sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox("orchestrator_crash") as sb:
        yield sb


def _config(path: Path, sandbox: RunningSandbox, endpoint: str | None, **otel: Any) -> Path:
    lines = ["[[targets]]", 'name = "staging-wss"', f'url = "wss://127.0.0.1:{sandbox.port}/ws"', "insecure_skip_tls_verify = true",
             "timeout_s = 10", 'tags = { location = "eu-probe-1" }']
    table = {"endpoint": endpoint, **otel} if endpoint else otel
    if table:
        lines += ["[otel]", *(f"{k} = {json.dumps(v)}" for k, v in table.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


def _probe(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], float]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    began = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "probes", "run", *args], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={**environ, **(env or {})})
    return proc, time.monotonic() - began


def _trace(receiver: Receiver, trace_id: str) -> list[dict[str, Any]]:
    """The spans of one trace; the probe flushed before it exited, so they are all there already."""
    return receiver.traces().get(trace_id, [])


def test_a_healthy_run_is_one_trace_with_ten_phase_spans_timed_as_the_run_recorded(wss_sandbox, receiver, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = _config(tmp_path / "targets.toml", wss_sandbox, receiver.url, tracestate="pathwatch=probe")
    proc, _ = _probe("--config", str(cfg), "--json", "--db", str(tmp_path / "p.db"), env={"OTEL_SERVICE_NAME": "probe-eu"})
    assert proc.returncode == 0, proc.stderr
    run = json.loads(proc.stdout)
    spans = _trace(receiver, run["trace_id"])
    roots = [s for s in spans if s["name"] == "golden_path"]
    assert len(roots) == 1
    root = roots[0]
    # The root is the very span the probe announced in traceparent, so the backend's spans hang under it.
    assert (root["span_id"], root["parent_span_id"]) == (run["span_id"], "")
    phases = [s for s in spans if s["attributes"].get("pathwatch.phase.completed") is True]
    assert [s["name"] for s in sorted(phases, key=lambda s: s["start_ns"])] == list(PHASES)
    assert len(spans) == 11  # the root, ten phases, nothing else
    for s in phases:
        assert s["parent_span_id"] == root["span_id"]
        assert abs((s["end_ns"] - s["start_ns"]) / 1e6 - run["phases_ms"][s["name"]]) < 0.1, s["name"]
    assert root["status_code"] == 0  # unset: a healthy run is no error
    assert root["attributes"]["pathwatch.outcome"] == "ok"
    assert root["attributes"]["pathwatch.run_id"] == run["run_id"]
    assert root["attributes"]["url.full"] == f"wss://127.0.0.1:{wss_sandbox.port}/ws"
    assert root["attributes"]["pathwatch.thread_id"] == run["thread_id"]
    assert root["attributes"]["pathwatch.server_run_id"] == run["server_run_id"]
    assert root["resource"]["service.name"] == "probe-eu"
    assert [e["name"] for e in root["events"]] == [e["type"] for e in run["events"]]
    assert {"agent_started", "agent_completed"} <= {e["name"] for e in root["events"]}
    # The sandbox got the same trace, and the tracestate the config asked for.
    accepted = next(e for e in wss_sandbox.log.entries() if e.get("jsonPayload", {}).get("event") == "connect"
                    and e["labels"].get("pathwatch_run") == run["run_id"])
    assert accepted["jsonPayload"]["headers"]["traceparent"] == f"00-{run['trace_id']}-{run['span_id']}-01"
    assert accepted["jsonPayload"]["headers"]["tracestate"] == "pathwatch=probe"
    assert accepted[TRACE_KEY].endswith(f"/traces/{run['trace_id']}") and accepted[SPAN_KEY] == run["span_id"]
    # The metrics arrive with the location (resource) and the target (data points), in the textfile's names.
    mine = [p for p in receiver.points if p["resource"].get("pathwatch.location") == "eu-probe-1"]
    success = [p for p in mine if p["name"] == "probe_success"]
    assert success and success[0]["value"] == 1 and success[0]["attributes"] == {"target": "staging-wss", "outcome": "ok"}
    hist = {p["attributes"]["phase"]: p for p in mine if p["name"] == "probe_phase_duration_seconds"}
    assert set(hist) == set(PHASES) and all(p["count"] == 1 for p in hist.values())
    assert abs(hist["agent_thinking"]["sum"] - run["phases_ms"]["agent_thinking"] / 1000) < 1e-6
    assert {p["name"] for p in mine} >= {"probe_duration_seconds", "probe_close_code"}
    with open_store(tmp_path / "p.db") as s:
        assert s.get_run(run["run_id"]).trace_id == run["trace_id"]
    assert not leaks(json.dumps(receiver.spans) + json.dumps(receiver.points))


def test_a_crash_exports_an_error_trace_that_the_server_log_and_the_store_share(crash_sandbox, receiver, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "p.db"
    proc, _ = _probe("--url", crash_sandbox.url, "--otlp", receiver.url, "--json", "--db", str(db))
    assert proc.returncode == 1, proc.stderr  # the check failed; the export changed nothing about that
    run = json.loads(proc.stdout)
    assert run["outcome"] == "server_error"
    spans = _trace(receiver, run["trace_id"])
    root = next(s for s in spans if s["name"] == "golden_path")
    assert (root["status_code"], root["status_message"]) == (STATUS_ERROR, "server_error")
    assert root["attributes"]["websocket.close.code"] == 1011
    assert root["attributes"]["pathwatch.failed_phase"] == run["failed_phase"]
    failed = next(s for s in spans if s["attributes"].get("pathwatch.phase.completed") is False)
    assert failed["name"] == run["failed_phase"] and failed["status_code"] == STATUS_ERROR
    # The traceparent the sandbox received, the trace on its ERROR line, the stored run and the export: one trace id.
    entries = crash_sandbox.log.entries()
    accepted = next(e for e in entries if e.get("jsonPayload", {}).get("event") == "connect" and e["labels"].get("pathwatch_run") == run["run_id"])
    assert accepted["jsonPayload"]["headers"]["traceparent"] == f"00-{root['trace_id']}-{root['span_id']}-01"
    error = next(e for e in entries if e["severity"] == "ERROR" and e["labels"].get("pathwatch_run") == run["run_id"])
    assert error["trace"] == error[TRACE_KEY] == f"projects/pathwatch-sandbox/traces/{root['trace_id']}"
    with open_store(db) as s:
        assert s.get_run(run["run_id"]).trace_id == root["trace_id"] == run["trace_id"]
    # A backend that logs no run id, with a clock an hour off: the trace alone still links the error to this run,
    # though another run is nearer in time.
    shifted = {**error, "labels": {}, "timestamp": "2031-01-01T00:00:00Z"}
    err = parse_entry(shifted)
    assert err.trace_id == run["trace_id"] and err.session is None
    near = err.ts - 1.0
    links = link_to_runs([err], ["other-run", run["run_id"]], [near, 0.0], [near + 2, 1.0], trace_ids=[None, run["trace_id"]])
    assert links == [run["run_id"]]
    assert link_to_runs([err], ["other-run", run["run_id"]], [near, 0.0], [near + 2, 1.0]) == ["other-run"]  # by time alone: wrong


@pytest.fixture(scope="module")
def plain_s(wss_sandbox, tmp_path_factory) -> float:  # type: ignore[no-untyped-def]
    """How long the same run takes with export off (the baseline of the dead-collector delay)."""
    baseline, seconds = _probe("--config", str(_config(tmp_path_factory.mktemp("plain") / "plain.toml", wss_sandbox, None)), "--no-store", "--quiet")
    assert baseline.returncode == 0, baseline.stderr
    return seconds


@pytest.mark.parametrize("dead", ["closed port", "accepts and never answers", "answers a byte at a time"])
def test_a_dead_collector_costs_a_bounded_delay_and_never_the_outcome(wss_sandbox, plain_s, tmp_path, dead) -> None:  # type: ignore[no-untyped-def]
    with silent_collector() as silent, trickling_server() as trickling:
        port = {"closed port": closed_port(), "accepts and never answers": silent, "answers a byte at a time": trickling}[dead]
        cfg = _config(tmp_path / "dead.toml", wss_sandbox, f"http://127.0.0.1:{port}")
        proc, export_s = _probe("--config", str(cfg), "--no-store", "--quiet", "--json",
                                env={"OTEL_EXPORTER_OTLP_HEADERS": f"x-api-key={TEST_SECRET}"})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outcome"] == "ok"
    assert export_s - plain_s < 3.0, (export_s, plain_s)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"pathwatch: OTLP export to http://127.0.0.1:{port} failed"), proc.stderr
    assert not leaks(proc.stderr + proc.stdout)


def test_without_export_no_opentelemetry_module_is_imported(wss_sandbox, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = _config(tmp_path / "plain.toml", wss_sandbox, None)
    code = ("import json, sys; from probes.cli import main; rc = main(sys.argv[1:]); "
            "print(json.dumps({'rc': rc, 'otel': sorted(m for m in sys.modules if m.startswith('opentelemetry'))}), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code, "run", "--config", str(cfg), "--no-store", "--quiet"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, env={k: v for k, v in os.environ.items() if not k.startswith("OTEL_")})
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report == {"rc": 0, "otel": []}


def test_a_loop_never_piles_up_exports_behind_a_collector_that_trickles_and_keeps_one_provider_per_location(wss_sandbox) -> None:  # type: ignore[no-untyped-def]
    """``--every``: each cycle exports through the same Telemetry. A collector answering a byte at a time holds one export
    past its budget; the next cycles say so and skip, instead of starting thread after thread."""
    import asyncio
    import threading

    from probes.otlp import ExportSettings
    from probes.runner import probe_target
    from services.telemetry import Telemetry

    runs = asyncio.run(probe_target(wss_sandbox.target()))
    said: list[str] = []
    with trickling_server() as port:
        tel = Telemetry(ExportSettings(f"http://127.0.0.1:{port}", timeout_s=0.2), hostname="probe-host", report=said.append)
        for _ in range(4):
            tel.export(runs)
        busy = [t for t in threading.enumerate() if t.name == "pathwatch-otlp-export" and t.is_alive()]
        assert len(busy) <= 1, f"{len(busy)} exports piled up"
        assert "budget" in said[0] and all("skipped: the previous export is still waiting" in line for line in said[1:]), said
        assert len(tel.exporter._tracers) == 1 and len(tel.exporter._meters) == 1  # noqa: SLF001 - one provider per location, reused
