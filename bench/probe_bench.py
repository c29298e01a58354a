"""The probe side by side with Grafana k6: timing fidelity, the cost of one cron run, and scale.

The sandbox runs in its own process (so the probe and the server never share a GIL), on 127.0.0.1.
Ground truth is the monotonic time the sandbox sent each event; comparing intervals (measured
interval between two events vs the server's send interval) makes the check clock-independent.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bench import k6
from bench.common import ROOT, measure, record, table
from probes.phases import AGENT_EVENTS

SECRET = "bench-" + secrets.token_hex(16)
INTERVALS = list(zip(AGENT_EVENTS, AGENT_EVENTS[1:], strict=False))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def sandbox(time_scale: float, scenario: str = "healthy") -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "PATHWATCH_JWT_SECRET": SECRET, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", str(port), "--scenario", scenario, "--time-scale", str(time_scale)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the sandbox did not start") from None
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def truth(host: str, session: str) -> dict[str, float]:
    with urllib.request.urlopen(f"http://{host}/truth?session={session}", timeout=5) as r:
        return {e["type"]: e["sent_ns"] / 1e6 for e in json.loads(r.read())["events"]}


def interval_errors(measured_ms: dict[str, float], sent_ms: dict[str, float]) -> dict[str, float]:
    """Per event phase: measured interval since the previous event minus the server's send interval (ms)."""
    out = {}
    for a, b in INTERVALS:
        if a in measured_ms and b in measured_ms and a in sent_ms and b in sent_ms:
            out[b] = (measured_ms[b] - measured_ms[a]) - (sent_ms[b] - sent_ms[a])
    return out


def _summary(errors: list[dict[str, float]]) -> dict[str, tuple[float, float, float, int]]:
    out = {}
    for _, b in INTERVALS:
        v = np.abs([e[b] for e in errors if b in e])
        if v.size:
            out[b] = (float(np.percentile(v, 50)), float(np.percentile(v, 99)), float(v.max()), int(v.size))
    allv = np.abs([x for e in errors for x in e.values()])
    out["all event phases"] = (float(np.percentile(allv, 50)), float(np.percentile(allv, 99)), float(allv.max()), int(allv.size))
    return out


def _k6_env(host: str) -> dict[str, str]:
    from probes.auth import mint_jwt

    return {**os.environ, "PW_URL": f"ws://{host}/ws", "PW_TOKEN": mint_jwt(SECRET, subject="k6", now=time.time(), ttl_s=3600),
            "K6_NO_USAGE_REPORT": "true"}


def _k6(host: str, folder: Path, vus: int, iterations: int) -> tuple[list[dict[str, Any]], dict[str, float]]:
    binary = k6.binary()
    if binary is None:
        raise RuntimeError("k6 is not installed: .venv/bin/pip install -r requirements-bench.txt")
    script = k6.write_script(folder)
    cmd = [binary, "run", "--quiet", "--log-format", "raw", "--vus", str(vus), "--iterations", str(iterations), str(script)]
    usage = measure(cmd, _k6_env(host), capture=True)
    return k6.parse_output(usage.pop("output")), usage  # type: ignore[arg-type]


# ---------------------------------------------------------------- 1. timing fidelity

def fidelity(runs: int = 200, time_scale: float = 0.1) -> str:
    from probes.config import target_from_url
    from probes.runner import run_session

    with sandbox(time_scale) as host, tempfile.TemporaryDirectory() as tmp:
        target = target_from_url(f"ws://{host}/ws", name="bench")
        env = {"PATHWATCH_JWT_SECRET": SECRET}
        pw_errors = []
        for _ in range(runs):
            run = asyncio.run(run_session(target, environ=env))
            if run.ok:
                pw_errors.append(interval_errors(run.elapsed_ms, truth(host, run.run_id)))
        k6_runs, _ = _k6(host, Path(tmp), 1, runs)
        k6_errors = [interval_errors({k: float(v) for k, v in r["times"].items()}, truth(host, r["session"])) for r in k6_runs]
    pw, kk = _summary(pw_errors), _summary(k6_errors)
    rows = [[phase, f"{pw[phase][0]:.3f}", f"{pw[phase][1]:.3f}", f"{pw[phase][2]:.3f}",
             f"{kk[phase][0]:.3f}", f"{kk[phase][1]:.3f}", f"{kk[phase][2]:.3f}",
             f"{kk[phase][1] / max(pw[phase][1], 1e-6):.1f}x"] for phase in pw if phase in kk]
    body = (f"{len(pw_errors)} Pathwatch runs and {len(k6_runs)} k6 iterations against one healthy sandbox (time scale {time_scale}); "
            "|measured interval - server send interval| in ms. Target: Pathwatch p99 < 1 ms and below k6's.\n\n"
            + table(["phase", "Pathwatch p50", "p99", "max", "k6 p50", "k6 p99", "k6 max", "k6 p99 / Pathwatch p99"], rows))
    record("1. Timing fidelity", body, ("websockets", "k6"))
    return body


# ---------------------------------------------------------------- 2. cost of one cron run

