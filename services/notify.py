"""Notify: plan what is due from the stored incidents and the ledger, enqueue it once per (notice, channel), claim,
send, record; keep firing alerts alive in Alertmanager; send a test notification; read the ledger for the dashboard.

The flow of one pass (``python -m analysis incidents detect`` runs it after detecting, ``python -m analysis notify``
alone): incidents (open, or ended in the last :data:`HORIZON_S`) + what the outbox already holds -> the pure planner
(``analysis.alerting.plan_notices``) -> ``store.deliveries.enqueue`` (INSERT OR IGNORE: any number of concurrent
passes leave one row per notice and channel) -> re-POST of the alerts still firing to each Alertmanager (not a new
notice: Alertmanager would resolve an alert by itself once its ``endsAt`` passes) -> claim one due row at a time under
a lease, send it through its channel (``integrations.alert_channels``), record the answer, retry failures with
exponential backoff. See ``store.deliveries`` for what "exactly once" means when a process dies after a send.

Channel URLs are credentials: read here from the settings or the environment (``url_env``), passed to the channel,
never stored, printed or shown (the ledger keeps the channel's *name* and a redacted answer).
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from probes.errors import ConfigError
from probes.redact import clip, known_secrets
from probes.timeutil import compact, iso
from store import deliveries
from store.sqlite import Store

if TYPE_CHECKING:
    from analysis.alerting import AlertingSettings, Notice
    from analysis.incidents import Incident
    from analysis.settings import Settings
    from integrations.alert_channels import ChannelResult

#: A claimed delivery is someone else's until this many seconds pass (far longer than a channel's 10 s timeout).
LEASE_S = 120.0
#: Incidents looked at in a pass: open ones, and those ended this recently (a late resolve is still sent).
HORIZON_S = 7 * 86400.0
#: A firing alert's ``endsAt`` lies this far ahead at least (and 5 probe intervals): every pass re-POSTs it, and if
#: Pathwatch stops, Alertmanager resolves it by itself after this long.
FIRING_TTL_S = 600.0
#: A resolve is re-POSTed to Alertmanager for this long, so a late firing re-POST of a concurrent pass cannot revive it.
RESOLVE_REPEAT_S = 900.0
#: At most this many deliveries are sent in one pass (the rest wait for the next pass).
MAX_SENDS = 200
#: The longest one send may take, whatever the channel does (well inside the lease, so no other process re-sends it).
SEND_LIMIT_S = 30.0


@dataclass(frozen=True)
class Channel:
    """A configured channel with its URL resolved (``repr`` hides the URL)."""

    name: str
    kind: str
    url: str

    def __repr__(self) -> str:
        return f"Channel(name={self.name!r}, kind={self.kind!r}, url=<hidden>)"


def channels(settings: AlertingSettings, environ: Mapping[str, str] | None = None) -> list[Channel]:
    """Every ``[[alerting.channels]]`` with its URL: from the file, or from the environment variable ``url_env`` names
    (missing -> :class:`ConfigError` naming the variable and the channel)."""
    from analysis.alerting import url_problem

    env = os.environ if environ is None else environ
    out = []
    for c in settings.channels:
        url = c.url
        if c.url_env:
            url = (env.get(c.url_env) or "").strip()
            if not url:
                raise ConfigError(f"alerting channel {c.name!r}: environment variable {c.url_env} (its url_env) is not set or empty")
        if why := url_problem(c.kind, url):
            raise ConfigError(f"alerting channel {c.name!r}: {why}")
        if c.kind == "pagerduty":  # its routing key, too
            from integrations.alert_channels import pagerduty_endpoint

            try:
                pagerduty_endpoint(url)
            except ValueError as exc:
                raise ConfigError(f"alerting channel {c.name!r}: its URL {exc}") from None
        out.append(Channel(c.name, c.kind, url))
    return out


def policy_inputs(store: Store, settings: Settings, incidents: Sequence[Incident], *,
                  now: float) -> tuple[dict[str, str], dict[str, str], list[Notice]]:
    """(muted, held, extra): incidents silenced, incidents whose quorum is not met, and no-data notices
    (``services.silences.policy_inputs``)."""
    from services.silences import policy_inputs as policy

    return policy(store, settings, incidents, now=now)


@dataclass
class NotifyResult:
    """What one pass did: notices planned, rows enqueued (new), deliveries sent / failed (will retry) / dead, alerts
    re-POSTed to Alertmanager, and one sentence per failed delivery."""

    planned: int = 0
    enqueued: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    refreshed: int = 0
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """The one summary line for people (stderr)."""
        text = (f"notify: {self.planned} due, {self.enqueued} new deliveries, {self.sent} sent, {self.failed} failed (will retry), "
                f"{self.dead} gave up, {self.refreshed} firing alerts re-sent to Alertmanager")
        return text + ("; " + "; ".join(self.failures[:5]) if self.failures else "")


def _impacts(store: Store, settings: Settings, incidents: Sequence[Incident], *, now: float) -> dict[str, str]:
    """The impact sentence of each incident, measured on its own runs (``analysis.impact``)."""
    from analysis.frame import COLUMNS, runs_frame
    from analysis.impact import impact, plain_sentence
    from analysis.incidents import incident_runs, incident_window

    out = {}
    for inc in incidents:
        w = incident_window(inc, now=now)
        rows = store.run_rows(COLUMNS, since_ts=w.start_ts, until_ts=w.end_ts, targets=inc.targets)
        imp = impact(incident_runs(runs_frame(rows), inc, now=now), settings.report.impact)
        out[inc.id] = plain_sentence(imp, "so far" if inc.open else "during the incident")
    return out


def _owner() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _bounded(call: Callable[[], ChannelResult], limit_s: float) -> ChannelResult:
    """``call()``'s result, or a failure once ``limit_s`` has passed. The clients' timeouts are per socket read, so a
    channel answering a byte at a time would outlast them (and the lease: another process would send again); past the
    limit the daemon thread is abandoned, the delivery counts as failed and is retried with backoff."""
    from integrations.alert_channels import ChannelResult

    box: list[ChannelResult] = []

    def send() -> None:
        try:
            box.append(call())
        except Exception as exc:  # noqa: BLE001 - a client's bug is this delivery's failure (named), never a hung-channel story
            box.append(ChannelResult(False, None, clip(f"{type(exc).__name__}: {exc}", 300, known_secrets())))

    worker = threading.Thread(target=send, name="pathwatch-alert-send", daemon=True)
    worker.start()
    worker.join(limit_s)
    return box[0] if box else ChannelResult(False, None, f"no whole answer within {limit_s:g} s (the channel hung); will retry")


def _send(ch: Channel, notice: Mapping[str, Any], *, now: float, settings: AlertingSettings, secrets: tuple[str, ...],
          limit_s: float = SEND_LIMIT_S) -> ChannelResult:
    """Send within ``limit_s``; the answer comes back redacted (this process's secrets, the channel's URL) and bounded,
    ready for the ledger and for people."""
    got = _bounded(lambda: _send_now(ch, notice, now=now, settings=settings, secrets=secrets), limit_s)
    return replace(got, text=clip(got.text, 300, (*secrets, ch.url)))


def _send_now(ch: Channel, notice: Mapping[str, Any], *, now: float, settings: AlertingSettings, secrets: tuple[str, ...]) -> ChannelResult:
    from integrations import alert_channels as ac

    if ch.kind == "alertmanager":
        return ac.post_alertmanager(ch.url, [notice], now=now, firing_ttl_s=firing_ttl(settings), secrets=secrets)
    if ch.kind == "pagerduty":
        return ac.send_pagerduty(ch.url, notice, secrets=secrets)
    return ac.send_apprise(ch.url, notice, secrets=secrets)


def firing_ttl(settings: AlertingSettings) -> float:
    """How far ahead a firing alert's ``endsAt`` lies (see :data:`FIRING_TTL_S`)."""
    return max(FIRING_TTL_S, 5 * settings.probe_interval_s)


