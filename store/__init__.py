"""Persistence for runs, incidents and annotations. SQLite is the embedded default.

Every command and the dashboard find the store the same way: ``--db PATH``,
else ``PATHWATCH_DB``, else ``data/pathwatch.db``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DEFAULT_DB = Path("data") / "pathwatch.db"
DB_ENV = "PATHWATCH_DB"


def resolve_db_path(cli_value: str | None = None, environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(cli_value or environ.get(DB_ENV) or DEFAULT_DB)
