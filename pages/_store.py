"""The store connection of the dashboard: settings, whether it may write, one shared read-only connection.

Reads go through one read-only connection per store, kept by ``st.cache_resource`` and reopened when another
process has changed the file. Writes (five whys, GitHub links, fetched server errors) open a short-lived writable
connection, and never happen in read-only mode.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from analysis.settings import Settings
from services.dashboard import Store, StoreError, open_dashboard_store
from services.dashboard import db_path as _db_path
from services.settings import settings_from_env


@st.cache_resource
def settings() -> Settings:
    """Settings from the TOML file named by PATHWATCH_SETTINGS (defaults when unset)."""
    return settings_from_env()


def db_path() -> str:
    return str(_db_path())


def read_only() -> bool:
    """Read-only when asked (PATHWATCH_READ_ONLY=1, ``[dashboard] read_only = true``) or when the store cannot be written
    (a read-only mount, no permission): every editor is hidden and nothing is written."""
    asked = settings().dashboard.read_only or os.environ.get("PATHWATCH_READ_ONLY", "") in ("1", "true", "yes")
    return asked or not store_writable(db_path())


def store_writable(path: str) -> bool:
    """Whether the dashboard may write the store: the file (or, for a new store, its nearest existing folder) is writable."""
    p = os.path.abspath(path)
    if os.path.exists(p):
        return os.access(p, os.W_OK) and os.access(os.path.dirname(p), os.W_OK)
    parent = os.path.dirname(p)
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent) if os.path.dirname(parent) != parent else ""
    return bool(parent) and os.path.isdir(parent) and os.access(parent, os.W_OK)


def _stamp(path: str) -> tuple[Any, ...]:
    """What says the file changed under a connection that reads it as immutable: identity, size, time, a writer's WAL."""
    try:
        s = os.stat(path)
        main: tuple[int, ...] | None = (s.st_ino, s.st_size, s.st_mtime_ns)
    except OSError:
        main = None
    return main, os.path.exists(f"{path}-wal")


class _Reader:
    """One read-only connection shared by every session (one at a time: SQLite connections are not for two threads)."""

    def __init__(self, path: str, writable: bool) -> None:
        self.stamp = _stamp(path)  # before opening: a change made while it opens shows at the next check
        try:
            self.store = open_dashboard_store(path, read_only=True)
        except StoreError:
            if not writable:
                raise
            open_dashboard_store(path, read_only=False).close()  # a writable dashboard creates a missing store and migrates an older one, as before
            self.store = open_dashboard_store(path, read_only=True)
        self.lock = threading.RLock()

    def current(self) -> bool:
        """Still safe to read through: an immutable read sees no other writer, so any change means reopen; a ``mode=ro``
        connection follows a writer's WAL until that writer has gone."""
        now = _stamp(self.store.path)
        return now == self.stamp if self.store.immutable else now[1]


@st.cache_resource(show_spinner=False, validate=lambda r: r.current())
def _reader(path: str, writable: bool) -> _Reader:
    return _Reader(path, writable)


@contextmanager
def reading() -> Iterator[Store]:
    """The shared read-only connection. Nothing is created in read-only mode (not even a missing store)."""
    reader = _reader(db_path(), not read_only())
    with reader.lock:
        yield reader.store


@contextmanager
def writing() -> Iterator[Store]:
    """A short-lived writable connection, for the few things a page writes (never in read-only mode)."""
    with open_dashboard_store(db_path(), read_only=False) as s:
        yield s
