"""Read the deployed revision from a target's health endpoint: best effort, and bounded in every way.

The read is a tiny HTTP/1.1 GET on the probe's own event loop under one ``asyncio.timeout`` that covers
everything (name lookup, connect, TLS, request, head and body), so the deadline is total time, not idle
time: a server that trickles one byte every 2 s cannot stretch a run. On expiry the socket is aborted;
no thread of ours holds it (``urllib`` in a worker thread could not be cancelled and kept runs alive
for minutes). The head and body are capped, and the body is parsed by :mod:`probes.jsonsafe`, which
refuses nesting beyond a limit instead of recursing. Any failure means "revision unknown" (None).
https keeps TLS verification on unless the target turns it off by name (:func:`probes.tls.client_context`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

from probes import __version__, jsonsafe
from probes.config import Target
from probes.record import MAX_TEXT_FIELD
from probes.redact import clip

#: Longest a health read may take when the run's deadline allows more.
HEALTH_TIMEOUT_S = 5.0
#: Largest health body read; a revision fits in a few hundred bytes.
MAX_HEALTH_BODY = 64 * 1024
#: Largest response head (status line and headers) read.
MAX_HEAD_BYTES = 16 * 1024
#: Redirects followed (all within the same deadline).
MAX_REDIRECTS = 3
#: Nesting accepted in a health body.
MAX_HEALTH_DEPTH = 32
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class HealthError(Exception):
    """The health endpoint's answer could not be used (status, framing, size)."""


def revision_from_health(body: Any, field: str) -> str | None:
    """Follow a dotted ``field`` path through the health JSON; None if it is not there. Clipped: it is outside text."""
    value = body
    for key in field.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return clip(str(value), MAX_TEXT_FIELD) if value not in (None, "") else None


async def read_revision(target: Target, *, until: float | None = None) -> str | None:
    """The revision the health URL reports now, or None if it cannot be read by ``until``.

    ``until`` is an absolute ``time.monotonic()`` deadline (the run's); the read never takes longer than
    :data:`HEALTH_TIMEOUT_S` either, and nothing of it is left running when it returns.
    """
    if not target.health_url:
        return None
    left = HEALTH_TIMEOUT_S if until is None else min(HEALTH_TIMEOUT_S, until - time.monotonic())
    if left <= 0:
        return None
    try:
        async with asyncio.timeout(left):
            body = await fetch(target.health_url, insecure=target.insecure_skip_tls_verify)
        return revision_from_health(jsonsafe.loads(body, max_depth=MAX_HEALTH_DEPTH), target.revision_field)
    except (OSError, ValueError, EOFError, HealthError, asyncio.LimitOverrunError):  # TimeoutError and SSLError are OSErrors
        return None


async def fetch(url: str, *, insecure: bool = False) -> bytes:
    """GET ``url`` (following a few redirects) and return a 2xx body of at most :data:`MAX_HEALTH_BODY` bytes.

    No deadline of its own: the caller wraps it in ``asyncio.timeout``; cancellation aborts the socket.
    """
    for _ in range(MAX_REDIRECTS + 1):
        status, headers, body = await _get(url, insecure)
        if status in _REDIRECTS and "location" in headers:
            url = urljoin(url, headers["location"])
            continue
        if not 200 <= status < 300:
            raise HealthError(f"HTTP {status}")
        return body
    raise HealthError(f"more than {MAX_REDIRECTS} redirects")


async def _get(url: str, insecure: bool) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HealthError("not an http(s) URL")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise HealthError("the URL holds spaces or control characters")
    secure = parts.scheme == "https"
    host = parts.hostname
    port = parts.port or (443 if secure else 80)
    ctx = None
    if secure:
        from probes.tls import client_context

        ctx = client_context(insecure)
    writer = None
    try:
        reader, writer = await _connect(host, port, ctx)
        writer.write(_request(parts.path or "/", parts.query, host, parts.port))
        head = await reader.readuntil(b"\r\n\r\n")  # LimitOverrunError past MAX_HEAD_BYTES
        status, headers = _parse_head(head)
        return status, headers, await _read_body(reader, headers)
    finally:
        if writer is not None:
            writer.transport.abort()  # now, whatever happened: no socket outlives the read


async def _connect(host: str, port: int, ctx: Any) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to the first address that answers; TLS names the host (SNI and certificate check)."""
    last: OSError = OSError(f"no address for {host!r}")
    for addr in await _resolve(host, port):
        try:
            return await asyncio.open_connection(addr[0], addr[1], ssl=ctx, server_hostname=host if ctx else None, limit=MAX_HEAD_BYTES)
        except OSError as exc:
            last = exc
    raise last


async def _resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    """Addresses of ``host``. An IP literal needs no lookup; a name is looked up in a daemon thread, because
    libc's resolver cannot be cancelled and the loop's executor would make the interpreter wait for it at exit."""
    try:
        ipaddress.ip_address(host)
        return [(host, port)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    done: asyncio.Future[list[tuple[Any, ...]]] = loop.create_future()

    def settle(result: Any, exc: BaseException | None) -> None:
        if not done.done():
            done.set_exception(exc) if exc is not None else done.set_result(result)

    def lookup() -> None:
        try:
            infos, exc = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM), None
        except OSError as error:
            infos, exc = None, error
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits for the answer any more
            loop.call_soon_threadsafe(settle, infos, exc)

    threading.Thread(target=lookup, name="pathwatch-health-dns", daemon=True).start()
    return [info[4][:2] for info in await done]


def _request(path: str, query: str, host: str, port: int | None) -> bytes:
    authority = f"[{host}]" if ":" in host else host
    if port is not None:
        authority += f":{port}"
    target = path + (f"?{query}" if query else "")
    return (
        f"GET {target} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nAccept-Encoding: identity\r\n"
        f"User-Agent: pathwatch/{__version__}\r\nConnection: close\r\n\r\n"
    ).encode("ascii", "strict")


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise HealthError("not an HTTP/1.x response")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(code), headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _read_chunked(reader)
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise HealthError("bad Content-Length")
        if int(length) > MAX_HEALTH_BODY:
            raise HealthError(f"health body of {int(length)} bytes is over {MAX_HEALTH_BODY}")
        return await reader.readexactly(int(length))
    body = await reader.read(MAX_HEALTH_BODY + 1)  # up to the cap, then to the end of the connection
    while len(body) <= MAX_HEALTH_BODY and (more := await reader.read(MAX_HEALTH_BODY + 1 - len(body))):
        body += more
    if len(body) > MAX_HEALTH_BODY:
        raise HealthError(f"health body over {MAX_HEALTH_BODY} bytes")
    return body


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = (await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise HealthError("bad chunk size") from None
        if size == 0:
            return bytes(body)
        if len(body) + size > MAX_HEALTH_BODY:
            raise HealthError(f"health body over {MAX_HEALTH_BODY} bytes")
        body += await reader.readexactly(size)
        await reader.readexactly(2)
