"""The sandbox's own logs, one JSON object per line, shaped like Cloud Logging entries of a Cloud Run revision.

Later parts read these files exactly as they read the real backend's entries.
"""

from __future__ import annotations

import json
import sys
import threading
import uuid
from datetime import UTC, datetime
from typing import Any, TextIO

PROJECT = "pathwatch-sandbox"
#: Cloud Logging's structured-logging keys for the trace (Cloud Run lifts them into the entry's trace and spanId).
TRACE_KEY = "logging.googleapis.com/trace"
SPAN_KEY = "logging.googleapis.com/spanId"
LOCATION = "sandbox-local"

#: What the real backend logged when the orchestrator was None (agent_service_core.py:544).
ORCHESTRATOR_TRACEBACK = """Traceback (most recent call last):
  File "/app/netra_backend/app/websocket_core/agent_handler.py", line 211, in handle_start_agent
    await self.agent_service.start_agent(request, user_context)
  File "/app/netra_backend/app/services/agent_service_core.py", line 544, in start_agent
    context = self._orchestrator.create_execution_context(user_id, agent_type)
AttributeError: 'NoneType' object has no attribute 'create_execution_context'"""


class CloudLog:
    """Writes entries to a stream; thread-safe and flushed per line so a reader never sees half a line."""

    def __init__(self, stream: TextIO | None, service_name: str) -> None:
        self.stream = stream
        self.service_name = service_name
        self._lock = threading.Lock()

    def entry(
        self,
        severity: str,
        revision: str,
        *,
        session: str | None = None,
        text: str | None = None,
        payload: dict[str, Any] | None = None,
        when: datetime | None = None,
        trace: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """One entry. ``trace`` is the (trace id, span id) of the request's ``traceparent``: written as Cloud Run does,
        ``trace`` / ``spanId`` on the entry and the structured-logging keys ``logging.googleapis.com/trace`` / ``spanId``."""
        stream_name = "stderr" if severity in ("ERROR", "CRITICAL", "ALERT", "EMERGENCY") else "stdout"
        e: dict[str, Any] = {
            "timestamp": (when or datetime.now(UTC)).isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "severity": severity,
            "logName": f"projects/{PROJECT}/logs/run.googleapis.com%2F{stream_name}",
            "insertId": uuid.uuid4().hex[:20],
            "resource": {
                "type": "cloud_run_revision",
                "labels": {
                    "project_id": PROJECT,
                    "service_name": self.service_name,
                    "revision_name": revision,
                    "location": LOCATION,
                    "configuration_name": self.service_name,
                },
            },
            "labels": {},
        }
        if session:
            e["labels"]["pathwatch_run"] = session
            e["trace"] = f"projects/{PROJECT}/traces/{session}"
        if trace is not None:
            e["trace"] = e[TRACE_KEY] = f"projects/{PROJECT}/traces/{trace[0]}"
            e["spanId"] = e[SPAN_KEY] = trace[1]
            e["traceSampled"] = True
        if text is not None:
            e["textPayload"] = text
        else:
            e["jsonPayload"] = payload or {}
        if self.stream is not None:
            line = json.dumps(e, separators=(",", ":"))
            with self._lock:
                self.stream.write(line + "\n")
                self.stream.flush()
        return e


def open_log(path: str | None, service_name: str) -> CloudLog:
    """``-`` logs to stdout, a path appends to that file, None discards."""
    if path is None:
        return CloudLog(None, service_name)
    if path == "-":
        return CloudLog(sys.stdout, service_name)
    return CloudLog(open(path, "a", encoding="utf-8"), service_name)  # noqa: SIM115 - lives as long as the server
