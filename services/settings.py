"""What Pathwatch is told from outside, read in one place: the settings file, the GitHub token, the server-log source.

The edge: CLIs and pages call these and pass the answers down, so ``analysis`` never reads the environment or a file
and ``integrations`` take plain values (a token, a URL, a path).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from probes.errors import ConfigError
from probes.redact import known_secrets, strip_secret

if TYPE_CHECKING:  # the analysis (pandas) is imported only by what reads the settings file: the cron path stays lean
    from analysis.settings import Settings

SETTINGS_ENV = "PATHWATCH_SETTINGS"
GITHUB_TOKEN_ENV = "GITHUB_TOKEN"
GITHUB_TOKEN_FILE_ENV = "GITHUB_TOKEN_FILE"
GITHUB_API_ENV = "GITHUB_API_URL"
DEFAULT_GITHUB_API = "https://api.github.com"
SERVER_LOG_ENV = "PATHWATCH_SERVER_LOG"
GCP_PROJECT_ENV = "PATHWATCH_GCP_PROJECT"


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the file named by PATHWATCH_SETTINGS, or the defaults; errors name the file and the field."""
    from analysis.settings import Settings, parse_settings
    from probes.config import read_toml

    path = _env(environ).get(SETTINGS_ENV)
    return parse_settings(read_toml(path, SETTINGS_ENV), source=path) if path else Settings()


def secrets(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Every secret this process was given (masked wherever outside text is shown, stored or sent)."""
    return known_secrets(environ)


@dataclass(frozen=True)
class GitHubAccess:
    """Where and as whom to reach GitHub. ``repr`` never shows the token."""

    token: str
    api_url: str = DEFAULT_GITHUB_API

    def __repr__(self) -> str:
        return f"GitHubAccess(token=<hidden>, api_url={self.api_url!r})"


def github_token(environ: Mapping[str, str] | None = None) -> str:
    """The GitHub token, stripped: ``GITHUB_TOKEN``, else the contents of the file named by ``GITHUB_TOKEN_FILE``."""
    env = _env(environ)
    token = strip_secret(env.get(GITHUB_TOKEN_ENV))
    if token:
        return token
    path = strip_secret(env.get(GITHUB_TOKEN_FILE_ENV))
    if path:
        try:
            token = strip_secret(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{GITHUB_TOKEN_FILE_ENV}={path!r}: cannot read the token file ({getattr(exc, 'strerror', None) or 'not text'})") from None
        if not token:
            raise ConfigError(f"{GITHUB_TOKEN_FILE_ENV}={path!r}: the token file is empty")
        return token
    raise ConfigError(f"{GITHUB_TOKEN_ENV} is not set: create a token with issues:write on the repository and export it "
                      f"(or name a file holding it in {GITHUB_TOKEN_FILE_ENV})")


def github_access(environ: Mapping[str, str] | None = None) -> GitHubAccess:
    """The token and the API URL (``GITHUB_API_URL``, default api.github.com) from the environment."""
    env = _env(environ)
    return GitHubAccess(github_token(env), (strip_secret(env.get(GITHUB_API_ENV)) or DEFAULT_GITHUB_API).rstrip("/"))


@dataclass(frozen=True)
class Source:
    """Where the backend's logs come from: a local JSON-lines file, or a Cloud Logging project."""

    log_file: str | None = None
    project: str | None = None

    @property
    def name(self) -> str:
        return f"file:{self.log_file}" if self.log_file else f"cloud:{self.project}"


def log_source(project: str | None = None, log_file: str | None = None, environ: Mapping[str, str] | None = None) -> Source | None:
    """The server-log source: ``log_file`` or ``PATHWATCH_SERVER_LOG``, else ``project`` or ``PATHWATCH_GCP_PROJECT``; None when neither."""
    env = _env(environ)
    if log_file or env.get(SERVER_LOG_ENV):
        return Source(log_file=log_file or env.get(SERVER_LOG_ENV))
    proj = project or env.get(GCP_PROJECT_ENV)
    return Source(project=proj) if proj else None


def gcp_project(arg: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The Google Cloud project: ``--project``, else ``PATHWATCH_GCP_PROJECT``."""
    project = arg or _env(environ).get(GCP_PROJECT_ENV)
    if not project:
        raise ConfigError(f"no Google Cloud project: pass --project or set {GCP_PROJECT_ENV}")
    return project
