"""Keep secrets out of everything a run records or prints."""

from __future__ import annotations

import re
from collections.abc import Iterable

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_TOKEN_PARAM = re.compile(r"(?i)([?&](?:token|access_token|jwt)=)[^&#\s]+")
MASK = "[redacted]"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask JWTs, bearer tokens, token query parameters and any known secret in ``text``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    text = _JWT.sub(MASK, text)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    return _TOKEN_PARAM.sub(lambda m: m.group(1) + MASK, text)
