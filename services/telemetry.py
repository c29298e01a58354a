"""Export probe runs as OpenTelemetry: composes the probe's export settings with the OTLP adapter.

Imported by ``python -m probes run`` only when export is on (``--otlp``, ``[otel] endpoint`` or
``OTEL_EXPORTER_OTLP_ENDPOINT``), so a plain cron run loads nothing of OpenTelemetry. What leaves the machine is
redacted first (this process's secrets, the collector's header values, token shapes). A failed export is one line
on stderr and never changes the run's outcome or exit code.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Callable, Sequence

from integrations.otel import OtlpExporter
from probes.otlp import ExportSettings
from probes.record import ProbeRun
from probes.redact import clip, known_secrets, printable, redact_data

#: Longest line a failed export prints.
MAX_PROBLEM = 300
#: What the run waits beyond the export budget for the exporter to give up by itself, plus the local work of building
#: each run's spans and metrics (the budget is for the network).
JOIN_SLACK_S = 0.1
BUILD_S_PER_RUN = 0.005


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Telemetry:
    """Sends each cycle's runs (one trace per run, and their metrics) and flushes before returning."""

    def __init__(self, settings: ExportSettings, *, hostname: str | None = None, report: Callable[[str], None] = _stderr) -> None:
        self.settings = settings
        self.hostname = hostname or socket.gethostname() or "unknown-host"
        self.report = report
        self.secrets = (*known_secrets(), *settings.secrets)
        self.exporter = OtlpExporter(settings.endpoint, service_name=settings.service_name, timeout_s=settings.timeout_s,
                                     headers=settings.headers, instance=self.hostname)
        #: The export still running past its budget, if any (a ``--every`` loop never starts a second one beside it).
        self._busy: threading.Thread | None = None

    def location(self, run: ProbeRun) -> str:
        """Where the run was made: its ``location`` tag when set, else this host's name."""
        return run.tags.get("location") or self.hostname

    def export(self, runs: Sequence[ProbeRun]) -> str | None:
        """Export ``runs``; returns the one line reported when something did not arrive (None when all did)."""
        if not runs:
            return None
        if self._busy is not None and self._busy.is_alive():  # the last export still hangs on the collector: do not pile up
            return self._said([f"skipped: the previous export is still waiting on the collector (past its {self.settings.timeout_s:g} s budget)"])
        plain = [redact_data(run.to_dict(), self.secrets) for run in runs]
        locations = [self.location(run) for run in runs]
        outcome: list[list[str]] = []

        def send() -> None:
            try:
                outcome.append(self.exporter.export(plain, locations))
            except Exception as exc:  # noqa: BLE001 - telemetry never fails a run; say what broke in one line
                outcome.append([f"{type(exc).__name__}: {exc}"])

        # The exporter's timeouts are per socket read: a collector answering a byte at a time, or a name that takes long
        # to resolve, would outlast them. The run waits for the budget (plus a little) and no longer; a daemon thread
        # still sending is abandoned (the process exits, or the next cycle starts, without it).
        worker = threading.Thread(target=send, name="pathwatch-otlp-export", daemon=True)
        worker.start()
        worker.join(self.settings.timeout_s + JOIN_SLACK_S + BUILD_S_PER_RUN * len(runs))
        self._busy = worker if worker.is_alive() else None
        problems = outcome[0] if outcome else [f"not finished within the {self.settings.timeout_s:g} s export budget; abandoned"]
        return self._said(problems) if problems else None

    def _said(self, problems: list[str]) -> str:
        """Report the problems in one redacted, inert line (and return it)."""
        said = "; ".join(problems).replace(self.settings.endpoint, self.settings.shown_endpoint)
        line = f"pathwatch: OTLP export to {self.settings.shown_endpoint} failed ({printable(clip(said, MAX_PROBLEM, self.secrets))}); the runs are unaffected"
        self.report(line)
        return line


def open_telemetry(settings: ExportSettings) -> Telemetry:
    """The exporter for ``settings`` (nothing is sent until :meth:`Telemetry.export`)."""
    return Telemetry(settings)
