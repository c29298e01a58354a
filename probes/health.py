"""Read the deployed revision from a target's health endpoint (best effort, bounded)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from probes.config import Target

HEALTH_TIMEOUT_S = 5.0


def revision_from_health(body: Any, field: str) -> str | None:
    """Follow a dotted ``field`` path through the health JSON; None if it is not there."""
    value = body
    for key in field.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return str(value) if value not in (None, "") else None


def _fetch(url: str, insecure: bool) -> bytes:
    import urllib.request

    from probes.tls import client_context

    ctx = client_context(insecure) if url.startswith("https://") else None
    req = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "pathwatch"})
    with urllib.request.urlopen(req, timeout=HEALTH_TIMEOUT_S, context=ctx) as resp:
        return resp.read(1 << 16)


async def read_revision(target: Target) -> str | None:
    """The revision the health URL reports now, or None if it cannot be read."""
    if not target.health_url:
        return None
    try:
        raw = await asyncio.to_thread(_fetch, target.health_url, target.insecure_skip_tls_verify)
        return revision_from_health(json.loads(raw), target.revision_field)
    except (OSError, ValueError):
        return None
