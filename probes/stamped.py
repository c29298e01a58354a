"""A TCP transport (TLS optional) that dates each read by the kernel's receive time (SO_TIMESTAMPNS).

Why by hand: asyncio's socket transport reads with ``recv`` and drops ancillary data, so the only time
it can give is when the event loop got round to the socket. With a thousand sessions in one process the
loop is busy with other sessions' messages for tens of milliseconds, and that lag used to become timing
error. The kernel stamps each segment as it arrives; ``recvmsg`` hands that stamp over with the bytes.
For ``wss://`` the TLS layer runs over memory BIOs (``ssl.SSLObject``), so the plaintext a read yields
carries that read's kernel stamp too.

The interface is the slice of ``asyncio.Transport`` the runner uses (write, write_eof, close, abort,
pause_reading, resume_reading), and it reports to a receiver shaped like ``asyncio.Protocol`` whose
data callback also takes the age.

Bounded whatever the server does: one read takes at most :data:`READ_SIZE` bytes, the receiver can
pause reading (backpressure: unread bytes wait in the kernel, which keeps their arrival stamps, and
TCP flow control slows the sender), and what a server does not read of ours is kept only up to
:data:`MAX_UNSENT` bytes; past that the transport stops sending (:attr:`StampedTransport.write_overflow`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import sys
import time
from typing import Protocol

#: Linux values (asm-generic/socket.h); other systems fall back to the loop's read time.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35 if sys.platform.startswith("linux") else None)
_TIMESPEC = struct.Struct("qq")
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)
#: Largest single read. Small enough that one read of a flood of tiny frames parses into a bounded batch.
READ_SIZE = 64 * 1024
#: Most bytes kept waiting for a server that does not read what the probe sends (pongs, the close frame).
MAX_UNSENT = 1 << 20


def request_stamps(sock: socket.socket) -> bool:
    """Ask the kernel to stamp what this socket receives. Linux turns stamping on stack-wide a moment after
    the first socket asks (a deferred switch), so the runner asks before it connects; a read that still
    comes back without a stamp is dated by the loop, as asyncio's transport would."""
    if SO_TIMESTAMPNS is None:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


class StampedReceiver(Protocol):
    def connection_made(self, transport: object) -> None: ...
    def stamped_data_received(self, data: bytes, age_s: float) -> None: ...
    def eof_received(self) -> bool | None: ...
    def connection_lost(self, exc: Exception | None) -> None: ...


async def tls_handshake(loop: asyncio.AbstractEventLoop, sock: socket.socket, ctx: ssl.SSLContext, server_hostname: str) -> _Tls:
    """The TLS handshake over memory BIOs on a connected non-blocking socket; raises ssl.SSLError like asyncio would."""
    tls = _Tls(ctx, server_hostname)
    while True:
        try:
            tls.obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            pending = tls.outgoing.read()
            if pending:
                await loop.sock_sendall(sock, pending)
            data = await loop.sock_recv(sock, READ_SIZE)
            if not data:
                raise ConnectionResetError("the server closed the connection during the TLS handshake") from None
            tls.incoming.write(data)
    pending = tls.outgoing.read()
    if pending:
        await loop.sock_sendall(sock, pending)
    return tls


class _Tls:
    """An SSLObject with the two memory BIOs it reads from and writes to."""

    def __init__(self, ctx: ssl.SSLContext, server_hostname: str) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname=server_hostname)


