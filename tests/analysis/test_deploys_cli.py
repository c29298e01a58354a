"""``python -m analysis deploys add|list``: deploys the probes cannot see, entered by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from store import incidents as store_incidents
from store.sqlite import open_store

AT = datetime(2026, 11, 25, 10, tzinfo=UTC).timestamp()
RUN = [sys.executable, "-m", "analysis", "deploys"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RUN, *args], capture_output=True, text=True, timeout=60)


def test_a_deploy_entered_by_hand_is_listed_and_becomes_a_marker(db_path: Path) -> None:
    added = _cli("add", "--revision", "netra-backend-staging-00300-zz", "--at", "2026-11-25T10:00:00Z", "--note", "orchestrator guard",
                 "--db", str(db_path))
    assert added.returncode == 0, added.stderr
    assert "netra-backend-staging-00300-zz" in added.stdout
    listed = json.loads(_cli("list", "--json", "--db", str(db_path)).stdout)
    assert listed == [{"revision": "netra-backend-staging-00300-zz", "at_ts": AT, "source": "manual", "note": "orchestrator guard"}]
    with open_store(db_path) as s:
        assert store_incidents.list_deploys(s) == [("netra-backend-staging-00300-zz", AT)]


def test_bad_input_is_named(db_path: Path) -> None:
    bad_time = _cli("add", "--revision", "r1", "--at", "yesterday", "--db", str(db_path))
    assert bad_time.returncode == 2 and "--at 'yesterday'" in bad_time.stderr and "ISO 8601" in bad_time.stderr
    blank = _cli("add", "--revision", "  ", "--db", str(db_path))
    assert blank.returncode == 2 and "--revision" in blank.stderr
