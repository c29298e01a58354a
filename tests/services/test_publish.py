"""``services.publish``: an incident's case file from a real store, published with the real PyGithub client against the
local GitHub stand-in (and through ``python -m analysis publish``)."""

from __future__ import annotations

import secrets
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis import five_whys
from integrations.github import GitHubError
from probes.errors import ConfigError
from services.publish import publish_incident
from store import incidents as store_incidents
from store.sqlite import open_store
from tests.conftest import TEST_SECRET, copy_store
from tests.fakes.github_api import fake_github

TOKEN = "ghp_" + secrets.token_hex(18)
HOSTILE = '<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>'


@pytest.fixture
def db(story_db: Path, tmp_path: Path) -> Path:
    return copy_store(story_db, tmp_path / "copy.db")


def _incident(db: Path) -> str:
    with open_store(db) as s:
        return store_incidents.list_incidents(s)[0]["id"]


def _env(fake) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": fake.api_url}


def test_comment_is_created_once_then_edited_in_place(db: Path) -> None:
    inc = _incident(db)
    with fake_github(TOKEN) as gh, open_store(db) as s:
        gh.add_issue("acme/backend", 7)
        first = publish_incident(s, inc, "acme/backend", 7, now=time.time(), environ=_env(gh))
        second = publish_incident(s, inc, "acme/backend", 7, now=time.time() + 60, environ=_env(gh))
        comments = gh.comments_on("acme/backend", 7)
    assert first.action == "created_comment" and second.action == "updated_comment"
    assert len(comments) == 1, "republishing never posts a duplicate"
    body = comments[0]["body"]
    assert f"pathwatch:incident:{inc}" in body
    assert "1011 main mode error" in body and "failure\\_mode\\_changed" in body, "the stall 'fix' verdict, Markdown-escaped"
    assert "revenue at risk" in body and "monthly revenue" in body, "impact figures come with their formulas"
    assert [m for m, p, _ in gh.requests if m == "PATCH" and "/comments/" in p], "the second publish edits the comment"


def test_without_an_issue_number_an_issue_is_opened_and_remembered(db: Path) -> None:
    inc = _incident(db)
    with fake_github(TOKEN) as gh, open_store(db) as s:
        created = publish_incident(s, inc, "acme/backend", None, now=time.time(), environ=_env(gh))
        again = publish_incident(s, inc, "acme/backend", None, now=time.time() + 120, environ=_env(gh))
        issues = [k for k in gh.issues if k[0] == "acme/backend"]
    assert created.action == "created_issue" and again.action == "updated_issue"
    assert len(issues) == 1 and again.issue == created.issue


def test_five_whys_and_hostile_text_go_in_escaped(db: Path) -> None:
    inc = _incident(db)
    fw = five_whys.FiveWhys(inc, [five_whys.Why("Why no answer?", HOSTILE, [five_whys.Evidence("link", "javascript:alert(1)")])],
                            root_cause=HOSTILE, countermeasures=[five_whys.Countermeasure("Guard the orchestrator", "alice", "2026-12-01")])
    with fake_github(TOKEN) as gh, open_store(db) as s:
        store_incidents.save_five_whys(s, inc, fw.to_dict(), "alice", "2026-11-25T00:00:00Z", "test")
        gh.add_issue("acme/backend", 3)
        publish_incident(s, inc, "acme/backend", 3, now=time.time(), environ=_env(gh))
        body = gh.comments_on("acme/backend", 3)[0]["body"]
    assert "<script>" not in body and "<img" not in body and "](javascript:" not in body
    assert "Guard the orchestrator" in body and "alice" in body


@pytest.mark.parametrize(("setup", "expected"), [
    ("bad_token", "rejected the token (401)"),
    ("no_repo", "not found (404)"),
    ("no_issue", "not found (404)"),
    ("rate_limited", "rate limit reached"),
])
def test_clear_errors(db: Path, setup: str, expected: str) -> None:
    inc = _incident(db)
    with fake_github(TOKEN) as gh, open_store(db) as s:
        env = _env(gh)
        repo, issue = "acme/backend", 1
        gh.add_issue("acme/backend", 1)
        if setup == "bad_token":
            env["GITHUB_TOKEN"] = "ghp_wrong"
        elif setup == "no_repo":
            repo = "acme/nothing"
        elif setup == "no_issue":
            issue = 99
        else:
            gh.rate_limited = True
        with pytest.raises(GitHubError, match=expected.replace("(", r"\(").replace(")", r"\)")) as err:
            publish_incident(s, inc, repo, issue, now=time.time(), environ=env)
    assert TOKEN not in str(err.value)
    if setup == "rate_limited":
        assert "UTC" in str(err.value), "the reset time is named"


def test_missing_token_is_a_config_error(db: Path) -> None:
    with open_store(db) as s, pytest.raises(ConfigError, match="GITHUB_TOKEN"):
        publish_incident(s, _incident(db), "acme/backend", 1, now=time.time(), environ={})


def test_publish_cli_and_no_secret_in_anything_sent(db: Path) -> None:
    inc = _incident(db)
    with fake_github(TOKEN) as gh:
        gh.add_issue("acme/backend", 5)
        env = {"PATH": "/usr/bin:/bin", "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": gh.api_url, "PATHWATCH_JWT_SECRET": TEST_SECRET}
        p = subprocess.run([sys.executable, "-m", "analysis", "publish", "--incident", inc, "--repo", "acme/backend", "--issue", "5", "--db", str(db)],
                           capture_output=True, text=True, env=env, timeout=60, cwd=Path(__file__).resolve().parents[2])
        bad = subprocess.run([sys.executable, "-m", "analysis", "publish", "--incident", inc, "--repo", "acme/none", "--db", str(db)],
                             capture_output=True, text=True, env=env, timeout=60, cwd=Path(__file__).resolve().parents[2])
        sent = "\n".join(gh.bodies())
    assert p.returncode == 0, p.stderr
    assert "created comment: https://github.example/acme/backend/issues/5#issuecomment-" in p.stdout
    assert bad.returncode == 3 and "not found (404)" in bad.stderr
    for secret in (TOKEN, TEST_SECRET):
        assert secret not in sent and secret not in p.stdout + p.stderr + bad.stdout + bad.stderr
    with sqlite3.connect(db) as conn:
        dump = "\n".join(conn.iterdump())
    assert TOKEN not in dump and TEST_SECRET not in dump
