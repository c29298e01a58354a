"""``python -m bench all`` or one benchmark by name; each prints its table and appends it to bench/RESULTS.md.

Install first: ``bash scripts/setup.sh bench`` (adds Grafana k6). The 1,000,000-run store is built once
under bench/data/ (about 2 minutes, 800 MB) and reused.
"""

from __future__ import annotations

import argparse
import sys

BENCHES = ("fidelity", "cron", "scale", "store", "analysis", "flood", "otel", "alert")
#: ``python -m bench reliability``: the reliability suite with heavier settings than CI's (not part of ``all``).
HEAVY = {"PATHWATCH_RELIABILITY_KILLS": "500", "PATHWATCH_RELIABILITY_EXAMPLES": "500"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("name", choices=(*BENCHES, "all", "build", "reliability", "cron-ab"),
                   help="which benchmark (build: only build the 1M-run store; cron-ab: this checkout's cron run against --base's)")
    p.add_argument("--base", metavar="DIR", help="cron-ab: a checkout of the revision to compare with (git worktree add DIR REV)")
    p.add_argument("--runs", type=int, default=1_000_000, help="store size for analysis/build (default 1,000,000)")
    p.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run, not for RESULTS.md)")
    args = p.parse_args(argv)
    names = BENCHES if args.name == "all" else (args.name,)
    for name in names:
        if name == "reliability":
            import os
            import subprocess

            env = {**os.environ, **HEAVY}
            return subprocess.call([sys.executable, "-m", "pytest", "tests/reliability", "-q", "-p", "no:cacheprovider", "-o", "timeout=3600"], env=env)
        if name == "cron-ab":
            from pathlib import Path

            from bench.cron_ab import run as cron_ab

            if not args.base or not (Path(args.base) / "probes").is_dir():
                p.error("cron-ab needs --base DIR, a checkout of another revision (git worktree add DIR REV)")
            cron_ab(Path(args.base), repeat=5 if args.quick else 30)
            return 0
        if name == "build":
            from bench.bigstore import ensure_store

            print(ensure_store(args.runs))
        elif name == "fidelity":
            from bench.probe_bench import fidelity

            fidelity(runs=20 if args.quick else 200)
        elif name == "cron":
            from bench.probe_bench import cron

            cron(repeat=3 if args.quick else 15)
        elif name == "scale":
            from bench.probe_bench import scale

            scale(sessions=(1, 10) if args.quick else (1, 100, 1000))
        elif name == "store":
            from bench.store_bench import run

            run(single=50, batch=2000, per_writer=20) if args.quick else run()
        elif name == "analysis":
            from bench.analysis_bench import run

            run(n_runs=args.runs, repeat=1 if args.quick else 3)
        elif name == "flood":
            from bench.flood import run

            run()
        elif name == "otel":
            from bench.otel_bench import run

            run(repeat=3 if args.quick else 11)
        elif name == "alert":
            from bench.alert_bench import run

            run(interval_s=2.0, repeat=1) if args.quick else run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
