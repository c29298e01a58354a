"""One line per run for people (stderr), in an on-call engineer's words.

Target, revision and error carry outside text (a server's close reason, a revision header): the
line is redacted and made printable, so one run is always exactly one inert line in a cron log.
"""

from __future__ import annotations

from probes.phases import MARK_START_AGENT_SENT
from probes.record import ProbeRun
from probes.redact import printable, redact


def one_line(run: ProbeRun) -> str:
    """The run in one line: ``ok`` with its time, or ``FAIL`` with outcome, phase, error and timing."""
    rev = f" rev={run.revision}" if run.revision else ""
    if run.ok:
        line = f"ok    {run.target}: golden path complete in {run.total_ms:.0f} ms{rev}"
    else:
        where = f" in {run.failed_phase}" if run.failed_phase else ""
        sent = run.elapsed_ms.get(MARK_START_AGENT_SENT)
        after = ""
        if sent is not None and run.total_ms is not None:
            after = f", {(run.total_ms - sent) / 1000:.1f} s after start_agent"
        line = f"FAIL  {run.target}: {run.outcome}{where}: {run.error or ''}{after}{rev}"
    return printable(redact(line))
