"""Keep secrets out of everything a run records or prints, and keep outside text bounded and inert.

The order is always: redact first, then cut (:func:`clip`), so a secret that straddles the cut
can never leave half of itself behind. Secrets Pathwatch was given (the signing secret, the
GitHub token, ...) come from :func:`known_secrets`; token *shapes* (JWTs, ``ghp_...``) are masked
whether or not anyone told us about them.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

#: A JWT, or the front of one: its header (or payload) is base64url JSON, which always begins ``eyJ``.
#: Matching a part alone masks a token someone else already cut in half.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)?|eyJ[A-Za-z0-9_-]{8,}\.?")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_TOKEN_PARAM = re.compile(r"(?i)([?&](?:token|access_token|jwt)=)[^&#\s]+")
#: Token shapes of well-known issuers: GitHub (classic, fine-grained, app, OAuth), Slack, Google API keys. No word
#: boundary in front: a log line may glue a token to the word before it (``tokenghp_...``).
_TOKEN_SHAPES = re.compile(
    r"(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{30,})"
)
MASK = "[redacted]"
#: C0/C1 control characters, DEL and the bidi overrides: a terminal would act on them, so printed text shows them escaped.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
#: Environment variables whose values are secrets, by name.
_SECRET_NAME = re.compile(r"(?i)(SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|PRIVATE_?KEY)")
#: Shorter values are not treated as secrets found by name (a "1" would mask every digit).
MIN_KNOWN_SECRET = 8


def known_secrets(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Every secret this process was given through its environment (by variable name), raw and stripped.

    Readers of outside text (server logs, GitHub answers) pass these to :func:`redact`, so a server that
    echoes the signing secret, or a client library that quotes the token, cannot make Pathwatch repeat it.
    """
    env = os.environ if environ is None else environ
    found: set[str] = set()
    for name, value in env.items():
        if _SECRET_NAME.search(name) and not name.upper().endswith(("_ENV", "_FILE", "_PATH", "_URL")):
            for v in (value, value.strip()):
                if len(v) >= MIN_KNOWN_SECRET:
                    found.add(v)
    return tuple(sorted(found, key=len, reverse=True))


def strip_secret(value: str | None) -> str:
    """A token or secret as read from the environment or a file: surrounding whitespace (CR, LF, spaces) removed."""
    return (value or "").strip()


@functools.lru_cache(maxsize=256)
def _forms(secret: str) -> frozenset[str]:
    """The ways a secret shows up in text: as is, stripped, as ``repr`` and JSON quote it (an inner CR becomes ``\\r``),
    and, when it holds whitespace or control characters, each long-enough piece between them."""
    forms = {secret, secret.strip(), repr(secret)[1:-1], json.dumps(secret)[1:-1]}
    forms |= {part for part in re.split(r"[\s\x00-\x1f\x7f]+", secret) if len(part) >= MIN_KNOWN_SECRET}
    return frozenset(f for f in forms if len(f) >= 4)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known secrets, JWTs, bearer tokens, token query parameters and token-shaped strings in ``text``."""
    forms = set().union(*(_forms(s) for s in secrets if s and len(s) >= 4))
    for form in sorted(forms, key=len, reverse=True):  # longest first: no half-masked secret
        text = text.replace(form, MASK)
    text = _JWT.sub(MASK, text)
    text = _TOKEN_SHAPES.sub(MASK, text)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    return _TOKEN_PARAM.sub(lambda m: m.group(1) + MASK, text)


def redact_data(value: Any, secrets: Iterable[str] = ()) -> Any:
    """:func:`redact` every string inside JSON-like data (dicts, lists), keys included; other values as they are."""
    secrets = tuple(secrets)
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact_data(k, secrets) if isinstance(k, str) else k: redact_data(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v, secrets) for v in value]
    return value


def clip(text: str, limit: int, secrets: Iterable[str] = ()) -> str:
    """Redact, then cut to at most ``limit`` characters, saying how much was cut."""
    text = redact(text, secrets)
    if len(text) <= limit:
        return text
    note = f"...[+{len(text) - limit} chars]"
    return text[: max(0, limit - len(note))] + note


def _escaped(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """Inert text for a terminal or a log: control characters and escapes shown escaped.

    By default the result is one line (newlines are escaped too), so no outside text can forge a line
    in a cron log; ``keep_newlines`` keeps ``\\n`` and ``\\t`` for multi-line blocks such as tracebacks.
    """
    return (_CONTROL_BUT_LINES if keep_newlines else _CONTROL).sub(_escaped, text)
