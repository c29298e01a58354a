"""Silences at the edge: check what a person typed (naming the field), redact and bound it, record who and when;
read the silences and the target groups the pure policy (``analysis.silences``, ``analysis.quorum``) judges with.

Target groups come from the runs' tags: a run's group is ``tags["group"]`` when set, else its target name; its
location is ``tags["location"]`` when set, else its target name. Only targets probed recently are members.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from analysis.alerting import Notice
from analysis.incidents import Incident
from analysis.quorum import held
from analysis.silences import MAX_AHEAD_S, MAX_AUTHOR, MAX_REASON, Silence, covering, muting, silenced_spans
from probes.errors import ConfigError
from probes.redact import clip, known_secrets
from probes.timeutil import human_utc, parse_iso
from store import silences as stored
from store.rollup import latest_runs
from store.sqlite import Store

if TYPE_CHECKING:
    from analysis.settings import Settings

#: A target whose newest run is older than this is no longer a member of its group (a location taken away).
MEMBER_RECENT_S = 7 * 86400.0
MAX_NAME = 200


def _silences(rows: Iterable[Mapping[str, object]]) -> list[Silence]:
    return [Silence.from_row(r) for r in rows]


def all_silences(store: Store) -> list[Silence]:
    """Every silence ever added, oldest first (nothing is deleted)."""
    return _silences(stored.list_silences(store))


def active_silences(store: Store, *, now: float) -> list[Silence]:
    """The silences muting something at ``now``."""
    return [s for s in _silences(stored.list_silences(store, ending_after=now)) if s.active(now)]


def default_author(environ: Mapping[str, str] | None = None) -> str:
    """Who is adding or expiring when no ``--author`` is given: ``$USER``, else ``cli``."""
    env = os.environ if environ is None else environ
    return (env.get("USER") or "").strip() or "cli"


def _text(value: str | None, field: str, limit: int, secrets: Sequence[str]) -> str:
    """Typed text: required, printable, redacted (a pasted line may hold a token), then bounded."""
    text = (value or "").strip()
    if not text:
        raise ConfigError(f"{field}: required (say why, in a few words)" if field == "--reason" else f"{field}: required")
    if len(text) > 4 * limit:
        raise ConfigError(f"{field}: at most {limit} characters, got {len(text)}")
    return clip(" ".join(text.split()), limit, secrets)


def _name(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > MAX_NAME or not text.isprintable():
        raise ConfigError(f"{field}: must be a name of 1 to {MAX_NAME} printable characters")
    return text


def add_silence(store: Store, *, target: str | None, group: str | None, until_ts: float, reason: str | None,
                author: str | None = None, starts_ts: float | None = None, now: float,
                secrets: Sequence[str] | None = None) -> Silence:
    """Check and record a silence: exactly one of ``target`` / ``group``; ``until`` in the future, after ``starts``, at
    most 90 days ahead; ``reason`` required. Reason and author are redacted and bounded. Errors name the flag."""
    secrets = known_secrets() if secrets is None else tuple(secrets)
    target, group = _name(target, "--target"), _name(group, "--group")
    if (target is None) == (group is None):
        raise ConfigError("--target / --group: give exactly one (a target name, or a group from the probe config's tags)")
    start = now if starts_ts is None else starts_ts
    if until_ts <= now:
        raise ConfigError(f"--until {human_utc(until_ts)}: must be in the future (now is {human_utc(now)})")
    if until_ts <= start:
        raise ConfigError(f"--until {human_utc(until_ts)}: must be after --starts {human_utc(start)}")
    if until_ts - now > MAX_AHEAD_S:
        raise ConfigError(f"--until {human_utc(until_ts)}: at most {MAX_AHEAD_S / 86400:g} days ahead (a silence forgotten "
                          "for longer hides real outages)")
    if start < now - MAX_AHEAD_S:
        raise ConfigError(f"--starts {human_utc(start)}: at most {MAX_AHEAD_S / 86400:g} days in the past")
    why = _text(reason, "--reason", MAX_REASON, secrets)
    who = _text(author if author is not None else default_author(), "--author", MAX_AUTHOR, secrets)
    row = stored.add_silence(store, target=target, group=group, starts_ts=start, until_ts=until_ts, reason=why, author=who,
                             created_ts=now)
    return Silence.from_row(row)


def expire_silence(store: Store, silence_id: str, *, author: str | None = None, now: float,
                   secrets: Sequence[str] | None = None) -> tuple[Silence, bool]:
    """End a silence now (who and when recorded); returns it and whether this call ended it (False: already over).
    An unknown id is a :class:`ConfigError` naming it."""
    secrets = known_secrets() if secrets is None else tuple(secrets)
    who = _text(author if author is not None else default_author(), "--author", MAX_AUTHOR, secrets)
    if stored.seq_of(silence_id) is None:
        raise ConfigError(f"ID {clip(silence_id, 40)!r}: not a silence id (they look like S12)")
    row, ended = stored.expire_silence(store, silence_id, author=who, at_ts=now)
    if row is None:
        raise ConfigError(f"ID {clip(silence_id, 40)!r}: no such silence (see `python -m analysis silences list --all`)")
    return Silence.from_row(row), ended


# ---------------------------------------------------------------- target groups

def target_groups(store: Store, *, now: float, recent_s: float = MEMBER_RECENT_S) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(target -> group, group -> its member targets probed within ``recent_s``), from each target's newest run's tags.

    Every target with a run is in ``groups``; ``members`` only holds targets seen recently, sorted by name."""
    groups: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    for run in latest_runs(store):
        g = str(run.tags.get("group") or run.target)
        groups[run.target] = g
        if parse_iso(run.started_at) >= now - recent_s:
            members.setdefault(g, []).append(run.target)
    return groups, {g: sorted(ts) for g, ts in members.items()}


