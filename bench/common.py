"""Shared benchmark plumbing: machine facts, timing, and appending results to bench/RESULTS.md."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("RESULTS.md")
DATA = Path(__file__).with_name("data")


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def versions(*packages: str) -> str:
    out = []
    for p in packages:
        try:
            out.append(f"{p} {metadata.version(p)}")
        except metadata.PackageNotFoundError:
            out.append(f"{p} (not installed)")
    return ", ".join(out)


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Best-of-``repeat`` wall time in seconds, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def record(name: str, body: str, packages: tuple[str, ...] = ()) -> None:
    """Print the result and append it to bench/RESULTS.md with date, machine and versions."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = f"\n## {name} ({stamp})\n\nMachine: {machine()}" + (f"; {versions(*packages)}" if packages else "") + f"\n\n{body}\n"
    print(text)
    with RESULTS.open("a", encoding="utf-8") as f:
        f.write(text)


#: Forks and execs the measured command from a small process. Linux counts the RSS a child had *before* exec
#: in its peak RSS, so a child forked straight from this (large) benchmark process would never report less than
#: the benchmark's own size. The launcher also times the child itself, leaving its own start-up out.
_LAUNCHER = """
import json, os, sys, time
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    json.dump({"wall_s": time.perf_counter() - t0, "cpu_s": ru.ru_utime + ru.ru_stime, "rss_mb": ru.ru_maxrss / 1024,
               "rc": os.waitstatus_to_exitcode(status)}, f)
"""


def measure(cmd: list[str], env: dict[str, str], capture: bool = False, cwd: Path = ROOT) -> dict[str, Any]:
    """Wall time, CPU seconds, peak RSS, exit code and output of one child process (from wait4 in a small launcher)."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as usage:
        proc = subprocess.run([sys.executable, "-I", "-S", "-c", _LAUNCHER, usage.name, *cmd], cwd=cwd, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT if capture else subprocess.DEVNULL, text=True, check=False)
        result: dict[str, Any] = json.loads(usage.read())
    result["output"] = proc.stdout
    return result
