"""A local stand-in for the far end of an alert channel: a webhook receiver (Alertmanager's webhook_configs, Apprise's
json://) or PagerDuty's Events API v2 (``/v2/enqueue``). Records every POST; its answer can be changed or held."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Receiver:
    port: int
    #: Every POST: {"path", "body" (parsed JSON or the text), "at" (time.monotonic() on arrival)}.
    posts: list[dict[str, Any]] = field(default_factory=list)
    #: The status to answer with (202 for PagerDuty, 200 otherwise).
    status: int = 200
    #: While set, requests wait (a channel that hangs) until it is cleared or the test ends.
    hold: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def bodies(self, path: str | None = None) -> list[Any]:
        with self.lock:
            return [p["body"] for p in self.posts if path is None or p["path"].startswith(path)]


@contextmanager
def running_receiver(status: int = 200, tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    """The stand-in on a free port of 127.0.0.1; over TLS with ``tls`` (a server context: PagerDuty's client speaks https only)."""
    rec = Receiver(0, status=status)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
            at = time.monotonic()
            if rec.hold.is_set():
                rec.released.wait(30)
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw
            with rec.lock:
                rec.posts.append({"path": self.path, "body": body, "at": at, "headers": dict(self.headers)})
                status = rec.status
            reply: dict[str, Any] = {"status": "success" if status < 300 else "error", "message": "stand-in"}
            if self.path.startswith("/v2/enqueue") and isinstance(body, dict):  # PagerDuty answers with the event's dedup_key
                reply["dedup_key"] = body.get("dedup_key") or "stand-in-dedup-key"
            answer = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        rec.scheme = "https"
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        rec.released.set()
        server.shutdown()
        server.server_close()
