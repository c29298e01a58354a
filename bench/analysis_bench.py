"""Analysis and pages on the 1,000,000-run store: the overview's computations, then each page rendered cold in AppTest.

Each measurement runs in a fresh child process (started by bench.common.measure) so its peak RSS is its own.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

from bench.bigstore import ensure_store
from bench.common import ROOT, measure, record, table

PAGES = ["pages/overview.py", "pages/latency.py", "pages/failures.py", "pages/runs.py", "pages/incidents.py", "pages/deploys.py", "pages/impact.py"]
OVERVIEW_TARGET_S, PAGE_TARGET_S, RSS_TARGET_MB = 1.0, 2.0, 1536.0


def overview_once(db: str, now: float) -> dict[str, float]:
    """The overview page's data path without Streamlit: rollup reads, streaks, statuses, incidents."""
    from analysis import overview, rollups
    from analysis.slo import SLOConfig
    from store import incidents as store_incidents
    from store import rollup
    from store.sqlite import open_store

    slo = SLOConfig()
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    with open_store(db) as s:
        rows = rollup.hourly(s, good_under_ms=slo.threshold_s * 1000, since_ts=now - slo.window_s)
        hourly = rollups.hourly_frame(rows, rollup.HOURLY_COLUMNS)
        times["hourly rollup (30 d)"] = time.perf_counter() - t0
        t = time.perf_counter()
        last = rollup.latest_runs(s)
        times["latest run per target"] = time.perf_counter() - t
        t = time.perf_counter()
        streaks = {r.target: rollup.streak_start(s, r.target, r.ok, overview.opposite_hour(hourly, r.target, r.ok)) for r in last}
        times["streak starts"] = time.perf_counter() - t
        t = time.perf_counter()
        open_inc = [i for i in store_incidents.list_incidents(s) if i.get("status") == "open"]
        statuses = overview.target_statuses(last, streaks, hourly, open_inc, now=now, slo=slo)
        overview.headline(statuses)
        times["statuses (1 h / 24 h / 7 d, budget)"] = time.perf_counter() - t
    times["overview total"] = time.perf_counter() - t0
    return times


RANGES = ("24h", "7d", "30d")


def pages_once(db: str, repeat: int = 3) -> dict[str, float]:
    """Each page rendered in AppTest with cold caches (data loading included), for each time range; best of ``repeat``."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["PATHWATCH_DB"] = db
    out = {}
    for rng in RANGES:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.query_params["range"] = rng
        at.run()  # imports and the first script run, not counted
        for page in PAGES:
            for _ in range(repeat):
                st.cache_data.clear()
                t = time.perf_counter()
                at.switch_page(page).run()
                key = f"{Path(page).stem} ({rng})"
                out[key] = min(out.get(key, float("inf")), time.perf_counter() - t)
            if at.exception:
                raise RuntimeError(f"{page} ({rng}): {at.exception[0].message}")
    return out


def _child(kind: str, db: str) -> tuple[dict[str, float], float]:
    code = (f"import json, time; from bench.analysis_bench import {kind}_once as f; "
            f"r = f({db!r}" + (", time.time()" if kind == "overview" else "") + "); print(json.dumps(r))")
    m = measure([sys.executable, "-c", code], {**os.environ, "PYTHONPATH": str(ROOT)}, capture=True)
    if m["rc"] != 0:
        raise RuntimeError(m["output"][-2000:])
    return json.loads([line for line in m["output"].splitlines() if line.startswith("{")][-1]), m["rss_mb"]


def detection(db: str) -> list[list[Any]]:
    """``python -m analysis incidents detect``: a full pass over every run, then the incremental pass cron runs."""
    rows = []
    for label, extra in (("incident detection, full pass (--full)", ["--full"]), ("incident detection, incremental (cron's pass)", [])):
        m = measure([sys.executable, "-m", "analysis", "incidents", "detect", "--db", db, *extra], {**os.environ, "PYTHONPATH": str(ROOT)},
                    capture=True)
        if m["rc"] != 0:
            raise RuntimeError(f"{label}: {m['output'][-2000:]}")
        rows.append([f"{label}: seconds / peak RSS MB", f"{m['wall_s']:.1f} / {m['rss_mb']:.0f}", "", ""])
    return rows


def run(n_runs: int = 1_000_000, repeat: int = 3) -> str:
    path, built = ensure_store(n_runs)
    db = str(path)
    best_overview: dict[str, float] = {}
    rss_overview = 0.0
    for _ in range(repeat):
        times, rss = _child("overview", db)
        rss_overview = max(rss_overview, rss)
        best_overview = {k: min(v, best_overview.get(k, v)) for k, v in times.items()}
    page_times, rss_pages = _child("pages", db)
    rows: list[list[Any]] = [[k, f"{v:.3f}", "", ""] for k, v in best_overview.items()]
    rows[-1][2:] = [f"< {OVERVIEW_TARGET_S:.1f}", f"{best_overview['overview total'] / OVERVIEW_TARGET_S:.2f}x of target"]
    rows += [[f"page {p}, AppTest, cold cache", f"{t:.3f}", f"< {PAGE_TARGET_S:.1f}", f"{t / PAGE_TARGET_S:.2f}x of target"]
             for p, t in page_times.items()]
    rows += [["peak RSS, overview process (MB)", f"{rss_overview:.0f}", f"< {RSS_TARGET_MB:.0f}", f"{rss_overview / RSS_TARGET_MB:.2f}x"],
             ["peak RSS, pages process (MB)", f"{rss_pages:.0f}", f"< {RSS_TARGET_MB:.0f}", f"{rss_pages / RSS_TARGET_MB:.2f}x"]]
    rows += detection(db)
    size_mb = sum(Path(str(path) + s).stat().st_size for s in ("", "-wal") if Path(str(path) + s).exists()) / 2**20
    head = (f"Store: {n_runs:,} runs, 30 targets, 30 days ({size_mb:,.0f} MB SQLite"
            + (f", built in {built:.0f} s" if built else ", reused") + f"). Overview timings are the best of {repeat} fresh processes; "
            "page timings the best of 3 renders, each with Streamlit's caches cleared.")
    body = head + "\n\n" + table(["measurement", "seconds (or MB)", "target", "ratio"], rows)
    record("5. Analysis and pages on 1,000,000 runs", body, ("pandas", "streamlit"))
    return body


if __name__ == "__main__":
    run()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
