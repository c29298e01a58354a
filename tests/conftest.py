"""Shared fixtures: a real sandbox server on 127.0.0.1, a real SQLite file, a test secret."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from probes.config import Target, Timeouts, target_from_url
from sandbox.logs import CloudLog
from sandbox.scenarios import get_scenario
from sandbox.server import Sandbox
from sandbox.stories import Story, single

#: A fresh signing secret per test session; tests grep outputs for it. Parallel workers (pytest-xdist) inherit the
#: controller's through the environment, so the controller's final sweep looks for the one every worker used.
TEST_SECRET = os.environ.setdefault("PATHWATCH_TEST_SESSION_SECRET", "pw-test-" + secrets.token_hex(24))
os.environ["PATHWATCH_JWT_SECRET"] = TEST_SECRET

# Under load (CI, parallel workers) one example can take longer than hypothesis's default 200 ms deadline;
# the properties are about results, not speed (speed is for bench/).
hypothesis_settings.register_profile("pathwatch", deadline=None)
hypothesis_settings.load_profile("pathwatch")


def poll(condition: Callable[[], Any], deadline_s: float = 10.0, every_s: float = 0.02) -> Any:
    """Return the first truthy value of ``condition()``; fail if the deadline passes first."""
    end = time.monotonic() + deadline_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"condition not met within {deadline_s} s")
        time.sleep(every_s)


class _MemoryLog(io.StringIO):
    """A log stream tests can read while the server writes."""

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.getvalue().splitlines() if line.strip()]


@dataclass
class RunningSandbox:
    sandbox: Sandbox
    loop: asyncio.AbstractEventLoop
    log: _MemoryLog
    port: int

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    def target(self, total_s: float = 10.0, **changes: Any) -> Target:
        t = target_from_url(self.url, name="sandbox", health_url=self.health_url)
        return replace(t, timeouts=Timeouts(total=total_s, phases=changes.pop("phases", {})), **changes)

    def get_json(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
            return json.loads(resp.read())

    def truth(self, session: str) -> list[dict[str, Any]]:
        return self.get_json(f"/truth?session={session}")["events"]


@contextmanager
def running_sandbox(
    scenario: str = "healthy",
    *,
    overrides: dict[str, Any] | None = None,
    story: Story | None = None,
    time_scale: float = 0.05,
    story_scale: float | None = None,
    seed: int = 0,
    secret: str = TEST_SECRET,
    dialect: str = "netra",
    demo_mode: bool = False,
    tls: Any = None,
) -> Iterator[RunningSandbox]:
    """Start the real sandbox server on a free loopback port in a background thread (over TLS with ``tls``, a server
    ``ssl.SSLContext``)."""
    log = _MemoryLog()
    story = story or single(get_scenario(scenario, overrides))
    loop = asyncio.new_event_loop()
    sandbox = Sandbox(story, secret=secret, log=CloudLog(log, story.service_name), time_scale=time_scale, story_scale=story_scale, seed=seed,
                      dialect=dialect, demo_mode=demo_mode)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(sandbox.start("127.0.0.1", 0, **({"ssl": tls} if tls is not None else {})))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10), "sandbox did not start"
    try:
        yield RunningSandbox(sandbox, loop, log, sandbox.port)
    finally:
        asyncio.run_coroutine_threadsafe(sandbox.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.fixture
def sandbox_factory():  # type: ignore[no-untyped-def]
    return running_sandbox


@pytest.fixture
def healthy_sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox("healthy") as sb:
        yield sb


def copy_store(src: Path, dst: Path) -> Path:
    """A private copy of a store (SQLite's online backup), so one test's edits never reach another."""
    import sqlite3

    with sqlite3.connect(src) as source, sqlite3.connect(dst) as target:
        source.backup(target)
    return dst


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "pathwatch.db"


@pytest.fixture(scope="session")
def story_log(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """Where the story's sandbox wrote its own log (filled by ``story_runs``)."""
    return tmp_path_factory.mktemp("story-log") / "sandbox.log"


@pytest.fixture(scope="session")
def story_runs(story_log):  # type: ignore[no-untyped-def]
    """Real probe runs of the sandbox's golden-path-incident story from three regions (about 12 s, once per session)."""
    from tests.fixtures.record import record_incident_story

    return record_incident_story(story_scale=0.005, every_s=0.1, regions=("us-central1", "europe-west1", "asia-east1"), log_path=story_log)


@pytest.fixture(scope="session")
def story_db(story_runs, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """A store holding the story's runs and the incidents detected on them."""
    from analysis import incidents
    from analysis.frame import from_runs
    from analysis.report import iso
    from store import incidents as store_incidents
    from store.sqlite import open_store

    path = tmp_path_factory.mktemp("story") / "pathwatch.db"
    with open_store(path) as s:
        s.save_runs(story_runs)
        found = incidents.detect(from_runs(story_runs))
        store_incidents.upsert_incidents(s, [i.to_dict() for i in found], iso(time.time()) or "")
    return path


# ---------------------------------------------------------------- secrets sweep

#: A compact JWT (header.payload.), GitHub tokens of every kind.
JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.")
GITHUB_TOKEN_RE = re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})")
#: Files tests write on purpose to hand a secret to the code under test end in this suffix.
SECRET_INPUT_SUFFIX = ".secret"


def leaks(text: str, extra: tuple[str, ...] = ()) -> list[str]:
    """What in ``text`` looks like a secret: the signing secret, a JWT, a GitHub token, or any of ``extra``."""
    found = [f"signing secret at {i}" for i in [text.find(TEST_SECRET)] if i >= 0]
    found += [f"JWT {m.group()[:16]}... at {m.start()}" for m in JWT_RE.finditer(text)]
    found += [f"GitHub token {m.group()[:8]}... at {m.start()}" for m in GITHUB_TOKEN_RE.finditer(text)]
    found += [f"secret {s[:6]}... at {text.find(s)}" for s in extra if s and s in text]
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After the whole suite: no file any test left behind (stores, logs, prom files, screenshots) holds a secret.

    Under pytest-xdist only the controller sweeps: its base temp holds every worker's."""
    if hasattr(session.config, "workerinput"):
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    roots = [factory.getbasetemp()] if factory is not None else []
    roots.append(Path(session.config.rootpath) / "test-output")
    bad = []
    for root in roots:
        for path in Path(root).rglob("*") if Path(root).exists() else ():
            if path.is_file() and not path.name.endswith(SECRET_INPUT_SUFFIX):
                text = path.read_bytes().decode("utf-8", "replace")
                bad += [f"{path}: {what}" for what in leaks(text)]
    if bad:
        session.config.get_terminal_writer().line("secrets sweep: " + "; ".join(bad[:20]), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
