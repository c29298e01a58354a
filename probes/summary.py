"""One line per run for people (stderr), in an on-call engineer's words."""

from __future__ import annotations

from probes.phases import MARK_START_AGENT_SENT
from probes.record import ProbeRun


def one_line(run: ProbeRun) -> str:
    rev = f" rev={run.revision}" if run.revision else ""
    if run.ok:
        return f"ok    {run.target}: golden path complete in {run.total_ms:.0f} ms{rev}"
    where = f" in {run.failed_phase}" if run.failed_phase else ""
    sent = run.elapsed_ms.get(MARK_START_AGENT_SENT)
    after = ""
    if sent is not None and run.total_ms is not None:
        after = f", {(run.total_ms - sent) / 1000:.1f} s after start_agent"
    return f"FAIL  {run.target}: {run.outcome}{where}: {run.error or ''}{after}{rev}"
