"""wss:// against the sandbox behind a self-signed certificate: verification stays on unless turned off by name."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from dataclasses import replace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from probes.config import Timeouts, target_from_url
from probes.runner import run_session
from sandbox.logs import CloudLog
from sandbox.scenarios import get_scenario
from sandbox.server import Sandbox
from sandbox.stories import single
from tests.conftest import TEST_SECRET


@pytest.fixture(scope="module")
def server_ssl(tmp_path_factory):  # type: ignore[no-untyped-def]
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "cert.pem", d / "key.pem")
    return ctx


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