def cron(repeat: int = 15, time_scale: float = 0.2) -> str:
    with sandbox(time_scale) as host, tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PATHWATCH_JWT_SECRET": SECRET, "PYTHONPATH": str(ROOT)}
        pw = []
        for i in range(repeat):
            cmd = [sys.executable, "-m", "probes", "run", "--url", f"ws://{host}/ws", "--health-url", f"http://{host}/health", "--once",
                   "--json", "--quiet", "--db", str(Path(tmp) / "cron.db")]
            m = measure(cmd, env)
            run = json.loads(m["output"].strip().splitlines()[-1])
            m["network_s"] = run["total_ms"] / 1000.0
            if i:  # the first run creates the database; cron's steady state is the rest
                pw.append(m)
        kk = []
        script = k6.write_script(Path(tmp))
        for _ in range(repeat):
            m = measure([str(k6.binary()), "run", "--quiet", "--log-format", "raw", "--vus", "1", "--iterations", "1", str(script)], _k6_env(host), capture=True)
            (it,) = k6.parse_output(m["output"])
            m["network_s"] = (it["times"]["agent_completed"] - it["t0"]) / 1000.0
            kk.append(m)
        # The floor of any Python probe on this machine: the interpreter plus asyncio and websockets, doing nothing.
        floor = [measure([sys.executable, "-c", "import asyncio, websockets.client"], env) for _ in range(repeat)]
        imports = subprocess.run([sys.executable, "-X", "importtime", "-c", "import probes.cli, probes.runner, probes.auth, probes.health, store.sqlite"],
                                 capture_output=True, text=True, cwd=ROOT, env=env).stderr
    def med(ms: list[dict[str, Any]], key: str) -> float:
        return statistics.median(m[key] for m in ms)
    over_pw = statistics.median(m["wall_s"] - m["network_s"] for m in pw)
    over_k6 = statistics.median(m["wall_s"] - m["network_s"] for m in kk)
    rows = [
        ["wall time over network time (s)", f"{over_pw:.3f}", f"{over_k6:.3f}", "< 0.35", f"{over_pw / over_k6:.2f}"],
        ["CPU seconds", f"{med(pw, 'cpu_s'):.3f}", f"{med(kk, 'cpu_s'):.3f}", "within 2x of k6", f"{med(pw, 'cpu_s') / med(kk, 'cpu_s'):.2f}"],
        ["peak RSS (MB)", f"{med(pw, 'rss_mb'):.1f}", f"{med(kk, 'rss_mb'):.1f}", "< 80 and below k6", f"{med(pw, 'rss_mb') / med(kk, 'rss_mb'):.2f}"],
        ["network time (s)", f"{med(pw, 'network_s'):.3f}", f"{med(kk, 'network_s'):.3f}", "", ""],
        ["floor: CPU of `python -c 'import asyncio, websockets.client'` (s)", f"{med(floor, 'cpu_s'):.3f}", "", "",
         f"{med(floor, 'cpu_s') / med(kk, 'cpu_s'):.2f}"],
    ]
    top = sorted(((int(p[1]), p[2].strip()) for line in imports.splitlines() if line.startswith("import time:") and
                  len(p := [x.strip() for x in line.removeprefix("import time:").split("|")]) == 3 and p[1].isdigit()), reverse=True)[:8]
    body = (f"Medians of {repeat - 1} Pathwatch runs (`python -m probes run --once --json` writing to SQLite, first run excluded) and "
            f"{repeat} `k6 run` single iterations, one healthy sandbox (time scale {time_scale}).\n\n"
            + table(["measurement", "Pathwatch", "k6", "target", "Pathwatch / k6"], rows)
            + "\n\nHeaviest imports on the cron path (`python -X importtime`, cumulative microseconds):\n\n"
            + table(["cumulative us", "module"], [[f"{us:,}", mod] for us, mod in top]))
    record("2. Cost of one cron run", body, ("websockets", "PyJWT", "k6"))
    return body


# ---------------------------------------------------------------- 3. scale of one probe process

def scale(sessions: tuple[int, ...] = (1, 100, 1000), time_scale: float = 1.0) -> str:
    rows = []
    with sandbox(time_scale) as host, tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PATHWATCH_JWT_SECRET": SECRET, "PYTHONPATH": str(ROOT)}
        for n in sessions:
            m = measure([sys.executable, "-m", "probes", "run", "--url", f"ws://{host}/ws", "--users", str(n), "--json", "--quiet", "--no-store",
                          "--timeout", "60"], env)
            runs = [json.loads(line) for line in m["output"].splitlines() if line.startswith("{")]
            ok = [r for r in runs if r["outcome"] == "ok"]
            errs = [interval_errors(r["elapsed_ms"], truth(host, r["run_id"])) for r in ok]
            s = _summary(errs)["all event phases"] if errs else (float("nan"),) * 3
            k6_runs, ku = _k6(host, Path(tmp), n, n)
            kerrs = [interval_errors({k: float(v) for k, v in r["times"].items()}, truth(host, r["session"])) for r in k6_runs]
            ks = _summary(kerrs)["all event phases"] if kerrs else (float("nan"),) * 3
            rows.append([n, f"{len(ok)}/{len(runs)}", f"{s[1]:.2f}", f"{m['cpu_s']:.2f}", f"{m['wall_s']:.2f}", f"{m['rss_mb']:.0f}",
                         f"{len(k6_runs)}/{n}", f"{ks[1]:.2f}", f"{ku['cpu_s']:.2f}", f"{ku['wall_s']:.2f}", f"{ku['rss_mb']:.0f}"])
    body = (f"Concurrent sessions from one process (`--users N`) vs k6 with N VUs, one iteration each, against one sandbox "
            f"(healthy, time scale {time_scale}: about 1.5 s of server time per session) on {os.cpu_count()} cores. "
            "Timing error: p99 of |measured interval - server send interval| over all event phases, ms. Target: 1,000 sessions with p99 < 5 ms.\n\n"
            + table(["sessions", "Pathwatch ok", "err p99 ms", "CPU s", "wall s", "RSS MB", "k6 ok", "k6 err p99 ms", "k6 CPU s", "k6 wall s", "k6 RSS MB"], rows))
    record("3. Scale of one probe process", body, ("websockets", "k6"))
    return body
