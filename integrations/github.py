"""GitHub: keep one marked comment current on an issue, or open the issue. A thin adapter over PyGithub.

Plain values in (the repository, the issue number, the marker, the body, the token and the API URL), a plain
:class:`Published` out. Reading the token, building the body and remembering where it went belong to
``services.publish``; this module reads no environment, no store and no analysis.

The comment is found by a hidden marker and edited in place, so publishing twice never duplicates it. The token
never appears in an error: every message is built here, and any text quoted from the client library or the server
is redacted with the token (and the secrets passed in) before it is cut.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from probes.errors import ConfigError, PathwatchError
from probes.redact import clip, printable
from probes.timeutil import clock_utc

#: Named in messages (where the token comes from is the settings' business, but people need to know what to fix).
TOKEN_ENV = "GITHUB_TOKEN"
DEFAULT_API = "https://api.github.com"


class GitHubError(PathwatchError):
    """GitHub refused or failed; the message says what to fix."""


@dataclass(frozen=True)
class Published:
    repo: str
    issue: int
    url: str
    action: str  # "created_issue", "updated_issue", "created_comment", "updated_comment", "unchanged"


def client(token: str, api_url: str = DEFAULT_API) -> Any:
    """A PyGithub client: no retries (one message per failure), a 30 s timeout."""
    from github import Auth, Github

    return Github(auth=Auth.Token(token), base_url=(api_url or DEFAULT_API).rstrip("/"), retry=None, timeout=30)


def _translate(exc: Exception, what: str, secrets: tuple[str, ...] = ()) -> GitHubError:
    """One message per failure, naming what to fix; whatever it quotes is redacted with ``secrets`` before it is cut."""
    from github import BadCredentialsException, GithubException, RateLimitExceededException, UnknownObjectException

    if isinstance(exc, BadCredentialsException) or (isinstance(exc, GithubException) and exc.status == 401):  # any wording of a 401
        return GitHubError(f"{what}: GitHub rejected the token (401); check {TOKEN_ENV}")
    if isinstance(exc, UnknownObjectException):
        return GitHubError(f"{what}: not found (404); check the repository name, the issue number and that the token can see them")
    if isinstance(exc, RateLimitExceededException) or (isinstance(exc, GithubException) and exc.status in (403, 429)):
        headers = {str(k).lower(): str(v) for k, v in (getattr(exc, "headers", None) or {}).items()}
        reset = headers.get("x-ratelimit-reset")
        retry_after = headers.get("retry-after")
        when = (clock_utc(int(reset)) if reset and reset.isdigit() and len(reset) <= 12
                else f"in {printable(clip(retry_after, 20, secrets))} s" if retry_after else "later")
        if isinstance(exc, RateLimitExceededException) or exc.status == 429 or reset:
            return GitHubError(f"{what}: GitHub rate limit reached ({exc.status}); try again at {when}")
        return GitHubError(f"{what}: forbidden (403); the token lacks permission for issues on this repository")
    if isinstance(exc, GithubException):
        return GitHubError(f"{what}: GitHub answered {exc.status}")
    return GitHubError(f"{what}: cannot reach GitHub ({type(exc).__name__}: {printable(clip(str(exc), 200, secrets))})")


def publish_body(repo_name: str, title: str, body: str, marker: str, issue_number: int | None = None, *, token: str,
                 api_url: str = DEFAULT_API, secrets: Iterable[str] = ()) -> Published:
    """With ``issue_number``: create or edit the comment holding ``marker`` there (or the issue's own body when it holds
    the marker). Without: open an issue with ``title`` and ``body``. ``secrets`` (and the token) are masked in errors."""
    if "/" not in repo_name or repo_name.count("/") != 1:
        raise ConfigError(f"--repo {printable(repo_name)!r}: use OWNER/NAME")
    if not token:
        raise ConfigError(f"no GitHub token: set {TOKEN_ENV}")
    hidden = (token, *secrets)

    def said(url: Any) -> str:
        """A URL GitHub sent back: redacted, bounded, on one line (it is stored, printed and shown)."""
        return printable(clip(str(url or ""), 500, hidden))

    try:
        repo = client(token, api_url).get_repo(repo_name)
        if issue_number is None:
            issue = repo.create_issue(title=title, body=body)
            return Published(repo_name, issue.number, said(issue.html_url), "created_issue")
        issue = repo.get_issue(issue_number)
        if issue.body and marker in issue.body:  # an issue Pathwatch opened: keep its body current
            if issue.body == body:
                return Published(repo_name, issue.number, said(issue.html_url), "unchanged")
            issue.edit(body=body)
            return Published(repo_name, issue.number, said(issue.html_url), "updated_issue")
        for comment in issue.get_comments():
            if marker in (comment.body or ""):
                if comment.body == body:
                    return Published(repo_name, issue.number, said(comment.html_url), "unchanged")
                comment.edit(body)
                return Published(repo_name, issue.number, said(comment.html_url), "updated_comment")
        comment = issue.create_comment(body)
        return Published(repo_name, issue.number, said(comment.html_url), "created_comment")
    except PathwatchError:
        raise
    except Exception as exc:  # noqa: BLE001 - translated once, here
        raise _translate(exc, f"publishing to {printable(repo_name)}" + (f"#{issue_number}" if issue_number else ""), hidden) from None
