"""Alert channels, thin adapters: plain data in (a notice as a dict, a URL), a :class:`ChannelResult` out.

- Alertmanager: a POST of API v2 alerts to ``<url>/api/v2/alerts`` (the API itself; Alertmanager then groups,
  inhibits, silences and routes to Slack, PagerDuty or e-mail). An alert is identified by its labels; a firing alert
  carries an ``endsAt`` ahead (Alertmanager would resolve it by itself ``resolve_timeout`` after the last POST without
  one) and is re-POSTed on every pass while it fires, as Prometheus does; a resolve is the same labels with ``endsAt``.
- Apprise (Slack, Teams, e-mail, Discord, JSON webhooks, ... from one URL): title and body from the notice; why a
  delivery failed is read from Apprise's own log (``apprise.LogCapture``), e.g. "error=404".
- PagerDuty Events API v2 through PagerDuty's own client (PyPI ``pagerduty``, ``EventsApiV2Client``), with its
  retries off (the outbox retries, with backoff, and a pass never sleeps); the channel URL is
  ``https://events.pagerduty.com/?routing_key=KEY`` (so the key lives with the URL, in the environment);
  ``dedup_key`` is stable per incident so trigger and resolve pair up.

A channel's failure never raises: the result holds the status and a bounded, redacted text, never the URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from probes.redact import clip
from probes.timeutil import iso

#: Text kept from a channel's answer (redacted first, then cut).
MAX_RESPONSE_CHARS = 300
TIMEOUT_S = 10.0
#: Alertmanager's limits on what we send: an annotation at most this long.
MAX_ANNOTATION = 1000
PAGERDUTY_SUMMARY = 1024
ALERTNAMES = {"no_data": "PathwatchNoData", "data_back": "PathwatchNoData", "test": "PathwatchTest"}
DEFAULT_ALERTNAME = "PathwatchGoldenPathDown"


@dataclass(frozen=True)
class ChannelResult:
    """What a channel answered: ``ok``, the HTTP status (None when there was none) and a short, redacted text."""

    ok: bool
    status: int | None
    text: str


def url_secrets(url: str) -> tuple[str, ...]:
    """The parts of a channel URL that are credentials: the URL itself, its user info, path and query values, and for
    an Apprise scheme its host too (``slack://TokenA/...``, ``tgram://bottoken/...`` put a token where a host would be)."""
    parts = urlsplit(url)
    found = [url, parts.password or "", parts.username or "", parts.path.strip("/")]
    if parts.scheme not in ("http", "https"):
        found += [parts.netloc, *parts.netloc.replace("@", ":").split(":")]
    found += [v for vs in parse_qs(parts.query).values() for v in vs]
    found += [seg for seg in parts.path.split("/") if len(seg) >= 8]
    return tuple(sorted({s for s in found if len(s) >= 6}, key=len, reverse=True))


def _text(raw: str, url: str, secrets: Iterable[str]) -> str:
    return clip(raw.replace("\r", " ").replace("\n", " ").strip(), MAX_RESPONSE_CHARS, (*url_secrets(url), *secrets))


def _post_json(endpoint: str, body: Any, url: str, secrets: Iterable[str], timeout_s: float) -> ChannelResult:
    """POST JSON with ``requests`` (user info in the URL becomes basic auth; TLS verified); any answer or failure
    becomes a result (the text never quotes the URL)."""
    import requests

    try:
        with requests.post(endpoint, json=body, timeout=timeout_s, allow_redirects=False, stream=True,
                           headers={"User-Agent": "pathwatch-alerting"}) as resp:
            raw = resp.raw.read(4096, decode_content=True).decode("utf-8", "replace")  # the answer is outside text: bounded
    except (requests.RequestException, OSError, ValueError) as exc:
        return ChannelResult(False, None, _text(f"{type(exc).__name__}: {exc}", url, secrets))
    if 200 <= resp.status_code < 300:
        return ChannelResult(True, resp.status_code, _text(raw or "ok", url, secrets))
    return ChannelResult(False, resp.status_code, _text(f"{resp.status_code} {resp.reason}: {raw}", url, secrets))


# ---------------------------------------------------------------- Alertmanager

def alertmanager_alert(notice: Mapping[str, Any], *, now: float, firing_ttl_s: float) -> dict[str, Any]:
    """One API v2 alert for a notice. Labels identify it, so the open, every re-POST and the resolve share them."""
    kind = str(notice["kind"])
    labels = {"alertname": ALERTNAMES.get(kind, DEFAULT_ALERTNAME), "target": ",".join(notice.get("targets") or ()) or "all",
              "group": str(notice.get("group") or "all")}
    labels |= {"severity": str(notice.get("severity") or "page"), "outcome": str(notice.get("outcome") or "unknown")}
    if kind not in ("no_data", "data_back"):
        labels["incident"] = str(notice.get("incident_id") or notice["key"])
    summary, impact = str(notice.get("summary") or ""), str(notice.get("impact") or "")
    description = f"{'TEST from Pathwatch: ' if kind == 'test' else ''}{summary}" + (f" {impact}" if impact else "")
    ends = notice.get("ends_at")
    resolved = kind in ("resolve", "data_back")
    alert: dict[str, Any] = {
        "labels": labels,
        "annotations": {k: v[:MAX_ANNOTATION] for k, v in (("summary", summary), ("impact", impact), ("description", description)) if v},
        "startsAt": iso(float(notice.get("starts_at") or now), "milliseconds"),
        "endsAt": iso(float(ends if resolved and ends is not None else (now if resolved else now + firing_ttl_s)), "milliseconds"),
    }
    if notice.get("url"):
        alert["generatorURL"] = str(notice["url"])
    return alert


def post_alertmanager(url: str, notices: list[Mapping[str, Any]], *, now: float, firing_ttl_s: float, secrets: Iterable[str] = (),
                      timeout_s: float = TIMEOUT_S) -> ChannelResult:
    """POST the notices' alerts to ``<url>/api/v2/alerts`` (one request); 200 is success."""
    alerts = [alertmanager_alert(n, now=now, firing_ttl_s=firing_ttl_s) for n in notices]
    return _post_json(url.rstrip("/") + "/api/v2/alerts", alerts, url, secrets, timeout_s)


# ---------------------------------------------------------------- Apprise

_TITLES = {"open": "OPEN", "escalate": "ESCALATED", "remind": "STILL OPEN", "resolve": "RESOLVED", "no_data": "NO DATA",
           "data_back": "DATA BACK", "test": "TEST"}


def apprise_message(notice: Mapping[str, Any]) -> tuple[str, str]:
    """Title and body: what happened in one line, then the impact, the targets, the link and the notice key (a webhook
    receiver dedupes a re-send by that key)."""
    kind = str(notice["kind"])
    title = f"[Pathwatch] {_TITLES.get(kind, kind.upper())}: {notice.get('summary') or ''}"[:250]
    lines = [str(notice.get("summary") or "")]
    if kind == "test":
        lines.insert(0, "This is a test notification from Pathwatch; nothing is wrong.")
    if notice.get("impact"):
        lines.append(str(notice["impact"]))
    lines.append(f"targets: {', '.join(notice.get('targets') or ()) or '-'}; group: {notice.get('group') or '-'}")
    if notice.get("url"):
        lines.append(str(notice["url"]))
    lines.append(f"key: {notice['key']}")
    return title, "\n".join(lines)


def send_apprise(url: str, notice: Mapping[str, Any], *, secrets: Iterable[str] = ()) -> ChannelResult:
    """Notify through Apprise; on failure the text is what Apprise logged (e.g. "Failed to send JSON POST notification:
    Not Found, error=404.") and the status is the HTTP code found in it."""
    import logging

    import apprise

    kind = str(notice["kind"])
    notify_type = {"resolve": apprise.NotifyType.SUCCESS, "data_back": apprise.NotifyType.SUCCESS, "test": apprise.NotifyType.INFO,
                   "remind": apprise.NotifyType.WARNING}.get(kind, apprise.NotifyType.FAILURE)
    title, body = apprise_message(notice)
    a = apprise.Apprise()
    with apprise.LogCapture(level=logging.INFO) as log:
        if not a.add(url):
            return ChannelResult(False, None, "Apprise does not understand this channel URL (scheme or form)")
        try:
            ok = bool(a.notify(title=title, body=body, notify_type=notify_type))
        except Exception as exc:  # noqa: BLE001 - a plugin's bug is this channel's failure, never ours
            return ChannelResult(False, None, _text(f"{type(exc).__name__}: {exc}", url, secrets))
        said = log.getvalue()
    codes = re.findall(r"error=(\d{3})", said)
    status = int(codes[-1]) if codes else (200 if ok else None)
    lines = [ln.split(" - ", 2)[-1] for ln in said.splitlines() if ln.strip()]
    wanted = [ln for ln in lines if ("Fail" in ln or "error" in ln.lower())] if not ok else lines[-1:]
    return ChannelResult(ok, status, _text(" ".join(wanted) or ("sent" if ok else "failed without a reason"), url, secrets))


# ---------------------------------------------------------------- PagerDuty Events API v2

def pagerduty_endpoint(url: str) -> tuple[str, str]:
    """(the Events API's base URL, the routing key) of a channel URL ``https://events.pagerduty.com/?routing_key=KEY``;
    ``ValueError`` naming what is missing."""
    parts = urlsplit(url)
    key = (parse_qs(parts.query).get("routing_key") or [""])[0]
    if parts.scheme != "https" or not parts.netloc:  # PagerDuty's client speaks https only
        raise ValueError("must be an https URL such as https://events.pagerduty.com/?routing_key=KEY")
    if not key:
        raise ValueError("has no routing_key (https://events.pagerduty.com/?routing_key=KEY)")
    path = parts.path.rstrip("/").removesuffix("/v2/enqueue")
    return f"{parts.scheme}://{parts.netloc}{path}", key


def dedup_key(notice: Mapping[str, Any]) -> str:
    """One per incident, or per stop of a target's data (its no-data notice and the data-back that closes it), so a
    trigger, its re-triggers and its resolve pair up, and a later stop of the same target is a new page."""
    if notice.get("incident_id"):
        return f"pathwatch-{notice['incident_id']}"
    return f"pathwatch-{notice.get('thread') or notice['key']}"[:255]


def pagerduty_event(notice: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(the event action, the event's other fields): resolve on a resolve (or data back), else trigger. The client adds
    the routing key and the dedup key."""
    kind = str(notice["kind"])
    if kind in ("resolve", "data_back"):
        return "resolve", {}
    summary = f"{'[TEST] ' if kind == 'test' else ''}{notice.get('summary') or 'Pathwatch alert'}"[:PAGERDUTY_SUMMARY]
    event: dict[str, Any] = {
        "payload": {"summary": summary, "source": "pathwatch", "severity": "critical" if notice.get("severity") == "page" else "info",
                    "component": ",".join(notice.get("targets") or ()) or "all", "group": str(notice.get("group") or ""),
                    "class": str(notice.get("outcome") or ""),
                    "custom_details": {"kind": kind, "impact": notice.get("impact") or "", "key": notice["key"]}},
    }
    if notice.get("url"):
        event["links"] = [{"href": notice["url"], "text": "Pathwatch incident"}]
    return "trigger", event


def send_pagerduty(url: str, notice: Mapping[str, Any], *, secrets: Iterable[str] = (), timeout_s: float = TIMEOUT_S) -> ChannelResult:
    """Send one event with ``pagerduty.EventsApiV2Client``; its own retries are off (one attempt, one immediate retry
    on a 429), so the outbox's backoff decides when to try again and a pass is never held up by a sleep."""
    import pagerduty

    try:
        base, key = pagerduty_endpoint(url)
    except ValueError as exc:
        return ChannelResult(False, None, f"channel URL {exc}")
    hidden = (key, *secrets)
    action, fields = pagerduty_event(notice)
    client = pagerduty.EventsApiV2Client(key, base_url=base)
    client.retry, client.max_network_attempts, client.sleep_timer, client.timeout = {429: 1}, 0, 0.0, timeout_s
    try:
        with client:
            client.send_event(action, dedup_key=dedup_key(notice), **fields)
    except pagerduty.Error as exc:
        status = exc.response.status_code if exc.response is not None else None
        why = exc.__cause__ or exc  # a network failure: what the transport said (refused, TLS), not the client's wrapper
        body = exc.response.text if exc.response is not None else f"{type(why).__name__}: {why}"
        return ChannelResult(False, status, _text(body or f"HTTP {status}", url, hidden))
    except Exception as exc:  # noqa: BLE001 - the client's bug or a malformed answer is this channel's failure, never ours
        return ChannelResult(False, None, _text(f"{type(exc).__name__}: {exc}", url, hidden))
    return ChannelResult(True, 202, "accepted")