def notify_due(store: Store, settings: Settings, *, now: float, environ: Mapping[str, str] | None = None,
               lease_s: float = LEASE_S, jitter: Callable[[], float] | None = None, owner: str | None = None,
               send_limit_s: float = SEND_LIMIT_S) -> NotifyResult:
    """One notification pass (see the module docstring). ``jitter`` draws the backoff's stretch in [0, 1) (default:
    random, up to 10%); ``now`` is when the pass starts, and the clock moves on from it while sending."""
    from analysis.alerting import LATE_NOTICE_S, Notice, Sent, plan_notices
    from services.incidents import list_incidents
    from services.silences import target_groups

    alerting = settings.alerting
    chans = channels(alerting, environ)
    result = NotifyResult()
    if not chans:
        return result
    secrets = known_secrets(environ)
    incidents = list_incidents(store, now - max(HORIZON_S, LATE_NOTICE_S))
    sent = [Sent(Notice.from_doc(doc), at) for doc, at in deliveries.notices(store, tuple(i.id for i in incidents), since_ts=now - HORIZON_S)]
    muted, held, extra = policy_inputs(store, settings, incidents, now=now)
    groups, _ = target_groups(store, now=now)
    kw: dict[str, Any] = {"now": now, "settings": alerting, "public_url": settings.dashboard.public_url, "muted": muted, "held": held,
                          "extra": extra, "groups": groups}
    due = plan_notices(incidents, sent, **kw)
    told = {n.incident_id for n in due if n.incident_id}
    if told:  # the impact is measured only for incidents that get a notice now
        due = plan_notices(incidents, sent, impact=_impacts(store, settings, [i for i in incidents if i.id in told], now=now), **kw)
    result.planned = len(due)
    rows = [(n.key, ch.name, n.kind, n.incident_id, n.thread, n.to_doc(),
             "skipped" if ch.kind == "alertmanager" and n.kind in ("escalate", "remind") else "pending") for n in due for ch in chans]
    result.enqueued = deliveries.enqueue(store, rows, now=now)
    start = time.monotonic()

    def clock() -> float:
        return now + (time.monotonic() - start)

    result.refreshed = _refresh_alertmanagers(store, chans, incidents, extra, alerting, now=now, secrets=secrets)
    draw = jitter or (lambda: random.random() * 0.1)  # noqa: S311 - spreading retries, not a secret
    me = owner or _owner()
    by_name = {c.name: c for c in chans}
    for _ in range(MAX_SENDS):
        row = deliveries.claim(store, me, now=clock(), lease_s=lease_s, channels=tuple(by_name), due_by=now)
        if row is None:
            break
        ch = by_name[row["channel"]]
        got = _send(ch, row["notice"], now=clock(), settings=alerting, secrets=secrets, limit_s=send_limit_s)
        dead = not got.ok and row["attempts"] >= alerting.max_attempts
        retry_at = None if got.ok or dead else clock() + _retry_delay(row["attempts"], alerting.retry_base_s, draw())
        deliveries.record(store, row["id"], me, ok=got.ok, status=got.status, response=got.text, now=clock(), next_ts=retry_at, dead=dead)
        if got.ok:
            result.sent += 1
        else:
            result.dead += dead
            result.failed += not dead
            result.failures.append(f"{ch.name}: {row['kind']} {'gave up' if dead else 'failed'} ({got.status or 'no answer'}: {got.text})")
    return result