class StampedTransport:
    """Owns a connected, non-blocking socket; reads with kernel stamps, writes with a small buffer; TLS optional."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, receiver: StampedReceiver, tls: _Tls | None = None) -> None:
        self._loop, self._sock, self._receiver, self._tls = loop, sock, receiver, tls
        self._fd = sock.fileno()
        self._out = bytearray()
        self._eof_pending = self._closing = self._closed = False
        self._reading = True  # the reader callback is registered
        self._paused = self._eof = False
        #: True once the server left more than MAX_UNSENT bytes unread: from then on nothing more is sent.
        self.write_overflow = False
        self.stamped = request_stamps(sock)
        receiver.connection_made(self)
        loop.add_reader(self._fd, self._read)
        if tls is not None and tls.incoming.pending:  # application data that came with the end of the handshake
            loop.call_soon(self._deliver_tls, 0.0)

    # ------------------------------------------------------------------ reading

    def _read(self) -> None:
        try:
            data, ancillary, _, _ = self._sock.recvmsg(READ_SIZE, _ANCILLARY)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lose(exc)
            return
        if not data:
            self._eof = True
            self._stop_reading()
            if self._tls is not None:
                self._tls.incoming.write_eof()
                self._deliver_tls(0.0)
            if not self._closed:
                self._receiver.eof_received()
            return
        age = 0.0
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= _TIMESPEC.size:
                sec, nsec = _TIMESPEC.unpack_from(value)
                # The stamp is wall-clock time; only its age is used, so runs stay on the monotonic clock.
                age = min(max(time.time() - (sec + nsec / 1e9), 0.0), 60.0)
        if self._tls is None:
            self._receiver.stamped_data_received(data, age)
        else:
            self._tls.incoming.write(data)
            self._deliver_tls(age)

    def _deliver_tls(self, age: float) -> None:
        """Decrypt what the BIO holds and hand it over with the age of the read that completed it."""
        assert self._tls is not None
        chunks = []
        eof = False
        try:
            while True:
                chunk = self._tls.obj.read(READ_SIZE)
                if not chunk:
                    eof = True
                    break
                chunks.append(chunk)
        except ssl.SSLWantReadError:
            pass
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            eof = True
        except ssl.SSLError as exc:
            self._lose(exc)
            return
        self._send_tls_records()  # a read can produce records to send (alerts, key updates)
        if chunks:
            self._receiver.stamped_data_received(b"".join(chunks), age)
        if eof and not self._closed:
            self._eof = True
            self._stop_reading()
            self._receiver.eof_received()

    def pause_reading(self) -> None:
        """Stop reading until :meth:`resume_reading`: bytes wait in the kernel (stamped on arrival), not in memory."""
        self._paused = True
        self._stop_reading()

    def resume_reading(self) -> None:
        if not self._paused:
            return
        self._paused = False
        if not (self._reading or self._eof or self._closing or self._closed):
            self._reading = True
            self._loop.add_reader(self._fd, self._read)

    def is_reading(self) -> bool:
        return self._reading

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)

    # ------------------------------------------------------------------ writing

    def write(self, data: bytes) -> None:
        if self._closing or not data:
            return
        if self._tls is not None:
            try:
                self._tls.obj.write(data)
            except ssl.SSLError as exc:
                self._lose(exc)
                return
            self._send_tls_records()
            return
        self._send_raw(data)

    def _send_tls_records(self) -> None:
        assert self._tls is not None
        records = self._tls.outgoing.read()
        if records and not self._closed:
            self._send_raw(records)

    def _send_raw(self, data: bytes) -> None:
        if self.write_overflow:
            return
        if not self._out:
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._lose(exc)
                return
            data = data[sent:]
            if not data:
                return
            self._loop.add_writer(self._fd, self._drain)
        if len(self._out) + len(data) > MAX_UNSENT:
            # The server is not reading: a partly queued frame would corrupt the stream, so stop sending at all.
            self.write_overflow = True
            return
        self._out += data

    def _drain(self) -> None:
        try:
            sent = self._sock.send(self._out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lose(exc)
            return
        del self._out[:sent]
        if self._out:
            return
        self._loop.remove_writer(self._fd)
        if self._eof_pending:
            self._shutdown_write()
        if self._closing:
            self._lose(None)

    def can_write_eof(self) -> bool:
        return self._tls is None  # TLS has no half-close (as asyncio's TLS transport)

    def write_eof(self) -> None:
        if self._out:
            self._eof_pending = True
        else:
            self._shutdown_write()

    def _shutdown_write(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)

    # ------------------------------------------------------------------ closing

    def is_closing(self) -> bool:
        return self._closing or self._closed

    def close(self) -> None:
        """Close after what is buffered has been sent (as asyncio's transports do)."""
        if self._closing:
            return
        self._closing = True
        self._stop_reading()
        if not self._out or self.write_overflow:  # a server that does not read would keep us waiting
            self._loop.call_soon(self._lose, None)

    def abort(self) -> None:
        self._closing = True
        self._lose(None)

    def _lose(self, exc: Exception | None) -> None:
        if self._closed:
            return
        self._closed = self._closing = True
        self._stop_reading()
        self._loop.remove_writer(self._fd)
        self._out.clear()
        self._sock.close()
        self._receiver.connection_lost(exc)
