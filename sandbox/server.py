"""The stand-in backend: ``/ws`` speaks the golden path, ``/health`` reports the deployed revision.

Each connection keeps the revision and scenario that were live when it was
accepted, so a deploy never changes a run half-way (as with Cloud Run's
revisions). Ground truth, the monotonic time each event was sent, is kept per
session and served at ``/truth?session=<run id>`` for benchmarks.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from probes.phases import AGENT_EVENTS
from probes.protocol import CLOSE_UNSUPPORTED_DATA, JWT_SUBPROTOCOL_PREFIXES, RUN_ID_HEADERS, START_AGENT, bypasses_auth
from probes.tracecontext import HEADER_TRACEPARENT, HEADER_TRACESTATE, parse_traceparent
from sandbox.frames import DEMO_USER, FRAMES, Frames, new_ids, server_thread
from sandbox.logs import ORCHESTRATOR_TRACEBACK, CloudLog
from sandbox.scenarios import Scenario
from sandbox.stories import Chapter, Story

#: Upgrade headers the backend logs (never Authorization).
_LOGGED_HEADERS = ("User-Agent", *RUN_ID_HEADERS, "X-Test-Type", "X-Test-Environment", HEADER_TRACEPARENT, HEADER_TRACESTATE)
#: Sessions whose ground truth is kept (oldest dropped first), and sends kept per session (later ones are not).
MAX_TRUTH_SESSIONS = 20_000
MAX_TRUTH_EVENTS = 1_000


def _iso(dt: datetime | None = None) -> str:
    return (dt or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class _Conn:
    """What the handshake learned about one connection."""

    connection_id: str
    revision: str
    scenario: Scenario
    user_id: str
    session: str | None
    seq: int
    rng: random.Random
    headers: dict[str, str] = field(default_factory=dict)
    thread_id: str | None = None
    truth: list[dict[str, Any]] = field(default_factory=list)
    #: Why auth failed, for a dialect that accepts the upgrade and then closes 1008.
    refused: str | None = None
    #: (trace id, parent span id) from the upgrade's ``traceparent``, when it sent a valid one.
    trace: tuple[str, str] | None = None


class Sandbox:
    def __init__(self, story: Story, *, secret: str, log: CloudLog, time_scale: float = 1.0, story_scale: float | None = None, seed: int = 0,
                 clock=time.perf_counter_ns, dialect: str = "netra", demo_mode: bool = False) -> None:  # type: ignore[no-untyped-def]
        self.story = story
        #: The frames this server speaks (``netra``, the real backend's, by default) and whether it runs in DEMO mode,
        #: where every connection is user demo-user-001 whatever token it sends, as the real staging backend does.
        self.frames: Frames = FRAMES[dialect]
        self.demo_mode = demo_mode
        self.secret = secret
        self.log = log
        self.time_scale = time_scale
        self.story_scale = time_scale if story_scale is None else story_scale
        self.seed = seed
        self.clock = clock
        self.started_ns = clock()
        self.connections = 0
        self.truth: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        #: thread id -> (user id, connection) for runs in flight; cross_talk reads it.
        self.live: dict[str, tuple[str, ServerConnection]] = {}
        self.server: Server | None = None
        self._stopping = asyncio.Event()
        self._deploy_task: asyncio.Task[None] | None = None

    # -- story ----------------------------------------------------------------
    def current(self) -> tuple[int, Chapter]:
        return self.story.at((self.clock() - self.started_ns) / 1e9, self.story_scale)

    async def _announce_deploys(self) -> None:
        index, chapter = self.current()
        self._log_deploy(chapter)
        for edge in self.story.boundaries(self.story_scale)[index:]:
            await asyncio.sleep(max(0.0, edge - (self.clock() - self.started_ns) / 1e9))
            self._log_deploy(self.current()[1])

    def _log_deploy(self, chapter: Chapter) -> None:
        self.log.entry("NOTICE", chapter.revision, payload={
            "message": f"Deploying revision {chapter.revision}: now serving 100% of traffic",
            "event": "deploy", "revision": chapter.revision,
        })

    # -- HTTP side ------------------------------------------------------------
    def _json_response(self, status: int, body: dict[str, Any]) -> Response:
        data = json.dumps(body).encode()
        headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(data))), ("Connection", "close")])
        return Response(status, HTTPStatus(status).phrase, headers, data)

    async def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        _, chapter = self.current()
        if url.path in ("/health", "/api/health"):
            return self._json_response(200, {
                "status": "healthy", "service": self.story.service_name, "revision": chapter.revision,
                "uptime_s": round((self.clock() - self.started_ns) / 1e9, 3),
            })
        if url.path == "/truth":
            session = (parse_qs(url.query).get("session") or [""])[0]
            return self._json_response(200, {"session": session, "events": self.truth.get(session, [])})
        if url.path != "/ws":
            return self._json_response(404, {"error": f"no route {url.path}"})
        scenario = chapter.scenario
        # A header a client sends twice (tracestate may be split over lines) is one comma-joined value, never a 500.
        session = next((",".join(request.headers.get_all(h)) for h in RUN_ID_HEADERS if h in request.headers), None)
        # As Cloud Run does: a valid traceparent puts the request in the caller's trace; a malformed one is ignored.
        trace = parse_traceparent(request.headers.get(HEADER_TRACEPARENT)) if len(request.headers.get_all(HEADER_TRACEPARENT)) == 1 else None
        if scenario.behaviour == "handshake_hang":
            self.log.entry("WARNING", chapter.revision, session=session, trace=trace, payload={"message": "upgrade request received; not answering (handshake_hang)"})
            try:
                await asyncio.wait_for(self._stopping.wait(), scenario.hang_s * self.time_scale)
            except TimeoutError:
                return connection.respond(HTTPStatus.GATEWAY_TIMEOUT, "upstream timed out\n")
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "shutting down\n")
        token = _token_of(request)
        claims = self._authenticate(token, request) if scenario.behaviour != "auth_reject" else None
        refused = None
        if claims is None and scenario.behaviour != "auth_close":
            refused = "no token" if not token else "token rejected"
            if self.frames.closes.auth_at_upgrade:
                self.log.entry("WARNING", chapter.revision, session=session, trace=trace, payload={"message": f"WebSocket upgrade refused: 403 ({refused})", "event": "auth_rejected"})
                return connection.respond(HTTPStatus.FORBIDDEN, f"Forbidden: {refused}\n")
        self.connections += 1
        connection.pathwatch = _Conn(  # type: ignore[attr-defined]
            connection_id=uuid.uuid4().hex[:12], revision=chapter.revision, scenario=scenario,
            user_id=str((claims or {}).get("sub", "anonymous")), session=session, seq=self.connections,
            rng=random.Random(f"{self.seed}:{self.connections}"),
            headers={k: ",".join(request.headers.get_all(k)) for k in _LOGGED_HEADERS}, refused=refused, trace=trace,
        )
        return None

    def _authenticate(self, token: str | None, request: Request) -> dict[str, Any] | None:
        """The claims the backend would act on, as the real one decides them.

        DEMO mode: everyone is demo-user-001, whatever the token (auth_permissiveness.py:592-622). Otherwise, in
        the netra dialect a request header whose name contains "test" or "e2e" switches on the E2E bypass, which
        takes ``sub`` from the JWT without checking its signature (unified_websocket_auth.py:98-111).
        """
        if self.demo_mode:
            return {"sub": DEMO_USER}
        if self.frames.name == "netra" and token and _e2e_bypass(request):
            try:
                return jwt.decode(token, options={"verify_signature": False})
            except jwt.PyJWTError:
                return None
        return self._verify(token)

    def _verify(self, token: str | None) -> dict[str, Any] | None:
        if not token:
            return None
        try:
            return jwt.decode(
                token, self.secret, algorithms=["HS256"],
                options={"require": ["exp"], "verify_iat": False, "verify_nbf": False, "verify_aud": False, "verify_iss": False},
            )
        except jwt.PyJWTError:
            return None

    @staticmethod
    def select_subprotocol(connection: ServerConnection, offered: Any) -> Any:
        for sp in offered:
            if sp.startswith(JWT_SUBPROTOCOL_PREFIXES):
                return sp  # echoed back exactly, as the real backend does (websocket_ssot.py:752-767)
        return None

    # -- WebSocket side -------------------------------------------------------
    async def handler(self, ws: ServerConnection) -> None:
        c: _Conn = ws.pathwatch  # type: ignore[attr-defined]
        self._info(c, "WebSocket connection accepted", event="connect", user_id=c.user_id, headers=c.headers)
        tasks: list[asyncio.Task[None]] = []
        try:
            if c.scenario.behaviour == "auth_close" or c.refused:
                self.log.entry("WARNING", c.revision, session=c.session, trace=c.trace, payload={
                    "message": f"WebSocket authentication failed ({c.refused or 'token rejected by auth service'}); closing 1008",
                    "event": "auth_rejected", "connection_id": c.connection_id})
                if (frame := self.frames.auth_error()) is not None:
                    await self._send(ws, c, frame)
                await ws.close(*self.frames.closes.auth)
                return
            await asyncio.sleep(c.scenario.welcome_delay_s * self.time_scale)
            await self._send(ws, c, self.frames.welcome(user_id=c.user_id, connection_id=c.connection_id, revision=c.revision))
            # A stalled run heartbeats every heartbeat_s; the real backend also heartbeats any client silent for 35 s.
            if c.scenario.behaviour == "stall":
                tasks.append(asyncio.create_task(self._heartbeats(ws, c, c.scenario.heartbeat_s)))
            elif self.frames.name == "netra":
                tasks.append(asyncio.create_task(self._heartbeats(ws, c, c.scenario.client_silence_s)))
            async for message in ws:
                if isinstance(message, bytes):
                    await self._reject(ws, c, "binary frames are not supported")
                    return
                try:
                    msg = json.loads(message)
                except ValueError:
                    await self._reject(ws, c, "invalid JSON")
                    return
                kind = msg.get("type") if isinstance(msg, dict) else None
                if kind == START_AGENT:
                    thread_id = msg.get("thread_id")
                    if not isinstance(thread_id, str) or not thread_id:
                        await self._reject(ws, c, "start_agent needs a string thread_id")
                        return
                    c.thread_id = thread_id
                    self.live[thread_id] = (c.user_id, ws)
                    self._info(c, "start_agent received", event="start_agent", thread_id=thread_id)
                    tasks.append(asyncio.create_task(self._agent(ws, c, thread_id)))
                elif kind == "ping":
                    await self._send(ws, c, {"type": "pong", "timestamp": _iso()})
                elif self.frames.name == "netra" and kind in ("user_message", "chat", "agent_request"):
                    continue  # other client messages the real handler accepts; the golden path sends none
                elif kind in ("pong", "heartbeat"):
                    continue
                else:
                    await self._reject(ws, c, f"unsupported message type {str(kind)[:40]!r}")
                    return
        except ConnectionClosed:
            pass
        finally:
            for task in tasks:
                task.cancel()
            if c.thread_id:
                self.live.pop(c.thread_id, None)
            self._info(c, "WebSocket connection closed", event="close", close_code=ws.close_code, close_reason=ws.close_reason)

    async def _reject(self, ws: ServerConnection, c: _Conn, why: str) -> None:
        self.log.entry("WARNING", c.revision, session=c.session, trace=c.trace, payload={"message": f"closing 1003: {why}", "event": "bad_input", "connection_id": c.connection_id})
        await ws.close(CLOSE_UNSUPPORTED_DATA, why)

    async def _heartbeats(self, ws: ServerConnection, c: _Conn, every_s: float) -> None:
        n = 0
        try:
            while True:
                await asyncio.sleep(every_s * self.time_scale)
                n += 1
                await self._send(ws, c, self.frames.heartbeat(n, c.connection_id))
        except ConnectionClosed:
            pass

    async def _agent(self, ws: ServerConnection, c: _Conn, thread_id: str) -> None:
        """What the backend does after start_agent, per scenario."""
        try:
            await self._script(ws, c, thread_id)
        except ConnectionClosed:
            pass
        finally:
            self.live.pop(thread_id, None)

    async def _script(self, ws: ServerConnection, c: _Conn, thread_id: str) -> None:
        s, b = c.scenario, c.scenario.behaviour
        run_id, request_id = new_ids()
        client_thread, thread_id = thread_id, server_thread(self.frames, c.user_id, thread_id)
        delays = dict(s.delays)
        if b == "slow_thinking":
            delays["agent_thinking"] *= c.rng.uniform(s.thinking_factor_min, s.thinking_factor_max)
        if b == "flaky":
            b = "crash" if c.rng.random() < s.crash_rate else "healthy"
        if b == "stall":
            if (notice := self.frames.notice(thread_id, "Request received")) is not None:
                await self._send(ws, c, notice)
            return
        order = list(AGENT_EVENTS)
        if b == "out_of_order":
            order[1], order[2] = order[2], order[1]
        for i, event in enumerate(order):
            if b == "crash" and i == 1:
                await asyncio.sleep(max(0.0, s.crash_after_s - delays["agent_started"]) * self.time_scale)
                self.log.entry("ERROR", c.revision, session=c.session, trace=c.trace, text=ORCHESTRATOR_TRACEBACK)
                if (frame := self.frames.crash_error()) is not None:
                    await self._send(ws, c, frame)
                await ws.close(*self.frames.closes.crash)
                return
            await asyncio.sleep(delays[AGENT_EVENTS[i]] * self.time_scale)
            if b == "going_away" and i == 2:
                self._info(c, "instance shutting down", event="shutdown")
                await ws.close(s.close_code, "Service Restart" if s.close_code == 1012 else "Going Away")
                return
            if b == "partial" and i == 2:
                await ws.close(*self.frames.closes.cleanup)
                return
            if b == "malformed" and i == 1:
                await self._send_raw(ws, c, "<garbage>", "{not json")
                await self._send_raw(ws, c, "<binary>", b"\x00\x01\x02")
                await self._send(ws, c, {"type": "mystery_event", "thread_id": thread_id})
            if b == "cross_talk" and i == 1:
                await self._send(ws, c, self._foreign_event(client_thread))
            await self._send(ws, c, self.frames.event(event, thread_id=thread_id, run_id=run_id, request_id=request_id, user_id=c.user_id), event)

    def _foreign_event(self, own_thread: str) -> dict[str, Any]:
        """Another user's agent event: a live one if any, else a fabricated one."""
        run_id, request_id = new_ids()
        for thread_id, (user_id, _) in self.live.items():
            if thread_id != own_thread:
                return self.frames.event("agent_thinking", thread_id=server_thread(self.frames, user_id, thread_id), run_id=run_id,
                                         request_id=request_id, user_id=user_id)
        return self.frames.event("agent_thinking", thread_id=server_thread(self.frames, "another-user", str(uuid.uuid4())), run_id=run_id,
                                 request_id=request_id, user_id="another-user")

    async def _send(self, ws: ServerConnection, c: _Conn, message: dict[str, Any], kind: str | None = None) -> None:
        """Send a frame; ground truth names it ``kind`` (an agent event's canonical name), else its wire type."""
        await self._send_raw(ws, c, kind or str(message.get("type")), json.dumps(message))

    async def _send_raw(self, ws: ServerConnection, c: _Conn, kind: str, data: str | bytes) -> None:
        await ws.send(data)
        sent = self.clock()
        self._remember(c, {"type": kind, "sent_ns": sent, "since_start_ms": round((sent - self.started_ns) / 1e6, 3)})
        self._info(c, f"sent {kind}", event="send", type=kind)

    def _remember(self, c: _Conn, item: dict[str, Any]) -> None:
        if not c.session:
            return
        if c.session not in self.truth:
            self.truth[c.session] = c.truth
            while len(self.truth) > MAX_TRUTH_SESSIONS:
                self.truth.popitem(last=False)
        if len(c.truth) < MAX_TRUTH_EVENTS:
            c.truth.append(item)

    def _info(self, c: _Conn, message: str, **fields: Any) -> None:
        self.log.entry("INFO", c.revision, session=c.session, trace=c.trace, payload={"message": message, "connection_id": c.connection_id, **fields})

    # -- lifecycle ------------------------------------------------------------
    async def start(self, host: str, port: int, ssl: Any = None) -> Server:
        self.started_ns = self.clock()
        self.server = await serve(
            self.handler, host, port,
            process_request=self.process_request, select_subprotocol=self.select_subprotocol,
            compression=None, open_timeout=None, ping_interval=20, close_timeout=2, max_size=1 << 16,
            logger=_quiet_logger(), ssl=ssl,
        )
        self._deploy_task = asyncio.create_task(self._announce_deploys())
        return self.server

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]  # type: ignore[no-any-return]

    async def stop(self) -> None:
        self._stopping.set()
        if self._deploy_task:
            self._deploy_task.cancel()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def _e2e_bypass(request: Request) -> bool:
    """The real backend's E2E auth bypass (websocket_core/unified_websocket_auth.py:98-111): headers whose name holds
    "test" or "e2e", whose values (lower-cased, joined by spaces) hold e2e, staging, test, true or 1."""
    values = " ".join(v for k, v in request.headers.raw_items() if bypasses_auth(k)).lower()
    return any(word in values for word in ("e2e", "staging", "test", "true", "1"))


def _token_of(request: Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    for header in request.headers.get_all("Sec-WebSocket-Protocol"):
        for sp in header.split(","):
            sp = sp.strip()
            for prefix in JWT_SUBPROTOCOL_PREFIXES:
                if sp.startswith(prefix):
                    return sp[len(prefix):]
    query = parse_qs(urlsplit(request.path).query)
    return (query.get("token") or [None])[0]


def _quiet_logger():  # type: ignore[no-untyped-def]
    """websockets' own logger, silenced: the sandbox writes its own structured log."""
    import logging

    logger = logging.getLogger("pathwatch.sandbox.websockets")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger
