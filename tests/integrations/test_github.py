"""The GitHub adapter alone: plain values in (repository, issue, marker, body, token, API URL), a plain result out,
with the real PyGithub client against the local GitHub stand-in. Building and remembering is tests/services."""

from __future__ import annotations

import secrets

import pytest

from integrations.github import GitHubError, publish_body
from probes.errors import ConfigError
from tests.fakes.github_api import fake_github

TOKEN = "ghp_" + secrets.token_hex(18)
MARK = "<!-- pathwatch:incident:INC-1 -->"


def test_a_marked_comment_is_created_then_edited_then_left_alone() -> None:
    with fake_github(TOKEN) as gh:
        gh.add_issue("acme/backend", 7)
        first = publish_body("acme/backend", "t", MARK + "\nv1", MARK, 7, token=TOKEN, api_url=gh.api_url)
        second = publish_body("acme/backend", "t", MARK + "\nv2", MARK, 7, token=TOKEN, api_url=gh.api_url)
        third = publish_body("acme/backend", "t", MARK + "\nv2", MARK, 7, token=TOKEN, api_url=gh.api_url)
        comments = gh.comments_on("acme/backend", 7)
    assert (first.action, second.action, third.action) == ("created_comment", "updated_comment", "unchanged")
    assert [c["body"] for c in comments] == [MARK + "\nv2"]
    assert first.issue == 7 and first.url.startswith("https://github.example/acme/backend/issues/7#issuecomment-")


def test_without_an_issue_an_issue_is_opened_and_its_body_kept_current() -> None:
    with fake_github(TOKEN) as gh:
        opened = publish_body("acme/backend", "[Pathwatch] INC-1", MARK + "\nv1", MARK, token=TOKEN, api_url=gh.api_url)
        again = publish_body("acme/backend", "[Pathwatch] INC-1", MARK + "\nv2", MARK, opened.issue, token=TOKEN, api_url=gh.api_url)
    assert (opened.action, again.action) == ("created_issue", "updated_issue") and again.issue == opened.issue


def test_errors_name_what_to_fix_and_never_the_token() -> None:
    other = "s3cr3t-" + secrets.token_hex(8)
    with fake_github(TOKEN) as gh:
        gh.echo_token = True  # the server's 401 quotes the Authorization header it got
        with pytest.raises(GitHubError, match=r"rejected the token \(401\)") as err:
            publish_body("acme/backend", "t", "b", MARK, 1, token="ghp_" + secrets.token_hex(18), api_url=gh.api_url, secrets=(other,))
        with pytest.raises(ConfigError, match="OWNER/NAME"):
            publish_body("acme", "t", "b", MARK, 1, token=TOKEN, api_url=gh.api_url)
        with pytest.raises(ConfigError, match="GITHUB_TOKEN"):
            publish_body("acme/backend", "t", "b", MARK, 1, token="", api_url=gh.api_url)
        asked = len(gh.requests)
    assert TOKEN not in str(err.value) and other not in str(err.value)
    assert asked == 1, "a bad repository name or a missing token never reaches GitHub"
