"""The channel adapters alone, against local stand-ins: what each sends, and that a failure is a result, never a raise,
whose text never holds the channel URL or its key."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from integrations import alert_channels as ac
from tests.fakes.alert_receiver import running_receiver
from tests.hostile.rawserver import self_signed_context

NOW = 1_800_000_000.0
NOTICE: dict[str, Any] = {"key": "incident:INC-1:open", "kind": "open", "incident_id": "INC-1", "targets": ["eu", "us"], "group": "chat",
                          "severity": "page", "outcome": "server_error", "summary": "server_error: close 1011 in agent_thinking",
                          "impact": "The agent chat path was down 3 min so far.", "starts_at": NOW - 60, "ends_at": None,
                          "url": "https://pw.example/incidents?incident=INC-1"}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_alertmanager_alert_labels_and_times() -> None:
    firing = ac.alertmanager_alert(NOTICE, now=NOW, firing_ttl_s=600)
    assert firing["labels"] == {"alertname": "PathwatchGoldenPathDown", "target": "eu,us", "group": "chat", "severity": "page",
                                "outcome": "server_error", "incident": "INC-1"}
    assert firing["endsAt"] == "2027-01-15T08:10:00.000Z" and firing["generatorURL"] == NOTICE["url"]
    resolved = ac.alertmanager_alert(NOTICE | {"kind": "resolve", "key": "incident:INC-1:resolve", "ends_at": NOW - 5}, now=NOW, firing_ttl_s=600)
    assert resolved["labels"] == firing["labels"] and resolved["endsAt"] == "2027-01-15T07:59:55.000Z"


def test_apprise_json_delivers_and_a_bad_status_is_named() -> None:
    with running_receiver() as r:
        ok = ac.send_apprise(f"json://127.0.0.1:{r.port}/hook", NOTICE)
        assert ok.ok and ok.status == 200
        body = r.bodies("/hook")[0]
        assert body["title"].startswith("[Pathwatch] OPEN: server_error") and "key: incident:INC-1:open" in body["message"]
        r.status = 404
        bad = ac.send_apprise(f"json://user:hunter2secret@127.0.0.1:{r.port}/hook", NOTICE)
        assert not bad.ok and bad.status == 404 and "404" in bad.text and "hunter2secret" not in bad.text
    gone = ac.send_apprise(f"json://127.0.0.1:{closed_port()}/hook", NOTICE)
    assert not gone.ok and gone.status is None and gone.text
    assert not ac.send_apprise("nosuchscheme://x", NOTICE).ok


def test_pagerduty_refused_answer_keeps_the_routing_key_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "ROUTINGkey0123456789abcdef"
    got = ac.send_pagerduty(f"https://127.0.0.1:{closed_port()}/?routing_key={key}", NOTICE)
    assert not got.ok and got.status is None and key not in got.text
    assert "https" in ac.send_pagerduty(f"http://127.0.0.1:{closed_port()}/?routing_key={key}", NOTICE).text
    tls = self_signed_context(tmp_path)
    with running_receiver(status=202, tls=tls) as r:  # TLS verification stays on: a certificate nobody trusts is refused
        untrusted = ac.send_pagerduty(f"{r.url}/?routing_key={key}", NOTICE)
        assert not untrusted.ok and "CERTIFICATE_VERIFY_FAILED" in untrusted.text and r.bodies() == []
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))  # OpenSSL's own variable: the stand-in's certificate is trusted
    assert ac.pagerduty_endpoint(f"https://events.pagerduty.com/v2/enqueue?routing_key={key}") == ("https://events.pagerduty.com", key)
    assert ac.pagerduty_event(NOTICE | {"kind": "resolve"}) == ("resolve", {}) and ac.dedup_key(NOTICE) == "pathwatch-INC-1"
    with running_receiver(status=400, tls=tls) as r:  # PagerDuty's client, one attempt: the answer's status and text, never the key
        bad = ac.send_pagerduty(f"{r.url}/?routing_key={key}", NOTICE)
        assert not bad.ok and bad.status == 400 and "error" in bad.text and key not in bad.text and len(r.bodies()) == 1
        r.status = 503
        assert ac.send_pagerduty(f"{r.url}/?routing_key={key}", NOTICE).status == 503 and len(r.bodies()) == 2, "no retry of its own"


def test_an_alertmanager_url_with_user_info_is_basic_auth_and_the_password_is_never_said() -> None:
    import base64

    with running_receiver() as r:
        got = ac.post_alertmanager(f"http://pathwatch:s3cretPassw0rd@127.0.0.1:{r.port}", [NOTICE], now=1e9, firing_ttl_s=600)
        assert got.ok and r.posts[0]["path"] == "/api/v2/alerts"
        assert r.posts[0]["headers"]["Authorization"] == "Basic " + base64.b64encode(b"pathwatch:s3cretPassw0rd").decode()
        r.status = 401
        bad = ac.post_alertmanager(f"http://pathwatch:s3cretPassw0rd@127.0.0.1:{r.port}", [NOTICE], now=1e9, firing_ttl_s=600)
        assert not bad.ok and bad.status == 401 and "s3cretPassw0rd" not in bad.text


def test_a_token_where_an_apprise_url_puts_its_host_is_never_said() -> None:
    token = "123456789:AAbotTokenSecretValue"
    said = ac._text(f"sending to {token}; bot 123456789 said no (AAbotTokenSecretValue)", f"tgram://{token}/424242", ())
    assert "123456789" not in said and "AAbotTokenSecretValue" not in said, said
    assert "127.0.0.1" not in ac.url_secrets("http://127.0.0.1:9093"), "an http host is an address, not a secret"
