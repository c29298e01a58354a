"""What OpenTelemetry export costs a cron run: CPU and peak RSS with export off and on (a local OTLP/HTTP receiver),
and the delay a dead collector adds (a closed port; a socket that accepts and never answers; one that answers a byte
at a time, which no per-read timeout ends).

Export off must cost what the cron bench reports (nothing of OpenTelemetry is imported); export on pays for the SDK's
imports and one flush; a dead collector costs at most the export budget (``[otel] timeout_s``, default ``probes.otlp.DEFAULT_TIMEOUT_S``).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ROOT, measure, record, table
from bench.probe_bench import SECRET, sandbox
from probes.otlp import DEFAULT_TIMEOUT_S
from tests.fakes.otlp import closed_port, running_receiver, silent_collector
from tests.fakes.trickle import trickling_server


def _runs(cmd: list[str], env: dict[str, str], repeat: int) -> list[dict[str, Any]]:
    out = []
    for i in range(repeat + 1):
        m = measure(cmd, env, capture=True)
        lines = [ln for ln in m["output"].splitlines() if ln.startswith("{")]
        m["network_s"] = json.loads(lines[-1])["total_ms"] / 1000.0
        m["stderr_lines"] = len(m["output"].splitlines()) - len(lines)
        if i:  # the first run creates the database and warms the page cache
            out.append(m)
    return out


def run(repeat: int = 11, time_scale: float = 0.2) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update({"PATHWATCH_JWT_SECRET": SECRET, "PYTHONPATH": str(ROOT)})
    with sandbox(time_scale) as host, tempfile.TemporaryDirectory() as tmp, running_receiver() as rx, silent_collector() as silent, \
            trickling_server() as trickling:
        base = [sys.executable, "-m", "probes", "run", "--url", f"ws://{host}/ws", "--health-url", f"http://{host}/health", "--once",
                "--json", "--quiet", "--db", str(Path(tmp) / "cron.db")]
        cases = {
            "export off": _runs(base, env, repeat),
            "export on (local receiver)": _runs([*base, "--otlp", rx.url], env, repeat),
            "dead collector: closed port": _runs([*base, "--otlp", f"http://127.0.0.1:{closed_port()}"], env, repeat),
            "dead collector: accepts, never answers": _runs([*base, "--otlp", f"http://127.0.0.1:{silent}"], env, repeat),
            "dead collector: answers a byte at a time": _runs([*base, "--otlp", f"http://127.0.0.1:{trickling}"], env, repeat),
        }
        traces = len(rx.traces())
        # The floor of any Python probe on this machine (as in bench 2): it puts this run's load next to bench 2's.
        floor = [measure([sys.executable, "-c", "import asyncio, websockets.client"], env) for _ in range(repeat)]

    def med(ms: list[dict[str, Any]], key: str) -> float:
        return statistics.median(m[key] for m in ms)

    off = cases["export off"]
    over_off = statistics.median(m["wall_s"] - m["network_s"] for m in off)
    rows = []
    for name, ms in cases.items():
        over = statistics.median(m["wall_s"] - m["network_s"] for m in ms)
        rows.append([name, f"{med(ms, 'cpu_s'):.3f}", f"{med(ms, 'rss_mb'):.1f}", f"{over:.3f}", f"{over - over_off:+.3f}",
                     str(max(m["stderr_lines"] for m in ms)), str(sum(m["rc"] != 0 for m in ms))])
    rows.append(["floor: `python -c 'import asyncio, websockets.client'`", f"{med(floor, 'cpu_s'):.3f}", f"{med(floor, 'rss_mb'):.1f}",
                 "", "", "", ""])
    body = (f"Medians of {repeat} runs per case (`python -m probes run --once --json` writing to SQLite, first run of each case excluded), "
            f"one healthy sandbox (time scale {time_scale}); CPU and peak RSS from wait4. Export budget: the default {DEFAULT_TIMEOUT_S:g} s. "
            f"The receiver decoded {traces} traces (one per exported run). Targets: export off as in bench 2 (cron); a dead collector "
            "adds < 1 s. Export off over the floor, in CPU: "
            f"{med(off, 'cpu_s') / med(floor, 'cpu_s'):.2f}x (bench 2's cron run: 0.144 / 0.109 = 1.32x).\n\n"
            + table(["case", "CPU s", "peak RSS MB", "wall over network s", "added wall s", "stderr lines", "non-zero exits"], rows))
    record("7. OpenTelemetry export: cost of a cron run, and a dead collector", body,
           ("websockets", "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http"))
    return body
