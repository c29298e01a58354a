"""The cost of one cron run (export off) in this checkout against another revision's, run alternately against one
sandbox, so both see the same machine at the same moment (a loaded machine moves both alike).

    git worktree add /tmp/pathwatch-base <rev> && python -m bench cron-ab --base /tmp/pathwatch-base
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench.common import ROOT, measure, record
from bench.probe_bench import SECRET, sandbox


def run(base: Path, repeat: int = 30, time_scale: float = 0.2) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")} | {"PATHWATCH_JWT_SECRET": SECRET}
    got: dict[str, list[dict[str, float]]] = {"base": [], "this": []}
    with sandbox(time_scale) as host:
        for i in range(repeat + 1):
            for name, root in (("base", base), ("this", ROOT)):
                cmd = [sys.executable, "-m", "probes", "run", "--url", f"ws://{host}/ws", "--health-url", f"http://{host}/health",
                       "--once", "--json", "--quiet", "--no-store"]
                m = measure(cmd, env, cwd=root)
                outcome = json.loads(m["output"].strip().splitlines()[-1])["outcome"]
                if outcome != "ok":
                    raise SystemExit(f"bench cron-ab: a {name} run ended {outcome}, not ok")
                if i:  # the first of each warms the disk cache
                    got[name].append(m)

    def rev(root: Path) -> str:
        got_rev = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
        return got_rev.stdout.strip() or "?"

    def med(name: str, key: str) -> float:
        return statistics.median(m[key] for m in got[name])

    rows = [f"| {name} | {med(name, 'cpu_s'):.3f} | {min(m['cpu_s'] for m in got[name]):.3f} | {med(name, 'rss_mb'):.1f} |"
            for name in ("base", "this")]
    body = (f"{repeat} runs each, alternating, `python -m probes run --once --no-store` (export off) against one healthy sandbox; "
            f"base: {rev(base)}, this: {rev(ROOT)}.\n\n| checkout | CPU s (median) | CPU s (min) | peak RSS MB (median) |\n| --- | --- | --- | --- |\n"
            + "\n".join(rows) + f"\n\nRatio this/base, CPU median: {med('this', 'cpu_s') / med('base', 'cpu_s'):.2f}x; "
            f"peak RSS: {med('this', 'rss_mb') / med('base', 'rss_mb'):.2f}x.")
    record("9. Cron run, this checkout against another revision (export off)", body)
    return body
