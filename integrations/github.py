"""GitHub: keep one Pathwatch comment per incident current on its tracking issue, or open the issue.

PyGithub against ``GITHUB_API_URL`` (default api.github.com) with ``GITHUB_TOKEN`` from the environment, or
from the file named by ``GITHUB_TOKEN_FILE``; either is stripped of surrounding whitespace (a CRLF secrets file).
The comment is found by a hidden marker and edited in place, so publishing twice never duplicates it.

The token never appears in an error: every message is built by us, and any text quoted from the client
library or the server is redacted with the token (and the environment's other secrets) before it is cut.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from probes.errors import ConfigError, PathwatchError
from probes.redact import clip, known_secrets, printable, strip_secret

TOKEN_ENV = "GITHUB_TOKEN"
TOKEN_FILE_ENV = "GITHUB_TOKEN_FILE"
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


def token_from(environ: Mapping[str, str] | None = None) -> str:
    """The GitHub token, stripped: ``GITHUB_TOKEN``, else the contents of the file named by ``GITHUB_TOKEN_FILE``."""
    env = environ if environ is not None else os.environ
    token = strip_secret(env.get(TOKEN_ENV))
    if token:
        return token
    path = strip_secret(env.get(TOKEN_FILE_ENV))
    if path:
        try:
            token = strip_secret(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{TOKEN_FILE_ENV}={path!r}: cannot read the token file ({getattr(exc, 'strerror', None) or 'not text'})") from None
        if not token:
            raise ConfigError(f"{TOKEN_FILE_ENV}={path!r}: the token file is empty")
        return token
    raise ConfigError(f"{TOKEN_ENV} is not set: create a token with issues:write on the repository and export it "
                      f"(or name a file holding it in {TOKEN_FILE_ENV})")


def _client(token: str, environ: Mapping[str, str] | None = None) -> Any:
    from github import Auth, Github

    env = environ if environ is not None else os.environ
    base = (strip_secret(env.get(API_ENV)) or DEFAULT_API).rstrip("/")
    return Github(auth=Auth.Token(token), base_url=base, retry=None, timeout=30)


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
        when = (datetime.fromtimestamp(int(reset), UTC).strftime("%H:%M:%S UTC") if reset and reset.isdigit() and len(reset) <= 12
                else f"in {printable(clip(retry_after, 20, secrets))} s" if retry_after else "later")
        if isinstance(exc, RateLimitExceededException) or exc.status == 429 or reset:
            return GitHubError(f"{what}: GitHub rate limit reached ({exc.status}); try again at {when}")
        return GitHubError(f"{what}: forbidden (403); the token lacks permission for issues on this repository")
    if isinstance(exc, GithubException):
        return GitHubError(f"{what}: GitHub answered {exc.status}")
    return GitHubError(f"{what}: cannot reach GitHub ({type(exc).__name__}: {printable(clip(str(exc), 200, secrets))})")


def publish_body(repo_name: str, title: str, body: str, marker: str, issue_number: int | None = None,
                 environ: Mapping[str, str] | None = None) -> Published:
    """With ``issue_number``: create or edit the marked comment there. Without: open an issue with the body."""
    if "/" not in repo_name or repo_name.count("/") != 1:
        raise ConfigError(f"--repo {printable(repo_name)!r}: use OWNER/NAME")
    token = token_from(environ)
    secrets = (token, *known_secrets(environ))

    def said(url: Any) -> str:
        """A URL GitHub sent back: redacted, bounded, on one line (it is stored, printed and shown)."""
        return printable(clip(str(url or ""), 500, secrets))

    try:
        gh = _client(token, environ)
        repo = gh.get_repo(repo_name)
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
        raise _translate(exc, f"publishing to {printable(repo_name)}" + (f"#{issue_number}" if issue_number else ""), secrets) from None


def link_key(incident_id: str) -> str:
    return f"github:{incident_id}"


def publish_incident(store: Any, incident_id: str, repo_name: str, issue_number: int | None, *, now: float,
                     report_config: Any = None, dashboard_url: str = "", environ: Mapping[str, str] | None = None) -> Published:
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
    secrets = (token_from(environ), *known_secrets(environ))
    body = publish.incident_body(inc, five_whys=FiveWhys.from_dict(doc) if doc else None, impact=impact.impact(during, cfg.impact),
                                 verdicts=verdicts, dashboard_url=dashboard_url, generated_at=now, secrets=secrets)
    said = str(inc.get("signature") or inc.get("title") or "golden path incident")
    title = publish.neutralise_mentions(printable(clip(f"[Pathwatch] {incident_id}: {said}", 200, secrets)))
    result = publish_body(repo_name, title, body, publish.marker(incident_id), issue_number, environ)
    kv.put(store, link_key(incident_id), json.dumps({"repo": repo_name, "issue": result.issue, "url": result.url}))
    return result


def remembered_link(store: Any, incident_id: str) -> str | None:
    import json

    from store import kv

    raw = kv.get(store, link_key(incident_id))
    return json.loads(raw).get("url") if raw else None
