"""The asyncio edge of the probe: owns the socket, the clock and the deadlines.

It moves bytes between the network and two pure state machines (websockets'
sans-I/O ``ClientProtocol`` for framing, :class:`probes.golden_path.GoldenPath`
for the golden path) and takes every time mark. Where each mark is taken:

* ``dns``     - when ``getaddrinfo`` returns.
* ``connect`` - when the non-blocking ``connect()`` of the TCP socket completes.
* ``tls``     - when the TLS handshake (over memory BIOs) has finished (wss only).
* every later mark (the upgrade response, each message, a close frame, a drop)
  is the time the bytes that completed it arrived: the kernel's receive
  stamp of that read (:mod:`probes.stamped`; for wss:// the read whose
  TLS record completed it), so a loop busy with other sessions adds no
  error; for a close or drop, when it was seen.
* ``start_agent_sent`` - right after the frame was handed to the transport.

All marks are ``time.perf_counter()`` (CLOCK_MONOTONIC on Linux), relative to
the start of the run.
"""

from __future__ import annotations

import asyncio
import errno
import math
import socket
import ssl
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State as WsState
from websockets.uri import parse_uri

from probes import __version__
from probes.auth import credentials, user_subjects, wrong_token
from probes.config import Target
from probes.golden_path import GoldenPath
from probes.outcomes import Outcome
from probes.protocol import HEADER_RUN_ID, JWT_SUBPROTOCOL_PREFIX, backend_test_headers, start_agent_message
from probes.record import MAX_EVENTS_KEPT, ProbeRun
from probes.redact import redact
from probes.stamped import StampedTransport, request_stamps, tls_handshake
from probes.tls import client_context
from probes.tracecontext import HEADER_TRACEPARENT, HEADER_TRACESTATE, new_ids, traceparent

#: Says what the traffic is without any word ("test", "e2e") that switches the real backend's auth bypass on.
USER_AGENT = f"pathwatch/{__version__} (synthetic golden-path probe)"
#: The auth canary waits no longer than this for the server's verdict on a wrong token.
CANARY_TIMEOUT_S = 10.0
#: Largest message the probe accepts; a bigger one is a protocol error, not a memory problem.
MAX_MESSAGE_BYTES = 1 << 20
#: How long the probe waits for the server's close echo after it is done.
CLOSE_GRACE_S = 0.5
#: Bytes read but not yet handled by the session; past this the socket is paused (backpressure), so a
#: server sending faster than the probe parses fills the kernel's buffers and TCP's window, not our memory.
MAX_QUEUED_BYTES = 1 << 20
#: Error numbers that mean the probe itself ran out of something (files, buffers, memory, local ports):
#: such a run is ``probe_error``; the target is never blamed for it.
OWN_OVERLOAD_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.EADDRNOTAVAIL})

Clock = Callable[[], float]


class _Backlog(asyncio.Queue[tuple[str, float, object]]):
    """The wire's queue. Taking an item out (``get`` or ``get_nowait``) tells the wire, which resumes reading
    once the backlog is low again; ``_get`` is the hook asyncio's own queue variants override."""

    def __init__(self, on_take: Callable[[tuple[str, float, object]], None]) -> None:
        super().__init__()
        self._on_take = on_take

    def _get(self) -> tuple[str, float, object]:
        item = super()._get()
        self._on_take(item)
        return item


