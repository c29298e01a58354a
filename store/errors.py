"""Store errors, each with a message that says what to do.

    PathwatchError (probes.errors)
    +-- StoreError         the database cannot be opened, read or written
        +-- StoreFullError the disk or the database's size limit is full
"""

from __future__ import annotations

import sqlite3

from probes.errors import PathwatchError


class StoreError(PathwatchError):
    pass


class StoreFullError(StoreError):
    pass


def translate(exc: sqlite3.Error, path: str, doing: str) -> StoreError:
    """One place where sqlite3's errors become ours, naming the file and the action."""
    text = str(exc)
    if "full" in text.lower():
        return StoreFullError(f"store {path}: cannot {doing}: {text}; free disk space (earlier runs are intact)")
    return StoreError(f"store {path}: cannot {doing}: {text}")
