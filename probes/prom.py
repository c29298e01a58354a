"""Prometheus textfile output (node_exporter's textfile collector), in blackbox_exporter's names."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from probes.phases import PHASES
from probes.record import ProbeRun


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(runs: Iterable[ProbeRun], store_ok: bool | None = None) -> str:
    """Exposition text for the latest run of each target; every phase label always present (NaN if not reached).

    ``store_ok`` (None: no store in use) adds ``pathwatch_store_write_success``, so an alert can tell a full or
    unwritable store apart from the run it could not keep.
    """
    latest: dict[str, ProbeRun] = {}
    for run in runs:
        latest[run.target] = run
    lines = [
        "# HELP probe_success Whether the golden path completed (all five agent events).",
        "# TYPE probe_success gauge",
    ]
    body: dict[str, list[str]] = {"success": [], "duration": [], "phase": [], "close": [], "auth": []}
    for name, run in sorted(latest.items()):
        t = f'target="{_label(name)}"'
        body["success"].append(f'probe_success{{{t},outcome="{run.outcome}"}} {1 if run.ok else 0}')
        body["duration"].append(f"probe_duration_seconds{{{t}}} {(run.total_ms or 0) / 1000:.6f}")
        for phase in PHASES:
            ms = run.phases_ms.get(phase)
            body["phase"].append(f'probe_phase_duration_seconds{{{t},phase="{phase}"}} {"NaN" if ms is None else f"{ms / 1000:.6f}"}')
        body["close"].append(f"probe_close_code{{{t}}} {run.close_code if run.close_code is not None else 0}")
        if run.auth_canary in ("rejected", "accepted"):
            body["auth"].append(f"probe_auth_enforced{{{t}}} {1 if run.auth_canary == 'rejected' else 0}")
    lines += body["success"]
    lines += ["# HELP probe_duration_seconds Seconds the whole run took until its outcome was known.", "# TYPE probe_duration_seconds gauge", *body["duration"]]
    lines += ["# HELP probe_phase_duration_seconds Seconds each phase took; NaN when not reached.", "# TYPE probe_phase_duration_seconds gauge", *body["phase"]]
    lines += ["# HELP probe_close_code WebSocket close code received (0 when none).", "# TYPE probe_close_code gauge", *body["close"]]
    if body["auth"]:
        lines += ["# HELP probe_auth_enforced Whether the server refused the auth canary's deliberately wrong token.",
                  "# TYPE probe_auth_enforced gauge", *body["auth"]]
    if store_ok is not None:
        lines += ["# HELP pathwatch_store_write_success Whether these runs were saved to the store (0: full or not writable).",
                  "# TYPE pathwatch_store_write_success gauge", f"pathwatch_store_write_success {1 if store_ok else 0}"]
    return "\n".join(lines) + "\n"


def write_textfile(path: str | Path, runs: Iterable[ProbeRun], store_ok: bool | None = None) -> None:
    """Write atomically (temp file + rename) so the collector never reads half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".pathwatch-", suffix=".prom")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(render(runs, store_ok))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
