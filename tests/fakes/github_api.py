"""A local stand-in of the GitHub REST endpoints Pathwatch uses: repo, issue, issue comments (list, create, edit),
create issue. It checks the token, answers 404 for unknown repos/issues, can rate-limit, and records bodies."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeGitHub:
    token: str
    repos: set[str] = field(default_factory=lambda: {"acme/backend"})
    issues: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)
    rate_limited: bool = False
    #: A hostile or careless server: quote the Authorization header it got in its 401 answer.
    echo_token: bool = False
    #: A hostile server: answer this as every issue's and comment's html_url.
    html_url: str | None = None
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _next_id: int = 1000

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_issue(self, repo: str, number: int, title: str = "golden path broken", body: str = "") -> None:
        self.issues[(repo, number)] = {"number": number, "title": title, "body": body, "state": "open"}

    def bodies(self) -> list[str]:
        """Every body GitHub received (issues and comments, creations and edits)."""
        return [str(b.get("body", "")) for _, _, b in self.requests if b and "body" in b]

    def comments_on(self, repo: str, number: int) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["repo"] == repo and c["issue"] == number]


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _issue_json(self, repo: str, issue: dict[str, Any]) -> dict[str, Any]:
            base = f"{fake.api_url}/repos/{repo}/issues/{issue['number']}"
            return {**issue, "id": issue["number"], "url": base, "comments_url": base + "/comments",
                    "html_url": fake.html_url or f"https://github.example/{repo}/issues/{issue['number']}", "user": {"login": "pathwatch"}, "labels": []}

        def _comment_json(self, c: dict[str, Any]) -> dict[str, Any]:
            return {"id": c["id"], "body": c["body"], "url": f"{fake.api_url}/repos/{c['repo']}/issues/comments/{c['id']}",
                    "html_url": fake.html_url or f"https://github.example/{c['repo']}/issues/{c['issue']}#issuecomment-{c['id']}",
                    "user": {"login": "pathwatch"}}

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            with fake.lock:
                fake.requests.append((method, self.path, body))
                auth = self.headers.get("Authorization", "")
                if auth not in (f"token {fake.token}", f"Bearer {fake.token}"):
                    said = f"Bad credentials: {auth!r} is not a valid token" if fake.echo_token else "Bad credentials"
                    return self._reply(401, {"message": said, "documentation_url": f"https://docs.github.example/?given={auth}"})
                if fake.rate_limited:
                    return self._reply(403, {"message": "API rate limit exceeded"},
                                       {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1795000000"})
                path = self.path.split("?")[0]
                if m := re.fullmatch(r"/repos/([^/]+/[^/]+)", path):
                    repo = m.group(1)
                    if repo not in fake.repos:
                        return self._reply(404, {"message": "Not Found"})
                    return self._reply(200, {"id": 1, "name": repo.split("/")[1], "full_name": repo, "url": f"{fake.api_url}/repos/{repo}",
                                             "html_url": f"https://github.example/{repo}", "owner": {"login": repo.split("/")[0]}})
                if m := re.fullmatch(r"/repos/([^/]+/[^/]+)/issues", path):
                    repo = m.group(1)
                    if method != "POST" or repo not in fake.repos:
                        return self._reply(404, {"message": "Not Found"})
                    number = max([n for r, n in fake.issues if r == repo] or [0]) + 1
                    fake.add_issue(repo, number, body["title"], body.get("body", ""))
                    return self._reply(201, self._issue_json(repo, fake.issues[(repo, number)]))
                if m := re.fullmatch(r"/repos/([^/]+/[^/]+)/issues/comments/(\d+)", path):
                    c = fake.comments.get(int(m.group(2)))
                    if c is None or method != "PATCH":
                        return self._reply(404, {"message": "Not Found"})
                    c["body"] = body["body"]
                    return self._reply(200, self._comment_json(c))
                if m := re.fullmatch(r"/repos/([^/]+/[^/]+)/issues/(\d+)(/comments)?", path):
                    repo, number = m.group(1), int(m.group(2))
                    issue = fake.issues.get((repo, number))
                    if issue is None:
                        return self._reply(404, {"message": "Not Found"})
                    if not m.group(3):
                        if method == "PATCH":
                            issue.update({k: v for k, v in body.items() if k in ("title", "body", "state")})
                        return self._reply(200, self._issue_json(repo, issue))
                    if method == "GET":
                        return self._reply(200, [self._comment_json(c) for c in fake.comments_on(repo, number)])
                    fake._next_id += 1
                    c = {"id": fake._next_id, "repo": repo, "issue": number, "body": body["body"]}
                    fake.comments[c["id"]] = c
                    return self._reply(201, self._comment_json(c))
            return self._reply(404, {"message": "Not Found"})

        def do_GET(self) -> None:  # noqa: N802
            self._handle("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._handle("POST")

        def do_PATCH(self) -> None:  # noqa: N802
            self._handle("PATCH")

    return Handler


@contextmanager
def fake_github(token: str) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(token=token)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
