"""Store errors, each with a message that says what to do.

    PathwatchError (probes.errors)
    +-- StoreError             the database cannot be opened, read or written
        +-- StoreFullError     the disk or the database's size limit is full
        +-- StoreReadOnlyError a write was asked of a store opened read-only
"""

from __future__ import annotations

import sqlite3

from probes.errors import PathwatchError


class StoreError(PathwatchError):
    pass


class StoreFullError(StoreError):
    pass


class StoreReadOnlyError(StoreError):
    pass


#: sqlite3's words for a file or folder it may not write (a read-only mount, permissions, a directory in the way).
_UNWRITABLE = ("readonly", "read-only", "unable to open", "permission")


def translate(exc: sqlite3.Error, path: str, doing: str) -> StoreError:
    """One place where sqlite3's errors become ours, naming the file, the action and, where known, the reason."""
    text = str(exc)
    low = text.lower()
    if "full" in low:
        return StoreFullError(f"store {path}: cannot {doing}: {text}; the store is full: free disk space (earlier runs are intact)")
    if any(word in low for word in _UNWRITABLE):
        return StoreError(f"store {path}: cannot {doing}: {text}; the store is not writable or not a file: "
                          "check the path and its permissions (earlier runs are intact)")
    return StoreError(f"store {path}: cannot {doing}: {text}")
