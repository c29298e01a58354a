"""The kernel-stamped transport: a read is dated when the bytes arrived, not when a busy loop got to them."""

from __future__ import annotations

import asyncio
import socket
import sys
import time

import pytest

from probes.stamped import SO_TIMESTAMPNS, StampedTransport
from tests.conftest import poll


class Receiver:
    def __init__(self) -> None:
        self.chunks: list[tuple[bytes, float]] = []
        self.eof = asyncio.Event()
        self.lost: list[Exception | None] = []

    def connection_made(self, transport: object) -> None:
        self.transport = transport

    def stamped_data_received(self, data: bytes, age_s: float) -> None:
        self.chunks.append((data, age_s))

    def eof_received(self) -> None:
        self.eof.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.append(exc)


def _tcp_pair() -> tuple[socket.socket, socket.socket]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    client.setblocking(False)
    return client, server


def _kernel_stamping_on() -> tuple[socket.socket, socket.socket]:
    """Linux switches receive stamping on for the whole stack a moment after the first socket asks for it
    (a deferred static key); wait until a stamped read comes back, and keep that pair open meanwhile."""
    a, b = _tcp_pair()
    a.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)

    def stamped() -> bool:
        b.sendall(b".")
        end = time.monotonic() + 1
        while time.monotonic() < end:
            try:
                _, ancillary, _, _ = a.recvmsg(16, socket.CMSG_SPACE(16))
                return bool(ancillary)
            except BlockingIOError:
                continue
        return False

    poll(stamped, deadline_s=10, every_s=0.01)
    return a, b


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_TIMESTAMPNS is Linux's")
def test_bytes_that_waited_while_the_loop_was_busy_carry_their_age() -> None:
    warm = _kernel_stamping_on()

    async def scenario() -> Receiver:
        client, server = _tcp_pair()
        rx = Receiver()
        transport = StampedTransport(asyncio.get_running_loop(), client, rx)
        assert transport.stamped
        server.sendall(b"event")
        time.sleep(0.15)  # the loop is busy (blocked) while the bytes sit in the socket
        deadline = time.monotonic() + 5
        while not rx.chunks and time.monotonic() < deadline:
            await asyncio.sleep(0)
        transport.write(b"reply")
        transport.write_eof()
        assert server.recv(100) == b"reply"
        assert server.recv(100) == b"", "write_eof shut our side down"
        server.close()
        await asyncio.wait_for(rx.eof.wait(), 5)
        transport.close()
        while not rx.lost and time.monotonic() < deadline:
            await asyncio.sleep(0)
        return rx

    try:
        rx = asyncio.run(scenario())
    finally:
        for sock in warm:
            sock.close()
    (data, age), = rx.chunks
    assert data == b"event"
    assert 0.14 <= age < 5, f"the read is dated {age:.3f} s back: the kernel stamp, not the read time"
    assert rx.lost == [None] and rx.transport.is_closing()  # type: ignore[attr-defined]
