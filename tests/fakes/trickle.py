"""A server that answers one byte at a time, each just before a per-read timeout would fire, forever: what a socket
timeout alone never ends (only a deadline on the whole exchange does). Stands in for a hostile collector or channel."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress


@contextmanager
def trickling_server(every_s: float = 0.05) -> Iterator[int]:
    """The server's port, while the ``with`` block runs."""
    stop = threading.Event()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.05)

    def trickle(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.05)
            line = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100_000
            for byte in line:
                if stop.wait(every_s):
                    return
                with suppress(OSError):
                    conn.recv(65536)
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            threading.Thread(target=trickle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        server.close()
