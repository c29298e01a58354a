"""The benchmark store: 1,000,000 synthetic runs (30 targets, 30 days), built once and reused.

``python -m bench build [--runs N]`` builds ``bench/data/store-<N>.db``; a store counts as built only
when its completion mark is present, so an interrupted build is redone rather than measured.
"""

from __future__ import annotations

import time
from itertools import islice
from pathlib import Path

from bench.common import DATA
from bench.datagen import synthetic_runs
from store import kv
from store.sqlite import open_store

MARK = "bench_store_complete"


def store_path(n_runs: int) -> Path:
    return DATA / f"store-{n_runs}.db"


def ensure_store(n_runs: int = 1_000_000, *, quiet: bool = False) -> tuple[Path, float | None]:
    """(path, build seconds or None when it already existed)."""
    path = store_path(n_runs)
    if path.exists():
        with open_store(path) as s:
            if kv.get(s, MARK) == str(n_runs):
                return path, None
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    DATA.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    gen = synthetic_runs(n_runs)
    done = 0
    with open_store(path) as s:
        while batch := list(islice(gen, 20_000)):
            s.save_runs(batch)
            done += len(batch)
            if not quiet and done % 100_000 == 0:
                print(f"build: {done:,} runs in {time.perf_counter() - t0:.0f} s", flush=True)
        kv.put(s, MARK, str(n_runs))
        s.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path, time.perf_counter() - t0