class _Wire:
    """Receives from StampedTransport: dates every chunk by its kernel stamp, then queues it for the session.

    At most about ``max_queued`` bytes wait in the queue: past that the transport stops reading until the
    session has taken half of them (bytes left in the kernel keep their arrival stamps)."""

    def __init__(self, clock: Clock, max_queued: int = MAX_QUEUED_BYTES) -> None:
        self.clock = clock
        self.queue: asyncio.Queue[tuple[str, float, object]] = _Backlog(self._taken)
        self.made_at: float | None = None
        self.max_queued = max_queued
        self.queued = 0
        self.transport: StampedTransport | None = None

    def connection_made(self, transport: object) -> None:
        self.made_at = self.clock()
        self.transport = transport if isinstance(transport, StampedTransport) else None

    def stamped_data_received(self, data: bytes, age_s: float) -> None:
        """From StampedTransport: ``age_s`` is how long ago the kernel received the bytes."""
        self.queue.put_nowait(("data", self.clock() - age_s, data))
        self.queued += len(data)
        if self.queued > self.max_queued and self.transport is not None:
            self.transport.pause_reading()

    def _taken(self, item: tuple[str, float, object]) -> None:
        if item[0] == "data":
            self.queued -= len(item[2])  # type: ignore[arg-type]
        if self.queued <= self.max_queued // 2 and self.transport is not None:
            self.transport.resume_reading()

    def eof_received(self) -> None:
        self.queue.put_nowait(("eof", self.clock(), None))

    def connection_lost(self, exc: Exception | None) -> None:
        self.queue.put_nowait(("lost", self.clock(), exc))


class FrameLimit(Exception):
    """A server sent more frames, or a longer fragmented message, than one run takes (a named protocol error)."""


