"""A local stand-in of Cloud Logging's v2 REST API: ``entries:list`` (with paging) and ``entries:write``.

It understands the filters Pathwatch sends (clauses joined by AND: ``field="v"``, ``field>="v"``,
``field<="v"``, ``severity>=ERROR``), records every request, and can answer 429 on demand.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SEVERITIES = ["DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"]
_CLAUSE = re.compile(r'^\s*([\w.]+)\s*(>=|<=|=|>|<)\s*"?([^"]*)"?\s*$')


def _get(entry: dict[str, Any], path: str) -> Any:
    cur: Any = entry
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def matches(entry: dict[str, Any], filter_: str) -> bool:
    for clause in filter(None, (c.strip() for c in re.split(r"\bAND\b", filter_ or ""))):
        m = _CLAUSE.match(clause)
        if not m:
            raise ValueError(f"fake logging API cannot parse filter clause {clause!r}")
        name, op, want = m.groups()
        have = _get(entry, name)
        if name == "severity":
            have_i, want_i = SEVERITIES.index(str(have or "DEFAULT")), SEVERITIES.index(want)
            ok = {"=": have_i == want_i, ">=": have_i >= want_i, "<=": have_i <= want_i, ">": have_i > want_i, "<": have_i < want_i}[op]
        else:
            have_s = "" if have is None else str(have)
            ok = {"=": have_s == want, ">=": have_s >= want, "<=": have_s <= want, ">": have_s > want, "<": have_s < want}[op]
        if not ok:
            return False
    return True


@dataclass
class FakeLogging:
    entries: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: Answer the next N list calls with 429 RESOURCE_EXHAUSTED.
    throttle_next: int = 0
    #: Fail (500) the list call with this 1-based number, once (to interrupt a sync).
    fail_call: int | None = None
    max_page_size: int = 1000
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def list_calls(self) -> list[dict[str, Any]]:
        return [body for path, body in self.requests if path.endswith("entries:list")]


def _handler(fake: FakeLogging) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            path = self.path.split("?")[0]
            with fake.lock:
                fake.requests.append((path, body))
                if path.endswith("/v2/entries:write"):
                    for e in body.get("entries", []):
                        merged = {"logName": body.get("logName"), "resource": body.get("resource"), **e}
                        merged.setdefault("timestamp", "2026-01-01T00:00:00Z")
                        merged.setdefault("insertId", f"w{len(fake.entries)}")
                        merged["labels"] = {**(body.get("labels") or {}), **(e.get("labels") or {})}
                        fake.entries.append(merged)
                    return self._reply(200, {})
                if path.endswith("/v2/entries:list"):
                    calls = len(fake.list_calls())
                    if fake.throttle_next > 0:
                        fake.throttle_next -= 1
                        return self._reply(429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Quota exceeded for ReadRequestsPerMinutePerProject"}})
                    if fake.fail_call == calls:
                        fake.fail_call = None
                        return self._reply(500, {"error": {"code": 500, "status": "INTERNAL", "message": "injected failure"}})
                    chosen = [e for e in fake.entries if matches(e, body.get("filter", ""))]
                    chosen.sort(key=lambda e: (e.get("timestamp", ""), e.get("insertId", "")), reverse="desc" in body.get("orderBy", ""))
                    start = int(body.get("pageToken") or 0)
                    size = min(int(body.get("pageSize") or 50), fake.max_page_size)
                    page = chosen[start:start + size]
                    out: dict[str, Any] = {"entries": page}
                    if start + size < len(chosen):
                        out["nextPageToken"] = str(start + size)
                    return self._reply(200, out)
            self._reply(404, {"error": {"code": 404, "message": f"no route {self.path}"}})

    return Handler


@contextmanager
def fake_logging(fake: FakeLogging | None = None) -> Iterator[FakeLogging]:
    fake = fake or FakeLogging()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