def _retry_delay(attempts: int, base_s: float, jitter: float) -> float:
    from analysis.alerting import retry_delay

    return retry_delay(attempts, base_s, jitter=jitter)


def _refresh_alertmanagers(store: Store, chans: list[Channel], incidents: Sequence[Incident], extra: Sequence[Notice],
                           settings: AlertingSettings, *, now: float, secrets: tuple[str, ...]) -> int:
    """Re-POST to each Alertmanager every alert it was sent that still fires (an open incident whose open was delivered
    and whose resolve is not due; a no-data notice still current), and each resolve of the last :data:`RESOLVE_REPEAT_S`.
    Idempotent for Alertmanager (same labels); not a ledger row. A failure here is retried by the next pass."""
    from integrations.alert_channels import post_alertmanager

    still_open = {i.id for i in incidents if i.open and not i.superseded}
    current = {n.key for n in extra}
    total = 0
    for ch in (c for c in chans if c.kind == "alertmanager"):
        rows = deliveries.for_channel_state(store, ch.name, "sent", since_ts=now - HORIZON_S)
        resolves = {r["incident_id"] for r in rows if r["kind"] == "resolve"}
        resolves |= {r["incident_id"] for r in deliveries.for_channel_state(store, ch.name, "pending", since_ts=now - HORIZON_S)
                     if r["kind"] == "resolve"}
        firing = [r["notice"] for r in rows if r["kind"] == "open" and r["incident_id"] in still_open and r["incident_id"] not in resolves]
        firing += [r["notice"] for r in rows if r["kind"] == "no_data" and r["notice_key"] in current]
        recent = [r["notice"] for r in rows if r["kind"] in ("resolve", "data_back") and (r["sent_ts"] or 0) >= now - RESOLVE_REPEAT_S]
        if firing or recent:
            got = _bounded(lambda ch=ch, alerts=firing + recent: post_alertmanager(ch.url, alerts, now=now, firing_ttl_s=firing_ttl(settings),
                                                                                secrets=secrets), SEND_LIMIT_S)
            total += len(firing) + len(recent) if got.ok else 0
    return total


