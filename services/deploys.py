"""Deploys entered by hand: a revision change the probes cannot see (a config flag, a migration), shown on every chart."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from probes.errors import ConfigError
from probes.redact import clip, known_secrets
from store import incidents as store_incidents
from store.sqlite import Store

MAX_REVISION = 200
MAX_NOTE = 2000


def record_deploy(store: Store, revision: str, at_ts: float, note: str = "", *, secrets: Iterable[str] | None = None) -> str:
    """Record a deploy (the note redacted and bounded); returns the revision as recorded."""
    if not revision.strip() or len(revision) > MAX_REVISION:
        raise ConfigError(f"--revision: give the deployed revision's name (1 to {MAX_REVISION} characters)")
    rev = revision.strip()
    store_incidents.add_deploy(store, rev, at_ts, note=clip(note, MAX_NOTE, known_secrets() if secrets is None else tuple(secrets)))
    return rev


def deploy_entries(store: Store) -> list[dict[str, Any]]:
    """Deploys entered by hand, oldest first: revision, at_ts, source, note."""
    return store_incidents.deploy_entries(store)
