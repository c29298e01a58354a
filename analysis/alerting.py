"""Alerting: the settings that say where and when to tell people, and the notice that is told.

Pure: the settings file's ``[alerting]`` table is checked here (errors name the field); a channel's URL
is never read here, only the *name* of the environment variable that holds it (``url_env``): secrets
come from the environment at the edge (``services``), never from this module or the settings file's
plain text when the user chose ``url_env``. The planner that turns incidents into notices lives here too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from functools import partial
from typing import Any

from analysis.incidents import Incident
from probes.errors import ConfigError

#: Channel kinds: an existing engine (Alertmanager), a notification library (Apprise), PagerDuty Events API v2.
CHANNEL_KINDS = ("alertmanager", "apprise", "pagerduty")
#: Notice kinds, in the order an incident lives them; ``no_data`` / ``data_back`` are about a target, ``test`` about a channel.
NOTICE_KINDS = ("open", "escalate", "remind", "resolve", "no_data", "data_back", "test")

#: A ``data_back`` notice's key is its ``no_data`` notice's key plus this.
BACK_SUFFIX = ":back"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
MAX_CHANNELS = 32
MAX_REMINDER_S = 7 * 86400.0
MAX_NO_DATA_AFTER = 1000
MAX_ATTEMPTS = 100


@dataclass(frozen=True)
class ChannelConfig:
    """One ``[[alerting.channels]]`` table. Exactly one of ``url`` / ``url_env`` is set; ``repr`` hides the URL
    (a Slack or PagerDuty URL is a credential)."""

    name: str
    kind: str
    url: str = ""
    url_env: str = ""

    def __repr__(self) -> str:
        where = f"url_env={self.url_env!r}" if self.url_env else "url=<hidden>"
        return f"ChannelConfig(name={self.name!r}, kind={self.kind!r}, {where})"


@dataclass(frozen=True)
class AlertingSettings:
    channels: tuple[ChannelConfig, ...] = ()
    #: Remind while an incident stays open, every this many seconds (0: never).
    reminder_s: float = 4 * 3600.0
    #: Locations of a target group that must fail before anyone is paged; None: 2 when the group has several, else 1.
    quorum: int | None = None
    #: A target whose runs stop arriving for this many of its probe intervals is "no data".
    no_data_after: int = 3
    #: The probe interval when it cannot be read from the runs (seconds).
    probe_interval_s: float = 60.0
    #: Deliveries that fail are retried with exponential backoff from this delay, at most ``max_attempts`` times.
    retry_base_s: float = 60.0
    max_attempts: int = 8
    #: Leave silenced windows (maintenance) out of the SLO and the impact; off by default, and said on the pages.
    exclude_silences: bool = False


@dataclass(frozen=True)
class Notice:
    """One thing to tell: sent at most once per (``key``, channel). ``key`` names the state change, e.g.
    ``incident:<id>:open``, ``incident:<id>:escalate:<n>``, ``incident:<id>:remind:<n>``, ``incident:<id>:resolve``,
    ``no_data:<target>:<since>``; two passes that see the same change build the same key."""

    key: str
    kind: str
    #: Where it is about: the incident (or None for a target's no-data and a test), its targets and group.
    incident_id: str | None
    targets: tuple[str, ...]
    group: str
    #: ``page`` (someone must act) or ``info`` (shown, quorum not met, data back, test).
    severity: str
    #: The failure mode (an outcome name), or ``no_data`` / ``test``.
    outcome: str
    #: One sentence each: what failed, and what it costs.
    summary: str
    impact: str
    starts_at: float
    ends_at: float | None = None
    #: The dashboard page of the incident ("" when ``[dashboard] public_url`` is not set).
    url: str = ""
    #: The incident's whole failure mode (``server_error/agent_thinking/1011``): what an escalation compares, since the
    #: summary sentence also counts the failures and so changes with every failed run.
    mode: str = ""

    @property
    def thread(self) -> str:
        """What this notice continues, so a channel hears them in order: its incident, or a target's stop of data
        (``no_data:<target>:<since>``, which its ``data_back`` closes)."""
        return f"incident:{self.incident_id}" if self.incident_id else self.key.removesuffix(BACK_SUFFIX)

    def to_doc(self) -> dict[str, Any]:
        """The notice as JSON types (the outbox keeps it so a retry sends exactly what was planned)."""
        d = asdict(self)
        d["targets"] = list(self.targets)
        d["thread"] = self.thread  # for the channels (plain data): PagerDuty's dedup_key
        return d

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Notice:
        """The notice a stored document describes; unknown keys are ignored, a wrong one raises ``ValueError``."""
        try:
            known = {f.name for f in fields(cls)}
            d = {k: v for k, v in doc.items() if k in known}
            d["targets"] = tuple(str(t) for t in d.get("targets") or ())
            return cls(**d)
        except TypeError as exc:
            raise ValueError(f"notice document: {exc}") from None


def _name(v: Any, where: str) -> str:
    if not isinstance(v, str) or not _NAME.fullmatch(v):
        raise ConfigError(f"{where}: must be a name of 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit")
    return v


def _channel(t: Any, where: str) -> ChannelConfig:
    if not isinstance(t, Mapping):
        raise ConfigError(f"{where}: must be a table with name, kind and url or url_env")
    unknown = set(t) - {"name", "kind", "url", "url_env"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: kind, name, url, url_env")
    name = _name(t.get("name"), f"{where}.name")
    kind = t.get("kind")
    if kind not in CHANNEL_KINDS:
        raise ConfigError(f"{where}.kind: must be one of {', '.join(CHANNEL_KINDS)}")
    url, env = t.get("url", ""), t.get("url_env", "")
    if bool(url) == bool(env):
        raise ConfigError(f"{where}: give exactly one of url or url_env (the name of an environment variable holding the URL)")
    if env and (not isinstance(env, str) or not _ENV_NAME.fullmatch(env)):
        raise ConfigError(f"{where}.url_env: must be the name of an environment variable (letters, digits, '_')")
    if url:
        if not isinstance(url, str) or len(url) > 2048 or not url.isprintable():
            raise ConfigError(f"{where}.url: must be a URL of at most 2048 printable characters")
        if why := url_problem(kind, url):
            raise ConfigError(f"{where}.url: {why}")
    return ChannelConfig(name, kind, url, env)


def url_problem(kind: str, url: str) -> str | None:
    """Why ``url`` cannot be a ``kind`` channel's URL (never quoting it: it is a credential), or None. Checked for a URL in
    the settings file here, and for one from ``url_env`` where the environment is read (``services.notify``)."""
    if kind == "alertmanager" and not url.startswith(("http://", "https://")):
        return "an alertmanager channel's URL must start with http:// or https://"
    if kind == "pagerduty" and not url.startswith("https://"):
        return "a pagerduty channel's URL must start with https:// (e.g. https://events.pagerduty.com/?routing_key=KEY)"
    return None


def _whole(v: Any, where: str, low: int, high: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
        raise ConfigError(f"{where}: must be a whole number from {low} to {high}, got {v!r}"[:200])
    return v


def _seconds(v: Any, where: str, low: float, high: float) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not low <= float(v) <= high:
        raise ConfigError(f"{where}: must be a number of seconds from {low:g} to {high:g}, got {v!r}"[:200])
    return float(v)


ALERTING_KEYS = {"channels", "reminder_s", "quorum", "no_data_after", "probe_interval_s", "retry_base_s", "max_attempts",
                 "exclude_silences"}


def parse_alerting(sec: Mapping[str, Any]) -> AlertingSettings:
    """The ``[alerting]`` table (already checked to be a table with known keys)."""
    raw = sec.get("channels", [])
    if not isinstance(raw, list) or len(raw) > MAX_CHANNELS:
        raise ConfigError(f"alerting.channels: must be a list of at most {MAX_CHANNELS} [[alerting.channels]] tables")
    channels = tuple(_channel(t, f"alerting.channels[{i}]") for i, t in enumerate(raw))
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        raise ConfigError(f"alerting.channels: names must be unique, got {names}")
    out = AlertingSettings(channels=channels)
    kw: dict[str, Any] = {}
    if "reminder_s" in sec:
        kw["reminder_s"] = _seconds(sec["reminder_s"], "alerting.reminder_s", 0.0, MAX_REMINDER_S)
    if "quorum" in sec:
        kw["quorum"] = _whole(sec["quorum"], "alerting.quorum", 1, 1000)
    if "no_data_after" in sec:
        kw["no_data_after"] = _whole(sec["no_data_after"], "alerting.no_data_after", 1, MAX_NO_DATA_AFTER)
    if "probe_interval_s" in sec:
        kw["probe_interval_s"] = _seconds(sec["probe_interval_s"], "alerting.probe_interval_s", 1.0, 86400.0)
    if "retry_base_s" in sec:
        kw["retry_base_s"] = _seconds(sec["retry_base_s"], "alerting.retry_base_s", 0.0, 86400.0)
    if "max_attempts" in sec:
        kw["max_attempts"] = _whole(sec["max_attempts"], "alerting.max_attempts", 1, MAX_ATTEMPTS)
    if "exclude_silences" in sec:
        if not isinstance(sec["exclude_silences"], bool):
            raise ConfigError("alerting.exclude_silences: must be true or false")
        kw["exclude_silences"] = sec["exclude_silences"]
    return replace(out, **kw)


# ---------------------------------------------------------------- the planner (pure: no store, no clock)

#: An incident that opened and closed unseen (no notice yet) is still announced, open then resolve, when it ended
#: less than this long ago; older history is not paged about (say, on the first pass after channels are configured).
LATE_NOTICE_S = 3600.0
#: Exponential backoff never waits longer than this between two attempts of one delivery.
RETRY_CAP_S = 3600.0


@dataclass(frozen=True)
class Sent:
    """A notice already in the outbox (on any channel) and when it was first enqueued: what the ledger tells the planner."""

    notice: Notice
    at: float


def incident_key(incident_id: str, kind: str, n: int | None = None) -> str:
    """The outbox key of an incident's state change (``incident:<id>:open``, ``incident:<id>:remind:2``)."""
    return f"incident:{incident_id}:{kind}" + ("" if n is None else f":{n}")