def send_test(store: Store, settings: Settings, channel: str, *, now: float, environ: Mapping[str, str] | None = None) -> ChannelResult:
    """Send a clearly marked test notification on one channel and keep its answer in the ledger (never retried)."""
    from analysis.alerting import Notice

    chans = {c.name: c for c in channels(settings.alerting, environ)}
    if channel not in chans:
        names = ", ".join(sorted(chans)) or "none configured"
        raise ConfigError(f"--test {channel!r}: no such channel in [[alerting.channels]] (channels: {names})")
    ch = chans[channel]
    notice = Notice(key=f"test:{ch.name}:{compact(now)}", kind="test", incident_id=None, targets=(), group="pathwatch", severity="info",
                    outcome="test", summary=f"Pathwatch test notification on channel {ch.name} at {iso(now)}",
                    impact="Nothing is wrong: this checks that the channel delivers.", starts_at=now,
                    url=settings.dashboard.public_url)
    got = _send(ch, notice.to_doc(), now=now, settings=settings.alerting, secrets=known_secrets(environ))
    deliveries.record_test(store, notice.key, ch.name, notice.to_doc(), ok=got.ok, status=got.status, response=got.text, now=now)
    return got


# ---------------------------------------------------------------- the ledger, for the dashboard

def channel_rows(settings: Settings) -> list[dict[str, str]]:
    """The configured channels: name, kind and where the URL comes from (never the URL)."""
    return [{"channel": c.name, "kind": c.kind, "url from": f"environment ${c.url_env}" if c.url_env else "settings file"}
            for c in settings.alerting.channels]


def ledger_rows(store: Store, limit: int = 200) -> list[dict[str, Any]]:
    """The latest deliveries, newest first: when, channel, what, incident, state, attempts, last status and answer."""
    return [{"enqueued": iso(r["created_ts"]), "channel": r["channel"], "kind": r["kind"], "incident": r["incident_id"] or "",
             "key": r["notice_key"], "state": r["state"], "attempts": r["attempts"], "status": r["status"],
             "sent": iso(r["sent_ts"]) if r["sent_ts"] else "", "next attempt": iso(r["next_ts"]) if r["state"] == "failed" else "",
             "answer": r["response"]} for r in deliveries.latest(store, limit)]


def failure_sentences(store: Store) -> list[str]:
    """One sentence per channel with failed deliveries ("slack: 3 failed deliveries, last 404")."""
    from analysis.alerting import failure_sentence

    return [failure_sentence(f["channel"], f["failed"], f["dead"], f["last_status"], f["last_response"]) for f in deliveries.failures(store)]
