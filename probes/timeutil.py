"""Times, once: ISO 8601 UTC to epoch seconds and back, and durations people write ("24h") or read ("3 h 12 min").

The bottom layer (standard library only), so the probe, the store, the analysis, the integrations, the services
and the CLIs all parse and print times the same way. A time without a UTC offset is refused rather than read in
the machine's local zone: stored and logged times are UTC, and a guess would move an incident by hours.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import overload

from probes.errors import ConfigError

#: The longest look-back a duration flag (``--since``, ``--chunk``) may ask for: ten years.
MAX_DURATION_S = 3650 * 86400.0

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: Longest text worth parsing as a time (an RFC 3339 time with nanoseconds and an offset is 35 characters).
_MAX_ISO = 64


def parse_iso_datetime(text: str) -> datetime:
    """An ISO 8601 time with ``Z`` or an offset as an aware UTC datetime; ``ValueError`` saying why otherwise."""
    if not isinstance(text, str) or not text.strip() or len(text) > _MAX_ISO:
        raise ValueError("not an ISO 8601 time")
    s = text.strip()
    if s[-1] in "Zz":
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(s)
    except (ValueError, OverflowError):
        raise ValueError("not an ISO 8601 time") from None
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("no UTC offset (end it with Z or +00:00)")
    try:
        return dt.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError("out of range") from None


def parse_iso(text: str) -> float:
    """Seconds since the epoch of an ISO 8601 time with ``Z`` or an offset (``2026-11-25T10:00:00Z``)."""
    try:
        return parse_iso_datetime(text).timestamp()
    except (OverflowError, OSError):
        raise ValueError("out of range") from None


def parse_iso_arg(text: str, where: str) -> float:
    """:func:`parse_iso` for a flag or a setting: a :class:`ConfigError` naming ``where`` and showing the expected form."""
    try:
        return parse_iso(text)
    except ValueError as exc:
        raise ConfigError(f"{where} {text!r}: {exc}; use ISO 8601 in UTC, e.g. 2026-11-25T10:00:00Z") from None


@overload
def iso(ts: float, timespec: str = "seconds") -> str: ...
@overload
def iso(ts: None, timespec: str = "seconds") -> None: ...
def iso(ts: float | None, timespec: str = "seconds") -> str | None:
    """``2026-11-25T10:00:00Z`` (None stays None); ``timespec`` as for :meth:`datetime.isoformat`."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def rfc3339(ts: float) -> str:
    """The form Cloud Logging filters and entries use: microseconds and ``Z``."""
    return iso(ts, "microseconds")


def human_utc(ts: float, *, seconds: bool = False) -> str:
    """``2026-11-25 10:00 UTC`` (with ``:SS`` when ``seconds``): for people, in bodies and on pages."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def clock_utc(ts: float) -> str:
    """``10:00:00 UTC``: a moment later today (a rate limit's reset)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S UTC")


def compact(ts: float) -> str:
    """``20261125T100000``: a time inside an identifier (manual incidents)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y%m%dT%H%M%S")


def parse_duration(text: str, where: str = "duration", *, min_s: float = 0.0, max_s: float = MAX_DURATION_S) -> float:
    """'90s', '30m', '24h', '7d', '2w' -> seconds; zero, anything under ``min_s`` and anything over ``max_s``
    (ten years by default) are refused, naming ``where`` (the flag)."""
    m = _DURATION.match(text) if isinstance(text, str) else None
    if not m:
        raise ConfigError(f"{where} {text!r}: not a duration; use a number and a unit, e.g. 30m, 24h, 7d")
    seconds = float(m.group(1)) * _UNIT_S[m.group(2)]
    if seconds <= 0 or seconds < min_s:
        raise ConfigError(f"{where} {text!r}: must be more than zero" + (f", at least {human_seconds(min_s)}" if min_s else ""))
    if seconds > max_s:
        raise ConfigError(f"{where} {text!r}: must be at most {human_seconds(max_s)}")
    return seconds


def human_seconds(seconds: float) -> str:
    """A bound in the unit a person would write it in: 60 -> '1m', 86400 -> '1d'."""
    for unit in ("d", "h", "m"):
        if seconds >= _UNIT_S[unit] and seconds % _UNIT_S[unit] == 0:
            return f"{seconds / _UNIT_S[unit]:g}{unit}"
    return f"{seconds:g}s"


def human_minutes(minutes: float) -> str:
    """A length of time for a manager: '45 s', '12 min', '3 h 12 min'."""
    if minutes < 1:
        return f"{minutes * 60:.0f} s"
    h, m = divmod(int(round(minutes)), 60)
    return f"{h} h {m} min" if h else f"{m} min"