def incident_url(public_url: str, incident_id: str) -> str:
    """The incident on the dashboard, or "" when the dashboard's public URL is not set."""
    return f"{public_url.rstrip('/')}/incidents?incident={incident_id}" if public_url else ""


def _notice(inc: Incident, kind: str, key: str, *, impact: str, public_url: str,
            groups: Mapping[str, str] = {}) -> Notice:  # noqa: B006 - read only
    """An incident's notice: always ``page`` severity (an incident that should not page is held or muted instead)."""
    return Notice(key=key, kind=kind, incident_id=inc.id, targets=tuple(sorted(inc.targets)), group=_group(inc, groups),
                  severity="page", outcome=(inc.failure_mode or "unknown").split("/")[0], summary=inc.headline, impact=impact,
                  starts_at=inc.start_ts, ends_at=inc.end_ts if kind == "resolve" else None, url=incident_url(public_url, inc.id),
                  mode=inc.failure_mode or "")


def _group(inc: Incident, groups: Mapping[str, str] = {}) -> str:  # noqa: B006 - read only
    """The incident's target group(s), joined: a target's ``group`` tag, else its own name ("all" when it names none)."""
    return ",".join(sorted({groups.get(t, t) for t in inc.targets})) or "all"


def _escalated(inc: Incident, last: Notice) -> bool:
    """A new failure mode (a new signature), or a target the last notice did not name. A target recovering is no
    escalation, and neither is one more failed run (the summary sentence counts them: it is never compared)."""
    return (inc.failure_mode or "") != last.mode or bool(set(inc.targets) - set(last.targets))


