"""Silences on a real SQLite file: added and expired with who and when, nothing deleted, ids unique when two
processes add and expire at once, and a read-only store can list them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from store import silences
from store.schema import SCHEMA_VERSION
from store.sqlite import open_store

T0 = 1_795_600_000.0


def test_add_list_and_expire_keep_every_silence_with_who_and_when(db_path: Path) -> None:
    with open_store(db_path) as s:
        assert s.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        a = silences.add_silence(s, target="eu", group=None, starts_ts=T0, until_ts=T0 + 3600, reason="deploy", author="alice", created_ts=T0)
        b = silences.add_silence(s, target=None, group="golden", starts_ts=T0, until_ts=T0 + 60, reason="move", author="bob", created_ts=T0)
        assert (a["id"], b["id"]) == ("S1", "S2")
        row, ended = silences.expire_silence(s, "S1", author="carol", at_ts=T0 + 10)
        assert ended and row is not None and (row["expired_ts"], row["expired_by"]) == (T0 + 10, "carol")
        again, ended_again = silences.expire_silence(s, "s1", author="dave", at_ts=T0 + 20)
        assert not ended_again and again is not None and again["expired_by"] == "carol", "the first expiry stands"
        over, ended_over = silences.expire_silence(s, "S2", author="dave", at_ts=T0 + 120)
        assert not ended_over and over is not None and over["expired_ts"] is None, "an ended silence is not expired again"
        assert silences.expire_silence(s, "S99", author="x", at_ts=T0) == (None, False)
        listed = silences.list_silences(s)
        assert [r["id"] for r in listed] == ["S1", "S2"] and listed[1]["group"] == "golden" and listed[1]["target"] is None
        assert [r["id"] for r in silences.list_silences(s, ending_after=T0 + 30)] == ["S2"], "S1 was expired at +10"
    with open_store(db_path, read_only=True) as ro:
        assert [r["author"] for r in silences.list_silences(ro)] == ["alice", "bob"]


def test_the_schema_refuses_a_silence_on_both_or_neither(db_path: Path) -> None:
    import sqlite3

    import pytest

    from store.errors import StoreError

    with open_store(db_path) as s:
        for target, group in (("eu", "g"), (None, None)):
            with pytest.raises((StoreError, sqlite3.IntegrityError)):
                silences.add_silence(s, target=target, group=group, starts_ts=T0, until_ts=T0 + 1, reason="r", author="a", created_ts=T0)
        assert silences.list_silences(s) == []


_WORKER = textwrap.dedent("""
    import sys
    from store import silences
    from store.sqlite import open_store
    path, who = sys.argv[1], sys.argv[2]
    with open_store(path) as s:
        for i in range(40):
            row = silences.add_silence(s, target=f"{who}-{i}", group=None, starts_ts=1.0, until_ts=4e9, reason="r", author=who, created_ts=1.0)
            silences.expire_silence(s, row["id"], author=who, at_ts=2.0)
            silences.expire_silence(s, "S1", author=who, at_ts=3.0)
""")


def test_two_processes_adding_and_expiring_at_once_lose_nothing(db_path: Path) -> None:
    with open_store(db_path) as s:
        silences.add_silence(s, target="first", group=None, starts_ts=1.0, until_ts=4e9, reason="r", author="setup", created_ts=1.0)
    root = Path(__file__).resolve().parents[2]
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(db_path), who], cwd=root) for who in ("p1", "p2")]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    with open_store(db_path, read_only=True) as ro:
        rows = silences.list_silences(ro)
    assert len(rows) == 81 and len({r["id"] for r in rows}) == 81
    assert all(r["expired_ts"] == 2.0 and r["expired_by"] == r["author"] for r in rows[1:]), "each expired by its own adder"
    assert rows[0]["expired_by"] in ("p1", "p2") and rows[0]["expired_ts"] == 3.0, "S1 expired exactly once"
