"""Keep secrets out of everything a run records or prints, and keep outside text bounded and inert.

The order is always: redact first, then cut (:func:`clip`), so a secret that straddles the cut
can never leave half of itself behind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_TOKEN_PARAM = re.compile(r"(?i)([?&](?:token|access_token|jwt)=)[^&#\s]+")
#: Token shapes of well-known issuers: GitHub (classic, fine-grained, app, OAuth), Slack, Google API keys.
_TOKEN_SHAPES = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{30,})"
)
MASK = "[redacted]"
#: C0/C1 control characters and DEL: a terminal would act on them, so printed text shows them escaped.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known secrets, JWTs, bearer tokens, token query parameters and token-shaped strings in ``text``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    text = _JWT.sub(MASK, text)
    text = _TOKEN_SHAPES.sub(MASK, text)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    return _TOKEN_PARAM.sub(lambda m: m.group(1) + MASK, text)


def clip(text: str, limit: int, secrets: Iterable[str] = ()) -> str:
    """Redact, then cut to at most ``limit`` characters, saying how much was cut."""
    text = redact(text, secrets)
    if len(text) <= limit:
        return text
    note = f"...[+{len(text) - limit} chars]"
    return text[: max(0, limit - len(note))] + note


def printable(text: str) -> str:
    """One line of inert text for a terminal or a log: control characters and escapes shown escaped."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)
