"""One TLS client context per verification mode, built once: loading the CA store costs tens of ms of CPU."""

from __future__ import annotations

import ssl
from functools import cache


@cache
def client_context(insecure_skip_verify: bool = False) -> ssl.SSLContext:
    """Verification stays on unless a target turns it off by name (``insecure_skip_tls_verify``)."""
    ctx = ssl.create_default_context()
    if insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
