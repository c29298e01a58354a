"""Publish an incident's case file to its GitHub issue: one comment, edited in place (or an issue, opened once).

The store gives the case file and remembers where it went; ``analysis.publish`` renders it; ``integrations.github``
sends it. The token is read at the edge (``services.settings``) unless the caller passes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from analysis import publish
from analysis.report import ReportConfig
from analysis.settings import DashboardSettings, Settings
from integrations import github
from integrations.github import Published
from probes.redact import known_secrets
from services.case_file import case_file
from services.incidents import link_key, remember_publication, remembered_link, remembered_publication
from services.settings import GitHubAccess, github_access
from store.sqlite import Store

__all__ = ["Published", "link_key", "publish_incident", "remembered_link"]


def publish_incident(store: Store, incident_id: str, repo_name: str, issue_number: int | None = None, *, now: float,
                     settings: Settings | None = None, access: GitHubAccess | None = None, secrets: Iterable[str] | None = None,
                     report_config: ReportConfig | None = None, dashboard_url: str | None = None,
                     environ: Mapping[str, str] | None = None) -> Published:
    """Build the incident's case file, render it and publish it; remember where, so a later publish edits the same place.

    Without ``issue_number`` the issue opened before for the same repository is reused, else one is opened. ``access``
    defaults to the token and API URL in the environment (``environ``, default this process's). ``report_config`` and
    ``dashboard_url`` are the older way to pass ``settings``.
    """
    if settings is None:
        settings = Settings(report_config or ReportConfig(), DashboardSettings(public_url=dashboard_url or ""))
    access = access or github_access(environ)
    secrets = (access.token, *(known_secrets(environ) if secrets is None else secrets))
    case = case_file(store, incident_id, now=now, settings=settings, secrets=secrets)
    prev = remembered_publication(store, incident_id)
    if issue_number is None and prev and prev.get("repo") == repo_name:
        issue_number = int(prev["issue"])  # type: ignore[call-overload]
    result = github.publish_body(repo_name, publish.issue_title(case, secrets), publish.incident_body(case, secrets=secrets),
                                 publish.marker(incident_id), issue_number, token=access.token, api_url=access.api_url, secrets=secrets)
    remember_publication(store, incident_id, repo_name, result.issue, result.url)
    return result
