"""A byte-level server on 127.0.0.1 for hostile-server tests: every byte it sends is scripted.

No WebSocket library on this side: the upgrade is answered by hand (any status, any headers, trickled or
never), frames are built byte by byte (:func:`frame`: any opcode, flags, a mask a server must not use,
a length that lies), and ``/health`` answers whatever body, framing and pace a test sets (:class:`Health`).
A script (``async def script(conn: Conn)``) drives each WebSocket connection after the upgrade.

It runs on its own event loop in a background thread (like the sandbox fixture), so the probe under test
can be the real CLI in a subprocess:

    async def flood(conn):
        await conn.welcome()
        await conn.flood(text({"type": "heartbeat"}), count=100_000)

    with RawServer(flood) as srv:
        subprocess.run([..., "--url", srv.url, "--health-url", srv.health_url, ...])
        srv.stats.frames_sent
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA
WELCOME = {"type": "connection_established"}
AGENT_EVENTS = ("agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed")

Script = Callable[["Conn"], Awaitable[None]]


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0, mask: bytes | None = None, length: int | None = None) -> bytes:
    """One WebSocket frame, byte by byte. ``length`` overrides the declared payload length (a lying header);
    ``mask`` masks the payload (which a server must never do); ``rsv`` sets the reserved bits (0-7)."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0xF)])
    mask_bit = 0x80 if mask is not None else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if mask is not None:
        head += mask
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + payload


def text(message: Any) -> bytes:
    """A text frame of ``message``: bytes and str as they are, anything else as JSON."""
    if isinstance(message, bytes):
        return frame(TEXT, message)
    if isinstance(message, str):
        return frame(TEXT, message.encode("utf-8"))
    return frame(TEXT, json.dumps(message).encode())


def close_frame(code: int, reason: bytes = b"") -> bytes:
    return frame(CLOSE, struct.pack("!H", code) + reason)


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


@dataclass
class Health:
    """What ``GET /health`` answers: a status, headers, a body, its framing and its pace."""

    body: bytes = b'{"status": "healthy", "revision": "raw-1"}'
    status: int = 200
    framing: str = "length"  # "length" (Content-Length), "close" (until the connection ends) or "chunked"
    trickle_s: float | None = None  # send the answer one byte at a time, this far apart...
    trickle_head: bool = True  # ...from its first byte, or (False) only the body after a prompt head
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


@dataclass
class Upgrade:
    """How the WebSocket upgrade is answered: ``hang`` never answers; ``trickle_s`` sends it byte by byte."""

    status: int = 101
    reason: str = "Switching Protocols"
    headers: dict[str, str] = field(default_factory=dict)
    trickle_s: float | None = None
    hang: bool = False
    accept: bool = True  # send a correct Sec-WebSocket-Accept


@dataclass
class Stats:
    connections: int = 0
    health_requests: int = 0
    frames_sent: int = 0
    bytes_sent: int = 0
    #: The request heads received (upgrade and health), for tests that look at what the probe sent.
    requests: list[bytes] = field(default_factory=list)


