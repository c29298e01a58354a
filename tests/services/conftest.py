"""The recorded incident story (tests/fixtures/incident_runs.jsonl) in a real SQLite store, its incidents detected."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from analysis import incidents
from analysis.frame import from_runs
from services.incidents import save_incidents
from store.sqlite import Store, open_store
from tests.fixtures.record import load_fixture


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    runs = load_fixture()
    with open_store(tmp_path / "case.db") as s:
        s.save_runs(runs)
        save_incidents(s, incidents.detect(from_runs(runs)), now=time.time())
        yield s
