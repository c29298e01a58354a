"""One probe process against a server that floods it: peak memory, what is kept, what is stored, what is printed.

Before the caps, a server flooding small frames made one 10-second run take 1.3 GB of memory, 390 MB
of store and a 340 MB ``--json`` line. Each case here is one real ``python -m probes run --timeout 10``
against the byte-level server of ``tests/hostile/rawserver.py`` (in this process, on a thread), measured
from a small launcher (``bench.common.measure``) so the peak RSS is the probe's own. Target: under 100 MB.
Also: what the depth scan of ``probes.jsonsafe`` costs on 1 MB inputs.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import ROOT, measure, record, table
from probes.runner import MAX_MESSAGE_BYTES
from store.sqlite import open_store
from tests.hostile.rawserver import CONT, PING, TEXT, Conn, RawServer, frame, store_bytes, text

TIMEOUT_S = 10.0
TARGET_MB = 100.0


async def _after_start(conn: Conn) -> None:
    await conn.welcome()
    await conn.start_agent()


def _text_flood(size: int) -> Callable[[Conn], Any]:
    unit = text({"type": "heartbeat", "pad": "h" * max(0, size - 30)})

    async def script(conn: Conn) -> None:
        await _after_start(conn)
        await conn.flood(unit, seconds=TIMEOUT_S)

    return script


async def _ping_flood(conn: Conn) -> None:
    await _after_start(conn)
    await conn.flood(frame(PING, b"are you there"), seconds=TIMEOUT_S)  # never reads the pongs


async def _fragments(conn: Conn) -> None:
    await _after_start(conn)
    await conn.send(frame(TEXT, b'{"type": "heartbeat", "pad": "', fin=False))
    await conn.flood(frame(CONT, b"x" * 10, fin=False), seconds=TIMEOUT_S)


CASES: dict[str, Callable[[Conn], Any]] = {
    "100k+ tiny heartbeats (20 B)": _text_flood(20),
    "2 KB heartbeats": _text_flood(2000),
    f"{(MAX_MESSAGE_BYTES * 9 // 10) >> 10} KB heartbeats for {TIMEOUT_S:.0f} s": _text_flood(MAX_MESSAGE_BYTES * 9 // 10),
    "pings, pongs never read": _ping_flood,
    "one endless fragmented message (10 B pieces)": _fragments,
}


def _one(name: str, script: Callable[[Conn], Any], folder: Path, env: dict[str, str]) -> list[Any]:
    db = folder / f"{abs(hash(name))}.db"
    open_store(db).close()
    empty = store_bytes(db)
    with RawServer(script) as srv:
        cmd = [sys.executable, "-m", "probes", "run", "--url", srv.url, "--timeout", str(TIMEOUT_S), "--json", "--quiet", "--db", str(db)]
        m = measure(cmd, env)
        sent, sent_bytes = srv.stats.frames_sent, srv.stats.bytes_sent
    line = m["output"].strip().splitlines()[-1]
    run = json.loads(line)
    error = (run["error"] or "")[:60]
    return [name, f"{m['wall_s']:.2f}", f"{m['rss_mb']:.0f}", f"{m['rss_mb'] / TARGET_MB:.2f}x", f"{run['outcome']}: {error}",
            f"{sent:,} ({sent_bytes / 1e6:.1f} MB)", len(run["events"]), f"{(store_bytes(db) - empty) / 1e3:.0f}", f"{len(line.encode()) / 1e3:.0f}"]


def _scan_costs() -> list[list[str]]:
    from probes.jsonsafe import exceeds

    def tree(d: int) -> str:
        return "[]" if d == 0 else "[" + tree(d - 1) + "," + tree(d - 1) + "]"

    shapes = {
        "8,000 records (1.1 MB)": json.dumps([{"type": "heartbeat", "id": i, "payload": {"message": "x" * 60, "tags": [1, 2]}} for i in range(8000)]),
        "one string with escapes (1.5 MB)": json.dumps({"type": "x", "s": 'a\\"b' * 250_000}),
        "[],[],... (1 MB)": "[" + "[]," * 333_333 + "[]]",
        "binary tree, depth 17 (0.7 MB)": tree(17),
        "8-deep arrays side by side (0.9 MB)": "[" + ",".join(["[" * 8 + "]" * 8] * 55_000) + "]",
        "brackets inside strings (0.8 MB)": json.dumps(["[[[[{{{{" * 10] * 10_000),
        "100,000 deep (0.2 MB)": "[" * 100_000 + "]" * 100_000,
        "1,000,000 unclosed '[' (1 MB)": "[" * 1_000_000,
    }
    rows = []
    for name, doc in shapes.items():
        best = float("inf")
        for _ in range(7):
            t0 = time.perf_counter()
            deep = exceeds(doc, 64)
            best = min(best, time.perf_counter() - t0)
        rows.append([name, f"{best * 1e3:.1f}", "refused" if deep else "accepted"])
    return rows


def run() -> str:
    env = {**os.environ, "PATHWATCH_JWT_SECRET": "bench-" + secrets.token_hex(16), "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        rows = [_one(name, script, Path(tmp), env) for name, script in CASES.items()]
    body = (
        f"One `python -m probes run --timeout {TIMEOUT_S:.0f} --json` per case against a byte-level server "
        "(tests/hostile/rawserver.py) that waits for `start_agent`, then floods for up to "
        f"{TIMEOUT_S:.0f} s as fast as the probe takes it. Peak RSS from wait4 in a launcher (the probe's own). "
        f"Target: peak RSS < {TARGET_MB:.0f} MB. Frames sent: written to the connection before the probe hung up, including "
        "what the probe read and dropped while it waited (at most 0.5 s) for the answer to its close frame.\n\n"
        + table(["flood", "wall s", "peak RSS MB", "of target", "outcome", "frames sent", "events kept", "store growth KB", "--json line KB"], rows)
        + "\n\n`probes.jsonsafe.exceeds(text, 64)`, the depth scan that runs before `json.loads` when text has more than 64 "
        "opening brackets (best of 7):\n\n"
        + table(["input", "ms", "verdict"], _scan_costs())
    )
    record("6. One probe under a flood", body, ("websockets",))
    return body
