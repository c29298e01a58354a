"""wss:// against the sandbox behind a self-signed certificate: verification stays on unless turned off by name."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import replace

import pytest

from probes.config import Timeouts, target_from_url
from probes.runner import run_session
from sandbox.logs import CloudLog
from sandbox.scenarios import get_scenario
from sandbox.server import Sandbox
from sandbox.stories import single
from tests.conftest import TEST_SECRET
from tests.hostile.rawserver import self_signed_context


@pytest.fixture(scope="module")
def server_ssl(tmp_path_factory):  # type: ignore[no-untyped-def]
    return self_signed_context(tmp_path_factory.mktemp("tls"))


async def _probe_wss(server_ctx: ssl.SSLContext, insecure: bool):  # type: ignore[no-untyped-def]
    sandbox = Sandbox(single(get_scenario("healthy")), secret=TEST_SECRET, log=CloudLog(None, "svc"), time_scale=0.05)
    await sandbox.start("127.0.0.1", 0, ssl=server_ctx)
    try:
        target = replace(target_from_url(f"wss://127.0.0.1:{sandbox.port}/ws"), timeouts=Timeouts(total=5), insecure_skip_tls_verify=insecure)
        return await run_session(target)
    finally:
        await sandbox.stop()


def test_untrusted_certificate_is_a_tls_error_by_default(server_ssl):  # type: ignore[no-untyped-def]
    run = asyncio.run(_probe_wss(server_ssl, insecure=False))
    assert (run.outcome, run.failed_phase) == ("tls_error", "tls")
    assert "CERTIFICATE_VERIFY_FAILED" in run.error
    assert run.phases_ms["connect"] is not None and run.phases_ms["tls"] is None


def test_verification_off_by_name_completes_and_times_the_tls_phase(server_ssl):  # type: ignore[no-untyped-def]
    run = asyncio.run(_probe_wss(server_ssl, insecure=True))
    assert run.ok, run.error
    assert run.phases_ms["tls"] is not None and run.phases_ms["tls"] > 0
    assert run.elapsed_ms["tls"] < run.elapsed_ms["upgrade"]


def test_wss_event_intervals_match_what_the_server_sent(server_ssl):  # type: ignore[no-untyped-def]
    """Over TLS too, each event is dated by the read that brought its record (kernel stamp), within a millisecond or two."""
    from probes.phases import AGENT_EVENTS

    async def go():  # type: ignore[no-untyped-def]
        sandbox = Sandbox(single(get_scenario("healthy")), secret=TEST_SECRET, log=CloudLog(None, "svc"), time_scale=0.05)
        await sandbox.start("127.0.0.1", 0, ssl=server_ssl)
        try:
            target = replace(target_from_url(f"wss://127.0.0.1:{sandbox.port}/ws"), timeouts=Timeouts(total=5), insecure_skip_tls_verify=True)
            run = await run_session(target)
            return run, sandbox.truth.get(run.run_id, [])
        finally:
            await sandbox.stop()

    run, truth = asyncio.run(go())
    assert run.ok, run.error
    sent = {e["type"]: e["sent_ns"] / 1e6 for e in truth}
    for a, b in zip(AGENT_EVENTS, AGENT_EVENTS[1:], strict=False):
        measured = run.elapsed_ms[b] - run.elapsed_ms[a]
        assert abs(measured - (sent[b] - sent[a])) < 2.0, (b, measured, sent[b] - sent[a])
