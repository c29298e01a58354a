"""Every deadline covers everything: the whole-run deadline and each phase deadline bound every network
read, the health check and its body included, in total time (a byte every so often resets nothing).

Each test drives the real CLI against a byte-level server and bounds the wall clock generously
(deadline + 3 s): a correctness check that the run ends, not a timing test.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from probes.config import target_from_url
from probes.health import read_revision
from store.sqlite import open_store
from tests.conftest import poll
from tests.hostile.rawserver import Conn, Health, RawServer, Upgrade, run_probe, self_signed_context, text

TIMEOUT_S = 5.0
SLACK_S = 3.0


@pytest.mark.parametrize("trickle_head", [True, False], ids=["head", "body"])
def test_a_trickling_health_endpoint_ends_with_the_run_deadline(tmp_path: Path, trickle_head: bool) -> None:
    """One byte every 2 s kept a ``--timeout 5`` run alive for minutes; the run is now over by its deadline."""
    health = Health(body=b'{"revision": "' + b"r" * 64 + b'"}', trickle_s=2.0, trickle_head=trickle_head)
    with RawServer(health=health) as srv:
        result = run_probe(srv, tmp_path / "runs.db", timeout_s=TIMEOUT_S)
        assert srv.stats.health_requests >= 1
    assert result.took_s < TIMEOUT_S + SLACK_S, (result.took_s, result.stderr[-2000:])
    run = result.run
    assert (result.returncode, run["outcome"], run["revision"]) == (0, "ok", None), result.stderr[-2000:]
    with open_store(tmp_path / "runs.db") as store:
        assert store.get_run(run["run_id"]) is not None


def test_an_upgrade_answered_one_byte_at_a_time_is_an_upgrade_timeout_at_the_deadline(tmp_path: Path) -> None:
    with RawServer(upgrade=Upgrade(trickle_s=0.2)) as srv:  # about 130 bytes: 26 s if each byte reset the clock
        result = run_probe(srv, tmp_path / "runs.db", timeout_s=2.0)
    assert result.took_s < 2.0 + SLACK_S, result.took_s
    run = result.run
    assert (run["outcome"], run["failed_phase"]) == ("upgrade_timeout", "upgrade"), run["error"]
    assert 2000 <= run["total_ms"] <= 2000 + 1000


async def _trickled_welcome(conn: Conn) -> None:
    await conn.trickle(text({"type": "connection_established", "payload": {"note": "x" * 40}}), every_s=0.1)
    await conn.hang()


def test_a_phase_deadline_bounds_a_trickled_message_in_total_time(tmp_path: Path) -> None:
    """``deadlines.welcome = 1``: a welcome frame arriving a byte every 100 ms (about 7 s in all) fails the
    welcome phase at 1 s, although no gap between bytes comes near the deadline."""
    config = tmp_path / "targets.toml"
    with RawServer(_trickled_welcome) as srv:
        config.write_text(f'[[targets]]\nname = "raw"\nurl = "{srv.url}"\ntimeout_s = 30\n[targets.deadlines]\nwelcome = 1\n', encoding="utf-8")
        result = run_probe(srv, tmp_path / "runs.db", config=config, timeout_s=None)
    run = result.run
    assert (run["outcome"], run["failed_phase"]) == ("event_timeout", "welcome"), run["error"]
    assert run["phases_ms"]["upgrade"] is not None and run["phases_ms"]["welcome"] is None
    assert run["total_ms"] - run["elapsed_ms"]["upgrade"] <= 1000 + 700
    assert result.took_s < 1 + SLACK_S, result.took_s


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts file descriptors through /proc")
def test_a_health_read_leaves_no_thread_or_socket_behind_at_its_deadline() -> None:
    """urllib in a worker thread could not be cancelled; the read now ends at ``until`` and takes its socket with it."""
    with RawServer(health=Health(trickle_s=0.5)) as srv:
        target = target_from_url(srv.url, health_url=srv.health_url)
        threads, fds = set(threading.enumerate()), _open_fds()

        async def read() -> tuple[str | None, float]:
            t0 = time.monotonic()
            revision = await read_revision(target, until=t0 + 1.0)
            return revision, time.monotonic() - t0

        revision, took = asyncio.run(read())
        assert srv.stats.health_requests == 1
        assert revision is None
        assert 1.0 <= took < 1.0 + 1.0, took
        assert set(threading.enumerate()) - threads == set()
        # The server (in this process too) notices the reset at its next byte and closes its end; a socket the
        # reader kept open would keep the server writing into it, and both ends would stay.
        poll(lambda: _open_fds() <= fds, deadline_s=5)


def test_a_health_read_gets_the_revision_within_its_deadline(tmp_path: Path) -> None:
    """The same reader, on each framing a health endpoint may use, still reads the revision (and only it)."""
    for framing in ("length", "close", "chunked"):
        with RawServer(health=Health(body=b'{"revision": "abc123", "nested": {"ok": [1, 2, 3]}}', framing=framing)) as srv:
            target = target_from_url(srv.url, health_url=srv.health_url)
            assert asyncio.run(read_revision(target, until=time.monotonic() + 5)) == "abc123", framing
            request = next(r for r in srv.stats.requests if r.startswith(b"GET /health"))
            assert b"\r\nHost: 127.0.0.1:" in request and b"Connection: close" in request


def test_an_https_health_endpoint_is_verified_unless_the_target_says_otherwise(tmp_path: Path) -> None:
    with RawServer(health=Health(body=b'{"revision": "tls-1"}'), tls=self_signed_context(tmp_path)) as srv:
        target = target_from_url(srv.url, health_url=srv.health_url)
        assert srv.health_url.startswith("https://")
        assert asyncio.run(read_revision(target, until=time.monotonic() + 5)) is None  # an untrusted certificate
        insecure = replace(target, insecure_skip_tls_verify=True)
        assert asyncio.run(read_revision(insecure, until=time.monotonic() + 5)) == "tls-1"
        assert srv.stats.health_requests == 1  # the first read never got past the handshake