class _Assembler:
    """Joins fragmented data frames into whole messages, and counts every frame of the run.

    Bounded: more than ``max_frames`` frames of any kind (pings and fragments too, which never become
    events) or a fragmented message over ``max_bytes`` raise :class:`FrameLimit`, naming the counts.
    """

    def __init__(self, max_frames: int = MAX_EVENTS_KEPT, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.opcode: Opcode | None = None
        self.parts: list[bytes] = []
        self.size = 0
        self.max_frames, self.max_bytes = max_frames, max_bytes
        self.frames = self.bytes = 0

    def feed(self, frame: Frame) -> tuple[Opcode, bytes] | None:
        self.frames += 1
        self.bytes += len(frame.data)
        if self.frames > self.max_frames:
            self.opcode, self.parts = None, []
            raise FrameLimit(f"message flood: more than {self.max_frames} frames ({self.bytes} bytes)")
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            self.opcode, self.parts, self.size = frame.opcode, [frame.data], len(frame.data)
        elif frame.opcode is Opcode.CONT and self.opcode is not None:
            self.size += len(frame.data)
            if self.size > self.max_bytes:
                self.opcode, self.parts = None, []
                raise FrameLimit(f"fragmented message over {self.max_bytes} bytes ({self.frames} frames so far)")
            self.parts.append(frame.data)
        else:
            return None
        if not frame.fin or self.opcode is None:
            return None
        opcode, data = self.opcode, b"".join(self.parts)
        self.opcode, self.parts = None, []
        return opcode, data


def _is_connected(sock: socket.socket) -> bool:
    """Whether the kernel finished a non-blocking connect, whether or not the loop has noticed."""
    try:
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            return False
        sock.getpeername()
    except OSError:
        return False
    return True


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Session:
    """One run against one target: DNS to the last event, with deadlines."""

    def __init__(self, target: Target, *, run_id: str, subject: str, token: str | None, secrets: tuple[str, ...], clock: Clock,
                 canary: bool = False, trace: tuple[str, str] | None = None) -> None:
        self.target = target
        #: (trace id, root span id) sent as ``traceparent`` on the upgrade: the run's own trace, made here, always.
        self.trace = trace or new_ids()
        #: A canary session stops once the server has accepted (welcomed) or refused its deliberately wrong token.
        self.canary = canary
        self.run_id = run_id
        self.subject = subject
        self.token = token
        self.secrets = secrets
        self.clock = clock
        self.thread_id = str(uuid.uuid4())
        self.gp = GoldenPath(
            thread_id=self.thread_id,
            user_id=subject,
            secure=target.secure,
            welcome_any_first=target.welcome_any_first,
            secrets=secrets,
            dialect=target.protocol,
        )
        self.t0 = 0.0
        self.phase_started = 0.0
        self.transport: StampedTransport | None = None

    def now(self) -> float:
        return self.clock() - self.t0

    def _timeout(self) -> float:
        """Seconds left before the earlier of the run's and the current phase's deadline."""
        left = self.target.timeouts.total - self.now()
        per_phase = self.target.timeouts.for_phase(self.gp.phase)
        if per_phase is not None:
            left = min(left, self.phase_started + per_phase - self.now())
        return left

    async def _step(self, awaitable):  # type: ignore[no-untyped-def]
        """Await a connection step under the deadline; on expiry tell the golden path."""
        left = self._timeout()
        if left <= 0:
            self.gp.deadline(self.now())
            return None
        try:
            return await asyncio.wait_for(awaitable, left)
        except TimeoutError:
            self.gp.deadline(self.now())
            return None

    async def run(self) -> float:
        """Drive the run to an outcome; returns the elapsed seconds when it was decided."""
        self.t0 = self.clock()
        try:
            await self._connect()
            if not self.gp.finished:
                await self._converse()
        except Exception as exc:  # the probe itself broke: say so, never hang or lose the run
            text = redact("".join(traceback.format_exception(exc)), self.secrets)
            print(f"pathwatch: probe error in run {self.run_id}:\n{text}", file=sys.stderr)
            self.gp.failed(Outcome.PROBE_ERROR, f"probe error: {type(exc).__name__}", self.now())
        decided = self.now()
        await self._close()
        return decided

    async def _connect(self) -> None:
        parts = urlsplit(self.target.url)
        host = parts.hostname or ""
        port = parts.port or (443 if self.target.secure else 80)
        loop = asyncio.get_running_loop()
        try:
            infos = await self._step(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except socket.gaierror as exc:
            self.gp.failed(Outcome.DNS_ERROR, f"cannot resolve {host!r}: {exc.strerror}", self.now())
            return
        except UnicodeError as exc:  # IDNA refused the name before any lookup
            self.gp.failed(Outcome.DNS_ERROR, f"host name {host[:80]!r} is not valid: {exc}", self.now())
            return
        if infos is None:
            return
        self.phase_started = self.now()
        self.gp.resolved(self.phase_started)

        sock = await self._open_tcp(loop, infos)
        if sock is None:
            return
        self.phase_started = self.now()
        self.gp.connected(self.phase_started)

        ctx = client_context(self.target.insecure_skip_tls_verify) if self.target.secure else None
        wire = _Wire(self.clock)
        tls = None
        if ctx is not None:
            try:
                tls = await self._step(tls_handshake(loop, sock, ctx, host))
            except (ssl.SSLError, ssl.CertificateError) as exc:
                sock.close()
                self.gp.failed(Outcome.TLS_ERROR, f"TLS handshake failed: {exc}", self.now())
                return
            except OSError as exc:
                sock.close()
                self.gp.failed(Outcome.TLS_ERROR, f"connection failed during TLS: {exc}", self.now())
                return
            if tls is None:  # the deadline passed during the handshake
                sock.close()
                return
        # Reads are dated by the kernel (TLS decrypted in memory), so a loop busy with other sessions adds no error.
        self.transport = StampedTransport(loop, sock, wire, tls)
        self.wire = wire
        if tls is not None:
            assert wire.made_at is not None
            self.phase_started = wire.made_at - self.t0
            self.gp.secured(self.phase_started)

    async def _open_tcp(self, loop: asyncio.AbstractEventLoop, infos: list) -> socket.socket | None:  # type: ignore[type-arg]
        """Connect to the first address that answers, under the deadline. The probe's own overload (no file
        descriptors, buffers or local ports left; or a connection the kernel made while our loop was too busy
        to notice before the deadline) is ``probe_error``: the target is not blamed for it."""
        last: OSError | None = None
        for family, type_, proto, _, addr in infos:
            try:
                sock = socket.socket(family, type_, proto)
            except OSError as exc:
                if exc.errno in OWN_OVERLOAD_ERRNOS:
                    self._overloaded(f"cannot open a socket ({exc.strerror})")
                    return None
                last = exc
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request_stamps(sock)  # early: the kernel switches stamping on a moment after it is first asked
            left = self._timeout()
            expired = left <= 0
            try:
                if not expired:
                    async with asyncio.timeout(left) as scope:
                        await loop.sock_connect(sock, addr)
            except TimeoutError:
                expired = scope.expired()  # if not, it was the kernel's own ETIMEDOUT: the target did not answer
                if not expired:
                    sock.close()
                    last = OSError(errno.ETIMEDOUT, "connection timed out")
                    continue
            except OSError as exc:
                sock.close()
                if exc.errno in OWN_OVERLOAD_ERRNOS:
                    self._overloaded(f"cannot connect ({exc.strerror})")
                    return None
                last = exc
                continue
            if expired:
                made = _is_connected(sock)
                sock.close()
                if made:
                    self._overloaded("the connection was made, but the probe's event loop did not get to it before the deadline",
                                     "lower --users or give the probe more CPU")
                else:
                    self.gp.deadline(self.now())
                return None
            if self.gp.finished:  # decided while connecting
                sock.close()
                return None
            return sock
        if isinstance(last, ConnectionRefusedError):
            self.gp.failed(Outcome.CONNECT_REFUSED, f"connection refused by {infos[-1][4][0]}:{infos[-1][4][1]}", self.now())
        elif last is not None and last.errno == errno.ETIMEDOUT:
            self.gp.failed(Outcome.CONNECT_TIMEOUT, f"cannot connect: {last}", self.now())
        else:
            self.gp.failed(Outcome.CONNECT_REFUSED, f"cannot connect: {last}", self.now())
        return None

    def _overloaded(self, what: str, advice: str = "lower --users or raise the open-files limit (ulimit -n)") -> None:
        self.gp.failed(Outcome.PROBE_ERROR, f"probe overloaded: {what}; {advice}", self.now())

    def _request_uri(self) -> str:
        if self.token and self.target.auth.transport == "query":
            sep = "&" if "?" in self.target.url else "?"
            return f"{self.target.url}{sep}token={quote(self.token)}"
        return self.target.url

    async def _converse(self) -> None:
        subprotocols = None
        if self.token and self.target.auth.transport == "subprotocol":
            subprotocols = [JWT_SUBPROTOCOL_PREFIX + self.token]
        proto = ClientProtocol(parse_uri(self._request_uri()), subprotocols=subprotocols, max_size=MAX_MESSAGE_BYTES)  # type: ignore[arg-type]
        self.proto = proto
        request = proto.connect()
        h = request.headers
        ours = {HEADER_RUN_ID: self.run_id, "User-Agent": USER_AGENT, HEADER_TRACEPARENT: traceparent(*self.trace)}
        if self.target.tracestate:
            ours[HEADER_TRACESTATE] = self.target.tracestate
        if self.token and self.target.auth.transport == "header":
            ours["Authorization"] = f"Bearer {self.token}"
        if self.target.backend_test_headers:
            ours.update(backend_test_headers(self.target.environment, self.run_id))
        # websockets' Headers append on assignment: each name is set once, ours over the config's.
        for key, value in {**self.target.headers, **ours}.items():
            if key in h:
                del h[key]
            h[key] = value
        proto.send_request(request)
        self._flush()

        assembler = _Assembler()
        while not self.gp.finished:
            left = self._timeout()
            if left <= 0:
                self.gp.deadline(self.now())
                break
            try:
                # Already-queued chunks are taken without a suspension; otherwise wait under one cheap timeout
                # (asyncio.timeout, not wait_for: no extra task per message, which matters with many sessions).
                kind, at, data = self.wire.queue.get_nowait()
            except asyncio.QueueEmpty:
                try:
                    async with asyncio.timeout(left):
                        kind, at, data = await self.wire.queue.get()
                except TimeoutError:
                    self.gp.deadline(self.now())
                    break
            t = at - self.t0
            if kind == "data":
                proto.receive_data(data)  # type: ignore[arg-type]
            else:
                proto.receive_eof()
            self._flush()
            phase = self.gp.phase
            for event in proto.events_received():
                self._on_event(event, assembler, t)
                if self.gp.finished:
                    break
            if not self.gp.finished and kind != "data":
                self.gp.closed(None, "", t)
            elif not self.gp.finished and proto.parser_exc is not None:
                self.gp.invalid_frame(f"invalid frame: {proto.parser_exc}", t)
            if self.gp.phase != phase:
                self.phase_started = t
            if self.gp.wants_start_agent and self.canary:
                break
            if self.gp.wants_start_agent:
                payload = start_agent_message(
                    user_id=self.subject, thread_id=self.thread_id, timestamp=utc_now_iso(), user_request=self.target.user_request
                )
                proto.send_text(payload.encode())
                self._flush()
                self.phase_started = self.now()
                self.gp.start_agent_sent(self.phase_started)

    def _on_event(self, event: object, assembler: _Assembler, t: float) -> None:
        if isinstance(event, Response):
            self.gp.upgrade_response(event.status_code, t, event.reason_phrase)
            if event.status_code == 101 and self.proto.handshake_exc is not None:
                self.gp.failed(Outcome.PROTOCOL_ERROR, f"invalid upgrade response: {self.proto.handshake_exc}", t)
            return
        assert isinstance(event, Frame)
        if event.opcode is Opcode.CLOSE:
            close = Close.parse(event.data)
            self.gp.closed(close.code, close.reason, t)
            return
        try:
            message = assembler.feed(event)
        except FrameLimit as exc:
            self.gp.invalid_frame(str(exc), t)
            return
        if message is None:
            return
        opcode, data = message
        if opcode is Opcode.BINARY:
            self.gp.binary_received(len(data), t)
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.gp.invalid_frame(f"text frame is not valid UTF-8 (byte {exc.start})", t)
            return
        self.gp.text_received(text, t)

    def _flush(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        for chunk in self.proto.data_to_send():
            if chunk:
                self.transport.write(chunk)
            elif self.transport.can_write_eof():
                self.transport.write_eof()

    async def _close(self) -> None:
        """Say goodbye politely when the connection is still open; never wait past a short grace."""
        if self.transport is None:
            return
        try:
            proto = getattr(self, "proto", None)
            if proto is not None and proto.state is WsState.OPEN:
                proto.send_close(1000, "probe done")
                self._flush()
                end = self.clock() + CLOSE_GRACE_S
                while proto.state is not WsState.CLOSED and (left := end - self.clock()) > 0:
                    try:
                        kind, _, data = await asyncio.wait_for(self.wire.queue.get(), left)
                    except TimeoutError:
                        break
                    if kind == "data":
                        proto.receive_data(data)  # type: ignore[arg-type]
                    else:
                        proto.receive_eof()
                    self._flush()
                    proto.events_received()
            # The server's own close frame (not an echo of ours) is evidence worth keeping.
            rcvd = proto.close_rcvd if proto is not None else None
            if rcvd is not None and not (rcvd.code == 1000 and rcvd.reason == "probe done"):
                self.gp.late_close(rcvd.code, rcvd.reason)
        finally:
            self.transport.abort() if self.transport.is_closing() else self.transport.close()


async def run_session(
    target: Target,
    *,
    subject: str | None = None,
    run_id: str | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Clock = time.perf_counter,
) -> ProbeRun:
    """Run the golden path once against ``target`` and return its record (revision not filled)."""
    run_id = run_id or uuid.uuid4().hex
    subject = subject or target.auth.subject
    started_at = utc_now_iso()
    token, secrets = credentials(target.auth, subject=subject, now=time.time(), environ=environ)
    session = _Session(target, run_id=run_id, subject=subject, token=token, secrets=secrets, clock=clock)
    decided = await session.run()
    gp = session.gp
    return ProbeRun(
        run_id=run_id,
        target=target.name,
        url=target.public_url,
        started_at=started_at,
        outcome=str(gp.outcome),
        failed_phase=gp.failed_phase,
        tags={"environment": target.environment, **target.tags},
        close_code=gp.close_code,
        close_reason=gp.close_reason,
        http_status=gp.http_status,
        error=gp.error,
        phases_ms=gp.phases_ms(),
        elapsed_ms=gp.elapsed_ms(),
        total_ms=round(decided * 1000.0, 3),
        thread_id=session.thread_id,
        user_id=subject,
        events=gp.events,
        dialect=",".join(gp.dialects_seen) or None,
        server_run_id=gp.server_run_id,
        server_user_id=gp.server_user_id,
        trace_id=session.trace[0],
        span_id=session.trace[1],
    )


async def auth_canary(target: Target, *, run_id: str, until: float | None = None, environ: Mapping[str, str] | None = None,
                      clock: Clock = time.perf_counter, trace_id: str | None = None) -> str:
    """Try a deliberately wrong token: ``rejected`` (auth enforced), ``accepted`` or ``inconclusive: <why>``.

    The wrong token has the real one's shape and claims but a signature from a random secret (or, for a static
    token, random bytes), so only a server that checks signatures refuses it. It is accepted when the server
    welcomes the connection (the real backend authenticates before its welcome, websocket_ssot.py:843 vs 974).
    It never runs past ``until`` (``time.monotonic()``), the run's own deadline. With ``trace_id`` (the run's) its
    upgrade carries that trace with a span id of its own, so what the backend does with it sits in the run's trace.
    """
    left = min(target.timeouts.total, CANARY_TIMEOUT_S, math.inf if until is None else until - time.monotonic())
    if left <= 0:
        return "inconclusive: no time left before the run's deadline"
    _, secrets = credentials(target.auth, subject=target.auth.subject, now=time.time(), environ=environ)
    wrong = wrong_token(target.auth, subject=target.auth.subject, now=time.time())
    bounded = replace(target, timeouts=replace(target.timeouts, total=left))
    session = _Session(bounded, run_id=f"{run_id}-canary", subject=target.auth.subject, token=wrong,
                       secrets=(*secrets, wrong), clock=clock, canary=True, trace=(trace_id, new_ids()[1]) if trace_id else None)
    await session.run()
    gp = session.gp
    if gp.wants_start_agent:
        return "accepted"
    if gp.outcome == Outcome.AUTH_REJECTED or (gp.outcome == Outcome.UPGRADE_REJECTED and gp.http_status in (401, 403)):
        return "rejected"
    return f"inconclusive: {gp.outcome}"


async def probe_target(target: Target, *, users: int = 1, environ: Mapping[str, str] | None = None) -> list[ProbeRun]:
    """Run ``users`` concurrent sessions as distinct users; read the revision before and after."""
    from probes.health import read_revision

    # The run's deadline bounds the health reads too: the first runs alongside the sessions, the last gets what is left.
    until = time.monotonic() + target.timeouts.total
    reading = asyncio.create_task(read_revision(target, until=until))
    if users == 1:
        runs = [await run_session(target, environ=environ)]
    else:
        subjects = user_subjects(target.auth.subject, users)
        runs = list(await asyncio.gather(*(run_session(target, subject=s, environ=environ) for s in subjects)))
        for run in runs:
            run.tags = {**run.tags, "users": str(users)}
    if target.auth_canary:
        verdict = await auth_canary(target, run_id=runs[0].run_id, until=until, environ=environ, trace_id=runs[0].trace_id)
        for run in runs:
            run.auth_canary = verdict
            if verdict == "accepted" and run.outcome == Outcome.OK:
                run.outcome = str(Outcome.AUTH_NOT_ENFORCED)
                run.error = "auth not enforced: the server also accepted a deliberately wrong token"
    before = await reading
    after = await read_revision(target, until=until)
    for run in runs:
        run.revision = before or after
        if after and before and after != before:
            run.revision_after = after
    return runs