def plan_notices(incidents: Sequence[Incident], sent: Sequence[Sent], *, now: float, settings: AlertingSettings,
                 public_url: str, impact: Mapping[str, str] = {}, muted: Mapping[str, str] = {},  # noqa: B006 - read only
                 held: Mapping[str, str] = {}, extra: Sequence[Notice] = (),  # noqa: B006
                 groups: Mapping[str, str] = {}) -> list[Notice]:  # noqa: B006
    """What is due now, each notice once: two passes that see the same incidents and ledger plan the same keys, so the
    outbox (unique per key and channel) keeps one row each whatever number of passes run at once.

    - open: an open incident with no open notice yet; an incident that opened and closed between two passes gets
      open, then resolve (when it ended less than :data:`LATE_NOTICE_S` ago).
    - escalate: a new signature or a new target since the last open/escalate notice; keyed by its ordinal, so
      passes that see the same escalation build the same key.
    - remind: every ``reminder_s`` while open, counted from when the open was enqueued, keyed by the reminder's
      ordinal (missed ordinals are not sent: only the latest).
    - resolve: only for an incident whose open was due.
    ``muted`` and ``held`` incidents (silenced; quorum not met) get nothing now, except the resolve of an open already
    sent; once neither applies, what is then due is sent (an open still open when a silence ends). ``extra`` notices
    (no data) go out once by key. ``groups`` (target -> target group) names each notice's group.
    """
    by_incident: dict[str, list[Sent]] = {}
    keys: set[str] = set()
    for s in sorted(sent, key=lambda s: s.at):
        keys.add(s.notice.key)
        if s.notice.incident_id is not None:
            by_incident.setdefault(s.notice.incident_id, []).append(s)
    out: list[Notice] = []
    for inc in incidents:
        mine = by_incident.get(inc.id, [])
        said = impact.get(inc.id, "")
        notice = partial(_notice, inc, impact=said, public_url=public_url, groups=groups)

        opened = next((s for s in mine if s.notice.kind == "open"), None)
        closed = not inc.open or inc.superseded
        if (inc.id in muted or inc.id in held) and not (opened is not None and closed):
            continue  # quiet; but what was opened is always resolved, silence or not (a page left open is worse)
        if opened is None:
            if closed and (inc.superseded or inc.end_ts is None or now - inc.end_ts > LATE_NOTICE_S):
                continue
            out.append(notice("open", incident_key(inc.id, "open")))
            if closed:
                out.append(notice("resolve", incident_key(inc.id, "resolve")))
            continue
        if closed:
            key = incident_key(inc.id, "resolve")
            if key not in keys:
                o = opened.notice  # the same labels as the open, so a channel that pairs them (Alertmanager) can
                out.append(replace(o, key=key, kind="resolve", summary=inc.headline, impact=said or o.impact,
                                   ends_at=inc.end_ts if inc.end_ts is not None else now))
            continue
        changes = [s.notice for s in mine if s.notice.kind in ("open", "escalate")]
        if _escalated(inc, changes[-1]):
            n = sum(1 for c in changes if c.kind == "escalate") + 1
            out.append(notice("escalate", incident_key(inc.id, "escalate", n)))
        if settings.reminder_s > 0:
            n = math.floor((now - opened.at) / settings.reminder_s)
            key = incident_key(inc.id, "remind", n)
            if n >= 1 and key not in keys:
                out.append(notice("remind", key))
    out += [n for n in extra if n.key not in keys]
    return out


def retry_delay(attempts: int, base_s: float, *, cap_s: float = RETRY_CAP_S, jitter: float = 0.0) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: ``base * 2**(attempts-1)``, capped, stretched
    by ``jitter`` (a fraction in [0, 1) the caller draws, so tests choose it) so many failures do not retry in step."""
    if attempts < 1:
        return 0.0
    return min(cap_s, base_s * 2.0 ** min(attempts - 1, 30)) * (1.0 + max(0.0, min(jitter, 1.0)))


def failure_sentence(channel: str, failed: int, dead: int, last_status: int | None, last_answer: str) -> str:
    """What the dashboard says about a channel's failures: "slack: 3 failed deliveries, last 404" (and how many it gave
    up on). ``last_answer`` is already redacted and bounded; it is said only when there was no HTTP status."""
    total = failed + dead
    text = f"{channel}: {total} failed {'delivery' if total == 1 else 'deliveries'}"
    text += f" ({dead} given up)" if dead else ""
    if last_status is not None:
        return f"{text}, last {last_status}"
    return f"{text}, last: {last_answer[:120]}" if last_answer else text