def target_locations(store: Store) -> dict[str, str]:
    """Target -> its location (``tags["location"]``, else the target's name), from each target's newest run."""
    return {run.target: str(run.tags.get("location") or run.target) for run in latest_runs(store)}


# ---------------------------------------------------------------- what the pages and the notifier ask

def muted_incidents(store: Store, incidents: Sequence[Incident], *, now: float) -> dict[str, str]:
    """Incident id -> why it is silent (``analysis.silences.muting``): an open incident under a silence active now, an
    ended one under a silence that was active when it ended (so it stays quiet after the maintenance window)."""
    since = min([i.end_ts for i in incidents if i.end_ts is not None and i.end_ts < now] + [now])
    silences = [s for s in _silences(stored.list_silences(store, ending_after=since)) if s.starts_ts <= now]
    if not silences:
        return {}
    groups, _ = target_groups(store, now=now)
    return muting(incidents, silences, groups, now=now)


def held_incidents(store: Store, incidents: Sequence[Incident], quorum: int | None, *, now: float) -> dict[str, str]:
    """Incident id -> why it does not page (``analysis.quorum.held``: too few of its group's locations failing)."""
    groups, members = target_groups(store, now=now)
    return held(incidents, members, groups, quorum, locations=target_locations(store))


def spans_to_exclude(store: Store, targets: Iterable[str], *, since_ts: float | None, now: float,
                     enabled: bool) -> dict[str, list[tuple[float, float]]]:
    """Per target, the silenced spans of ``[since_ts, now)`` (empty when the exclusion setting is off)."""
    if not enabled:
        return {}
    silences = _silences(stored.list_silences(store, ending_after=since_ts))
    if not silences:
        return {}
    groups, _ = target_groups(store, now=now)
    return silenced_spans(silences, list(targets) or list(groups), groups, start=since_ts, end=now)


def policy_inputs(store: Store, settings: Settings, incidents: Sequence[Incident], *,
                  now: float) -> tuple[dict[str, str], dict[str, str], list[Notice]]:
    """What the notifier's planner needs from the policy: (muted, held, extra): incidents silenced now and why, incidents
    held for want of a quorum and why, and the no-data notices due (none for a target under a silence: a probe stopped for
    maintenance is not news). ``services.notify.policy_inputs`` returns this."""
    from services.no_data import notices

    muted = muted_incidents(store, incidents, now=now)
    held_ = held_incidents(store, [i for i in incidents if i.id not in muted], settings.alerting.quorum, now=now)
    extra = notices(store, settings.alerting, settings.dashboard.public_url, now=now)
    active = active_silences(store, now=now) if extra else []
    if active:
        groups, _ = target_groups(store, now=now)
        extra = [n for n in extra if not all(covering(active, t, groups, at=now) for t in n.targets)]
    return muted, held_, extra
