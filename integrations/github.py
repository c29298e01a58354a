"""GitHub: keep one Pathwatch comment per incident current on its tracking issue, or open the issue.

PyGithub against ``GITHUB_API_URL`` (default api.github.com) with ``GITHUB_TOKEN`` from the environment.
The comment is found by a hidden marker and edited in place, so publishing twice never duplicates it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from probes.errors import ConfigError, PathwatchError

TOKEN_ENV = "GITHUB_TOKEN"
API_ENV = "GITHUB_API_URL"
DEFAULT_API = "https://api.github.com"


class GitHubError(PathwatchError):
    """GitHub refused or failed; the message says what to fix."""


@dataclass(frozen=True)
class Published:
    repo: str
    issue: int
    url: str
    action: str  # "created_issue", "updated_issue", "created_comment", "updated_comment", "unchanged"


def _client(environ: dict[str, str] | None = None) -> Any:
    from github import Auth, Github

    env = environ if environ is not None else os.environ
    token = env.get(TOKEN_ENV)
    if not token:
        raise ConfigError(f"{TOKEN_ENV} is not set: create a token with issues:write on the repository and export it")
    base = (env.get(API_ENV) or DEFAULT_API).rstrip("/")
    return Github(auth=Auth.Token(token), base_url=base, retry=None, timeout=30)


def _translate(exc: Exception, what: str) -> GitHubError:
    from github import BadCredentialsException, GithubException, RateLimitExceededException, UnknownObjectException

    if isinstance(exc, BadCredentialsException):
        return GitHubError(f"{what}: GitHub rejected the token (401); check {TOKEN_ENV}")
    if isinstance(exc, UnknownObjectException):
        return GitHubError(f"{what}: not found (404); check the repository name, the issue number and that the token can see them")
    if isinstance(exc, RateLimitExceededException) or (isinstance(exc, GithubException) and exc.status in (403, 429)):
        headers = {k.lower(): v for k, v in (getattr(exc, "headers", None) or {}).items()}
        reset = headers.get("x-ratelimit-reset")
        retry_after = headers.get("retry-after")
        when = (datetime.fromtimestamp(int(reset), UTC).strftime("%H:%M:%S UTC") if reset and reset.isdigit()
                else f"in {retry_after} s" if retry_after else "later")
        if isinstance(exc, RateLimitExceededException) or exc.status == 429 or reset:
            return GitHubError(f"{what}: GitHub rate limit reached ({exc.status}); try again at {when}")
        return GitHubError(f"{what}: forbidden (403); the token lacks permission for issues on this repository")
    if isinstance(exc, GithubException):
        return GitHubError(f"{what}: GitHub answered {exc.status}")
    return GitHubError(f"{what}: cannot reach GitHub ({type(exc).__name__}: {str(exc)[:200]})")


def publish_body(repo_name: str, title: str, body: str, marker: str, issue_number: int | None = None,
            environ: dict[str, str] | None = None) -> Published:
    """With ``issue_number``: create or edit the marked comment there. Without: open an issue with the body."""
    if "/" not in repo_name or repo_name.count("/") != 1:
        raise ConfigError(f"--repo {repo_name!r}: use OWNER/NAME")
    gh = _client(environ)
    try:
        repo = gh.get_repo(repo_name)
        if issue_number is None:
            issue = repo.create_issue(title=title, body=body)
            return Published(repo_name, issue.number, issue.html_url, "created_issue")
        issue = repo.get_issue(issue_number)
        if issue.body and marker in issue.body:  # an issue Pathwatch opened: keep its body current
            if issue.body == body:
                return Published(repo_name, issue.number, issue.html_url, "unchanged")
            issue.edit(body=body)
            return Published(repo_name, issue.number, issue.html_url, "updated_issue")
        for comment in issue.get_comments():
            if marker in (comment.body or ""):
                if comment.body == body:
                    return Published(repo_name, issue.number, comment.html_url, "unchanged")
                comment.edit(body)
                return Published(repo_name, issue.number, comment.html_url, "updated_comment")
        comment = issue.create_comment(body)
        return Published(repo_name, issue.number, comment.html_url, "created_comment")
    except PathwatchError:
        raise
    except Exception as exc:  # noqa: BLE001 - translated once, here
        raise _translate(exc, f"publishing to {repo_name}" + (f"#{issue_number}" if issue_number else "")) from exc


def link_key(incident_id: str) -> str:
    return f"github:{incident_id}"


def publish_incident(store: Any, incident_id: str, repo_name: str, issue_number: int | None, *, now: float,
                     report_config: Any = None, dashboard_url: str = "", environ: dict[str, str] | None = None) -> Published:
    """Build the incident's body from the store and publish it; remember where (so a later publish edits the same place)."""
    import json

    from analysis import deploys, impact, publish
    from analysis.five_whys import FiveWhys
    from analysis.frame import COLUMNS, runs_frame
    from analysis.report import ReportConfig
    from store import incidents as store_incidents
    from store import kv

    cfg = report_config or ReportConfig()
    inc = store_incidents.get_incident(store, incident_id)
    if inc is None:
        raise ConfigError(f"--incident {incident_id!r}: no such incident (run `python -m analysis incidents detect`)")
    remembered = kv.get(store, link_key(incident_id))
    if issue_number is None and remembered:
        prev = json.loads(remembered)
        if prev.get("repo") == repo_name:
            issue_number = int(prev["issue"])
    end = inc.get("end_ts") if inc.get("end_ts") is not None else now
    df = runs_frame(store.run_rows(COLUMNS, since_ts=float(inc["start_ts"]) - 3600, until_ts=float(end) + 3600))
    during = df[(df["started_ts"] >= inc["start_ts"]) & (df["started_ts"] <= end)]
    if inc.get("targets"):
        during = during[during["target"].isin(inc["targets"])]
    doc = store_incidents.load_five_whys(store, incident_id)
    verdicts = [{"from_revision": v.from_revision, "to_revision": v.to_revision, "verdict": v.verdict, "reason": v.reason}
                for v in deploys.fix_validations(df, cfg.fix) if v.verdict != "insufficient_data"]
    body = publish.incident_body(inc, five_whys=FiveWhys.from_dict(doc) if doc else None, impact=impact.impact(during, cfg.impact),
                                 verdicts=verdicts, dashboard_url=dashboard_url, generated_at=now)
    title = f"[Pathwatch] {incident_id}: {str(inc.get('signature') or inc.get('title') or 'golden path incident')[:120]}"
    result = publish_body(repo_name, title, body, publish.marker(incident_id), issue_number, environ)
    kv.put(store, link_key(incident_id), json.dumps({"repo": repo_name, "issue": result.issue, "url": result.url}))
    return result


def remembered_link(store: Any, incident_id: str) -> str | None:
    import json

    from store import kv

    raw = kv.get(store, link_key(incident_id))
    return json.loads(raw).get("url") if raw else None