class Conn:
    """One WebSocket connection after the upgrade, as a script sees it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stats: Stats) -> None:
        self.reader, self.writer, self.stats = reader, writer, stats

    async def send(self, data: bytes, frames: int = 1) -> None:
        """Write bytes (``frames`` frames' worth, for the counts) and wait until the transport took them."""
        if self.writer.transport.is_closing():  # asyncio would drop the bytes silently: the client is gone
            raise ConnectionResetError("the client hung up")
        self.writer.write(data)
        self.stats.frames_sent += frames
        self.stats.bytes_sent += len(data)
        await self.writer.drain()

    async def trickle(self, data: bytes, every_s: float) -> None:
        """Send ``data`` one byte at a time, ``every_s`` apart."""
        for i in range(len(data)):
            await self.send(data[i : i + 1], frames=0)
            await asyncio.sleep(every_s)

    async def flood(self, data: bytes, *, count: int | None = None, seconds: float | None = None, batch: int = 256) -> int:
        """Send ``data`` (one frame) again and again, as fast as the client takes it, until ``count`` frames
        or ``seconds`` have gone or the client hangs up. Returns the frames written."""
        end = None if seconds is None else time.monotonic() + seconds
        sent = 0
        batch = max(1, min(batch, (256 << 10) // max(len(data), 1)))  # writes of at most about 256 KB
        block = data * batch
        with contextlib.suppress(ConnectionError):
            while (count is None or sent < count) and (end is None or time.monotonic() < end):
                n = batch if count is None else min(batch, count - sent)
                await self.send(block if n == batch else data * n, frames=n)
                sent += n
        return sent

    async def welcome(self) -> None:
        await self.send(text(WELCOME))

    async def read_frame(self) -> tuple[int, bytes]:
        """The client's next frame (unmasked): opcode and payload."""
        b0, b1 = await self.reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
        mask = await self.reader.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
        data = await self.reader.readexactly(n)
        return b0 & 0xF, bytes(b ^ mask[i % 4] for i, b in enumerate(data))

    async def start_agent(self) -> dict[str, Any]:
        """Wait for the client's ``start_agent`` (the first text frame) and return it parsed."""
        while True:
            opcode, data = await self.read_frame()
            if opcode == TEXT:
                parsed: dict[str, Any] = json.loads(data)
                return parsed
            if opcode == CLOSE:
                raise ConnectionResetError("the client closed before start_agent")

    async def golden_path(self) -> None:
        """The healthy conversation: welcome, then the five agent events for the client's thread."""
        await self.welcome()
        request = await self.start_agent()
        for kind in AGENT_EVENTS:
            await self.send(text({"type": kind, "thread_id": request.get("thread_id"), "payload": {}}))

    async def hang(self) -> None:
        """Say nothing more (until the client goes or the server stops)."""
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while await self.reader.read(65536):
                pass


async def golden_path(conn: Conn) -> None:
    """A script: the healthy golden path, then wait for the client to close."""
    await conn.golden_path()
    await conn.hang()


def self_signed_context(folder: Path) -> ssl.SSLContext:
    """A server TLS context for 127.0.0.1 with a fresh self-signed certificate (which no client trusts)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return ctx


class RawServer:
    """The server, on a free port of 127.0.0.1, in a background thread while the ``with`` block runs."""

    def __init__(
        self, script: Script | None = golden_path, *, health: Health | None = None, upgrade: Upgrade | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        self.script = script
        self.tls = tls
        self.health = health or Health()
        self.upgrade = upgrade or Upgrade()
        self.stats = Stats()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}/ws"

    @property
    def health_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/health"

    def __enter__(self) -> RawServer:
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=1024, ssl=self.tls))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="rawserver", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the raw server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(10)
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.stats.requests.append(head)
            path = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b"/"
            if path.startswith(b"/health"):
                self.stats.health_requests += 1
                await self._answer_health(writer)
            else:
                self.stats.connections += 1
                await self._answer_upgrade(head, reader, writer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            writer.transport.abort()

    async def _write(self, writer: asyncio.StreamWriter, data: bytes, trickle_s: float | None) -> None:
        if trickle_s is None:
            writer.write(data)
            await writer.drain()
            return
        for i in range(len(data)):
            writer.write(data[i : i + 1])
            await writer.drain()
            await asyncio.sleep(trickle_s)

    async def _answer_health(self, writer: asyncio.StreamWriter) -> None:
        h = self.health
        lines = [f"HTTP/1.1 {h.status} {'OK' if h.status == 200 else 'Status'}", *(f"{k}: {v}" for k, v in h.headers.items())]
        body = h.body
        if h.framing == "length":
            lines.append(f"Content-Length: {len(body)}")
        elif h.framing == "chunked":
            lines.append("Transfer-Encoding: chunked")
            body = b"".join(b"%x\r\n%s\r\n" % (len(body[i : i + 4096]), body[i : i + 4096]) for i in range(0, len(body), 4096)) + b"0\r\n\r\n"
        lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        if h.trickle_head:
            await self._write(writer, head + body, h.trickle_s)
        else:
            await self._write(writer, head, None)
            await self._write(writer, body, h.trickle_s)

    async def _answer_upgrade(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        u = self.upgrade
        if u.hang:
            await Conn(reader, writer, self.stats).hang()
            return
        key = next((line.split(b":", 1)[1].strip().decode() for line in head.split(b"\r\n") if line.lower().startswith(b"sec-websocket-key:")), "")
        lines = [f"HTTP/1.1 {u.status} {u.reason}"]
        if u.status == 101:
            lines += ["Upgrade: websocket", "Connection: Upgrade"]
            if u.accept:
                lines.append(f"Sec-WebSocket-Accept: {accept_key(key)}")
        lines += [f"{k}: {v}" for k, v in u.headers.items()]
        await self._write(writer, ("\r\n".join(lines) + "\r\n\r\n").encode(), u.trickle_s)
        if u.status == 101 and self.script is not None:
            await self.script(Conn(reader, writer, self.stats))
        else:
            await Conn(reader, writer, self.stats).hang()


# ---------------------------------------------------------------- the probe side: the real CLI


@dataclass
class ProbeResult:
    """One ``python -m probes run`` against a raw server: exit code, output, runs and how long it took."""

    returncode: int
    stdout: str
    stderr: str
    took_s: float
    runs: list[dict[str, Any]]

    @property
    def run(self) -> dict[str, Any]:
        assert len(self.runs) == 1, (self.runs, self.stderr[-2000:])
        return self.runs[0]

    @property
    def json_line_bytes(self) -> int:
        return max((len(line.encode()) for line in self.stdout.splitlines()), default=0)


def run_probe(
    server: RawServer, db: Path, *args: str, timeout_s: float | None = 5.0, health: bool = True, config: Path | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> ProbeResult:
    """Run the real CLI once (``--json`` into the given store) against ``server``, with ``--url`` (and
    ``--health-url``) or a ``config`` file; the test never hangs on it."""
    cmd = [sys.executable, "-m", "probes", "run", "--json", "--db", str(db)]
    cmd += ["--config", str(config)] if config is not None else ["--url", server.url]
    if health and config is None:
        cmd += ["--health-url", server.health_url]
    if timeout_s is not None:
        cmd += ["--timeout", str(timeout_s)]
    t0 = time.monotonic()
    p = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=(timeout_s or 30) + 60, env=dict(os.environ),
                       preexec_fn=preexec_fn, cwd=Path(__file__).resolve().parents[2])
    took = time.monotonic() - t0
    runs = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    return ProbeResult(p.returncode, p.stdout, p.stderr, took, runs)


def store_bytes(db: Path) -> int:
    """The store's size on disk: the database file and its WAL and shared-memory files."""
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
