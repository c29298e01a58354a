"""The outbox: one row per (notice key, channel) whatever number of writers; a claim only one process wins; a lease
that expires gives the row to the next pass; failures wait for their next attempt."""

from __future__ import annotations

import threading
from pathlib import Path

from store import deliveries
from store.schema import SCHEMA_VERSION
from store.sqlite import open_store

NOW = 1_800_000_000.0


def row(key: str = "incident:INC-1:open", channel: str = "am") -> tuple[str, str, str, str | None, str, dict[str, object], str]:
    return (key, channel, key.split(":")[2], "INC-1", "incident:INC-1", {"key": key, "kind": key.split(":")[2]}, "pending")


def test_enqueue_is_once_per_key_and_channel_across_concurrent_writers(db_path: Path) -> None:
    open_store(db_path).close()
    added: list[int] = []

    def writer() -> None:
        with open_store(db_path) as s:
            added.append(deliveries.enqueue(s, [row(), row(channel="hook")], now=NOW))

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(added) == [0, 0, 0, 0, 0, 2]
    with open_store(db_path) as s:
        assert s.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert [(r["channel"], r["state"], r["attempts"]) for r in deliveries.latest(s)] == [("hook", "pending", 0), ("am", "pending", 0)]


def test_only_one_of_many_claimers_wins_a_row(db_path: Path) -> None:
    with open_store(db_path) as s:
        deliveries.enqueue(s, [row()], now=NOW)
    won: list[str] = []

    def claimer(i: int) -> None:
        with open_store(db_path) as s:
            if deliveries.claim(s, f"p{i}", now=NOW, lease_s=60, channels=("am",)) is not None:
                won.append(f"p{i}")

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1


def test_an_expired_lease_is_claimed_again_and_the_old_owner_cannot_record(db_path: Path) -> None:
    with open_store(db_path) as s:
        deliveries.enqueue(s, [row()], now=NOW)
        first = deliveries.claim(s, "dead-process", now=NOW, lease_s=60, channels=("am",))
        assert first is not None and first["attempts"] == 1
        assert deliveries.claim(s, "next", now=NOW + 59, lease_s=60, channels=("am",)) is None
        again = deliveries.claim(s, "next", now=NOW + 61, lease_s=60, channels=("am",))
        assert again is not None and again["attempts"] == 2
        assert not deliveries.record(s, first["id"], "dead-process", ok=True, status=200, response="", now=NOW + 62, next_ts=None, dead=False)
        assert deliveries.record(s, again["id"], "next", ok=True, status=200, response="ok", now=NOW + 62, next_ts=None, dead=False)
        assert [(r["state"], r["sent_ts"], r["lease_owner"]) for r in deliveries.latest(s)] == [("sent", NOW + 62, None)]
        assert deliveries.claim(s, "late", now=NOW + 1000, lease_s=60, channels=("am",)) is None


def test_a_failure_waits_for_its_next_attempt_then_dead_is_final(db_path: Path) -> None:
    with open_store(db_path) as s:
        deliveries.enqueue(s, [row()], now=NOW)
        r = deliveries.claim(s, "a", now=NOW, lease_s=60, channels=("am",))
        assert r is not None
        deliveries.record(s, r["id"], "a", ok=False, status=404, response="404 Not Found", now=NOW + 1, next_ts=NOW + 60, dead=False)
        assert deliveries.claim(s, "a", now=NOW + 59, lease_s=60, channels=("am",)) is None
        assert deliveries.claim(s, "a", now=NOW + 10, lease_s=60, channels=("other",)) is None
        r = deliveries.claim(s, "a", now=NOW + 60, lease_s=60, channels=("am",))
        assert r is not None
        deliveries.record(s, r["id"], "a", ok=False, status=500, response="500", now=NOW + 61, next_ts=None, dead=True)
        assert deliveries.claim(s, "a", now=NOW + 10_000, lease_s=60, channels=("am",)) is None
        assert deliveries.failures(s) == [{"channel": "am", "failed": 0, "dead": 1, "last_ts": NOW + 61, "last_status": 500, "last_response": "500"}]


def test_a_thread_is_sent_in_order_a_resolve_never_overtakes_its_open(db_path: Path) -> None:
    with open_store(db_path) as s:
        deliveries.enqueue(s, [row()], now=NOW)
        r = deliveries.claim(s, "a", now=NOW, lease_s=60, channels=("am",))
        assert r is not None
        deliveries.record(s, r["id"], "a", ok=False, status=500, response="", now=NOW, next_ts=NOW + 600, dead=False)
        deliveries.enqueue(s, [row("incident:INC-1:resolve"), (*row("incident:INC-2:open")[:3], "INC-2", "incident:INC-2",
                                                                 {"key": "incident:INC-2:open"}, "pending")], now=NOW + 1)
        other = deliveries.claim(s, "a", now=NOW + 2, lease_s=60, channels=("am",))
        assert other is not None and other["notice_key"] == "incident:INC-2:open", "another thread is not held up"
        assert deliveries.claim(s, "a", now=NOW + 2, lease_s=60, channels=("am",)) is None, "the resolve waits for its open"
        first = deliveries.claim(s, "a", now=NOW + 600, lease_s=60, channels=("am",))
        assert first is not None and first["notice_key"] == "incident:INC-1:open"
        deliveries.record(s, first["id"], "a", ok=True, status=200, response="", now=NOW + 600, next_ts=None, dead=False)
        then = deliveries.claim(s, "a", now=NOW + 601, lease_s=60, channels=("am",))
        assert then is not None and then["notice_key"] == "incident:INC-1:resolve"
