"""The store: one run's write latency, batch ingest rate, and 8 writer processes with a dashboard reader at once."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

import numpy as np

from bench.common import record, table
from bench.datagen import synthetic_runs

ROOT = Path(__file__).resolve().parents[1]

WRITER = """
import json, sys, time
from bench.datagen import synthetic_runs
from store.sqlite import open_store
from itertools import islice
path, seed, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lat = []
with open_store(path) as s:
    for run in islice(synthetic_runs(n * 30, seed=seed), n):
        t = time.perf_counter(); s.save_run(run); lat.append(time.perf_counter() - t)
print(json.dumps(lat))
"""

READER = """
import json, os, sys, time
from store import rollup
from store.sqlite import open_store
from analysis import rollups
path, stop_file = sys.argv[1], sys.argv[2]
lat, errors = [], []
while not os.path.exists(stop_file):
    t = time.perf_counter()
    try:
        with open_store(path) as s:
            rollups.hourly_frame(rollup.hourly(s, good_under_ms=10000), rollup.HOURLY_COLUMNS)
            rollup.latest_runs(s)
            s.run_rows(("run_id", "outcome"), newest=2000)
    except Exception as exc:
        errors.append(repr(exc))
    lat.append(time.perf_counter() - t)
print(json.dumps({"lat": lat, "errors": errors}))
"""


def run(single: int = 500, batch: int = 20_000, writers: int = 8, per_writer: int = 300) -> str:
    from store.sqlite import open_store

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "s.db"
        runs = list(islice(synthetic_runs(single * 30, seed=7), single))
        lat = []
        with open_store(db) as s:
            for r in runs:
                t = time.perf_counter()
                s.save_run(r)
                lat.append(time.perf_counter() - t)
        rows.append(["single-run write latency p50 / p99 (ms)", f"{np.percentile(lat, 50) * 1000:.2f} / {np.percentile(lat, 99) * 1000:.2f}",
                     f"{single} runs, one transaction each (WAL, synchronous=NORMAL)"])
        many = list(islice(synthetic_runs(batch * 30, seed=8), batch))
        with open_store(Path(tmp) / "b.db") as s:
            t = time.perf_counter()
            for i in range(0, len(many), 5000):
                s.save_runs(many[i:i + 5000])
            rate = batch / (time.perf_counter() - t)
        rows.append(["batch ingest (runs/s)", f"{rate:,.0f}", f"{batch:,} runs in transactions of 5,000, rollups included"])

        shared = Path(tmp) / "shared.db"
        open_store(shared).close()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        t0 = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(shared), str(100 + w), str(per_writer)], stdout=subprocess.PIPE, env=env, cwd=ROOT)
                 for w in range(writers)]
        stop = Path(tmp) / "stop"
        reader = subprocess.Popen([sys.executable, "-c", READER, str(shared), str(stop)], stdout=subprocess.PIPE, env=env, cwd=ROOT)
        outs = [json.loads(p.communicate()[0]) for p in procs]
        elapsed = time.perf_counter() - t0
        stop.touch()
        reader_out = json.loads(reader.communicate()[0])
        w_lat = [x for o in outs for x in o]
        with open_store(shared) as s:
            stored = s.count_runs()
            distinct = len({row[0] for row in s.run_rows(("run_id",))})
    rows.append([f"{writers} writer processes: runs stored / written", f"{stored:,} / {writers * per_writer:,}",
                 f"distinct ids {distinct:,}; {writers * per_writer / elapsed:,.0f} runs/s together"])
    rows.append([f"{writers} writers: write latency p50 / p99 (ms)", f"{statistics.median(w_lat) * 1000:.1f} / {np.percentile(w_lat, 99) * 1000:.1f}",
                 "each run its own transaction, all processes contending for the one WAL writer lock"])
    rows.append(["dashboard reader queries p50 / p99 (ms)", f"{np.percentile(reader_out['lat'], 50) * 1000:.1f} / {np.percentile(reader_out['lat'], 99) * 1000:.1f}",
                 f"hourly rollup + latest runs + newest 2,000 runs; errors surfaced: {len(reader_out['errors'])}"])
    body = table(["measurement", "figure", "how"], rows)
    record("4. Store", body, ())
    return body
