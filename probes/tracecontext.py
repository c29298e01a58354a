"""W3C Trace Context (https://www.w3.org/TR/trace-context/): the ``traceparent`` each run sends, and reading one.

Every run gets a fresh trace id and root span id from the standard library (``secrets``), whether or not anything is
exported, so the backend's spans and log lines can always be joined to the run. Nothing here does I/O or reads the
clock; the sandbox and the analysis use the same parser, which accepts only a well-formed header (outside text).
"""

from __future__ import annotations

import re
import secrets

HEADER_TRACEPARENT = "traceparent"
HEADER_TRACESTATE = "tracestate"
#: Version 00, sampled: the probe always records its own trace.
VERSION = "00"
FLAGS_SAMPLED = "01"

_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
#: version-traceid-parentid-flags; a future version may append fields after a dash (the spec's forward compatibility).
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
#: The longest traceparent we read: the header is 55 characters in version 00; later versions may add a little.
MAX_TRACEPARENT = 256
#: tracestate: at most 32 list members and 512 characters (the spec's limits).
MAX_TRACESTATE = 512
MAX_TRACESTATE_MEMBERS = 32
_TRACESTATE_KEY = re.compile(r"(?:[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13}|[a-z][a-z0-9_\-*/]{0,255})")
_TRACESTATE_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")


def new_ids() -> tuple[str, str]:
    """A fresh (trace id, span id): 32 and 16 lowercase hex digits, never all zeros (the spec's invalid value)."""
    trace_id = secrets.token_hex(16)
    while trace_id == "0" * 32:  # pragma: no cover - one chance in 2**128
        trace_id = secrets.token_hex(16)
    span_id = secrets.token_hex(8)
    while span_id == "0" * 16:  # pragma: no cover - one chance in 2**64
        span_id = secrets.token_hex(8)
    return trace_id, span_id


def traceparent(trace_id: str, span_id: str) -> str:
    """The header value for a sampled trace: ``00-<trace id>-<span id>-01``."""
    return f"{VERSION}-{trace_id}-{span_id}-{FLAGS_SAMPLED}"


def is_trace_id(value: object) -> bool:
    """Whether ``value`` is a valid trace id (32 lowercase hex digits, not all zeros)."""
    return isinstance(value, str) and bool(_HEX32.fullmatch(value)) and value != "0" * 32


def is_span_id(value: object) -> bool:
    """Whether ``value`` is a valid span id (16 lowercase hex digits, not all zeros)."""
    return isinstance(value, str) and bool(_HEX16.fullmatch(value)) and value != "0" * 16


def parse_traceparent(value: object) -> tuple[str, str] | None:
    """(trace id, parent span id) from a ``traceparent`` header, or None when it is not a valid one.

    Hostile input: anything malformed (wrong length, upper case, version ff, all-zero ids, version 00 with extra
    fields, too long) is ignored, as the spec tells a receiver to do.
    """
    if not isinstance(value, str) or len(value) > MAX_TRACEPARENT:
        return None
    m = _TRACEPARENT.fullmatch(value.strip())
    if m is None:
        return None
    version, trace_id, span_id, _flags, rest = m.groups()
    if version == "ff" or (version == VERSION and rest) or not is_trace_id(trace_id) or not is_span_id(span_id):
        return None
    return trace_id, span_id


def tracestate_problem(value: str) -> str | None:
    """Why ``value`` is not a valid ``tracestate`` header (for a config error message), or None when it is."""
    if len(value) > MAX_TRACESTATE:
        return f"at most {MAX_TRACESTATE} characters"
    members = [m.strip() for m in value.split(",")]
    if len(members) > MAX_TRACESTATE_MEMBERS:
        return f"at most {MAX_TRACESTATE_MEMBERS} list members"
    keys = []
    for m in members:
        key, eq, val = m.partition("=")
        if not eq or not _TRACESTATE_KEY.fullmatch(key) or not _TRACESTATE_VALUE.fullmatch(val):
            return "must be comma-separated key=value members (keys: lower case letters, digits, _-*/ and one @)"
        keys.append(key)
    if len(set(keys)) != len(keys):
        return "a key appears twice"
    return None


def trace_of_log(value: object) -> str | None:
    """The trace id of a Cloud Logging ``trace`` field (``projects/<p>/traces/<trace id>``, or a bare trace id)."""
    if not isinstance(value, str) or len(value) > MAX_TRACEPARENT:
        return None
    tail = value.rsplit("/", 1)[-1].lower()
    return tail if is_trace_id(tail) else None
