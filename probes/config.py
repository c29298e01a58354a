"""Targets and deadlines, from a TOML file or a bare ``--url``.

Validation happens here, once, and every message names the field that is
wrong, so cron users see ``targets[1].deadlines.welcome: must be a positive
number`` rather than a traceback.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from probes.auth import AUTH_MODES, DEFAULT_SUBJECT, TOKEN_TRANSPORTS, AuthConfig
from probes.dialects import AUTO, DIALECT_NAMES
from probes.errors import ConfigError
from probes.phases import PHASES
from probes.protocol import bypasses_auth
from probes.redact import MASK, clip
from probes.timeutil import MAX_DURATION_S, parse_duration  # noqa: F401 - durations live in probes.timeutil; kept importable here

DEFAULT_TIMEOUT_S = 120.0
#: The longest deadline, schedule or token lifetime a setting may ask for: a day. Anything longer is a typo
#: (``timeout_s = 1e12``) that would leave a probe waiting forever.
MAX_SECONDS = 86400.0
DEFAULT_USER_REQUEST = "Probe: summarise the last 3 messages"


@dataclass(frozen=True)
class Timeouts:
    """The whole run's deadline plus optional per-phase deadlines (seconds from the phase's start)."""

    total: float = DEFAULT_TIMEOUT_S
    phases: Mapping[str, float] = field(default_factory=dict)

    def for_phase(self, phase: str | None) -> float | None:
        return self.phases.get(phase) if phase else None


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    health_url: str | None = None
    revision_field: str = "revision"
    environment: str = "staging"
    tags: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    auth: AuthConfig = field(default_factory=AuthConfig)
    timeouts: Timeouts = field(default_factory=Timeouts)
    welcome_any_first: bool = False
    user_request: str = DEFAULT_USER_REQUEST
    insecure_skip_tls_verify: bool = False
    service_name: str | None = None
    #: The dialect the server's frames are read in; ``auto`` reads each frame under the one it matches.
    protocol: str = AUTO
    #: Also try a deliberately wrong token each run; if the server accepts it, the run is ``auth_not_enforced``.
    auth_canary: bool = False
    #: Send the backend's own E2E-test headers (X-Test-*). They switch the real backend's auth bypass on.
    backend_test_headers: bool = False
    #: The W3C ``tracestate`` sent beside ``traceparent`` (``[otel] tracestate``); None sends none.
    tracestate: str | None = None

    @property
    def secure(self) -> bool:
        return self.url.startswith("wss://")

    @property
    def public_url(self) -> str:
        return strip_credentials(self.url)


def strip_credentials(url: str) -> str:
    """The URL without user info or query string (where tokens hide)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def target_from_url(url: str, *, name: str | None = None, health_url: str | None = None, timeout: float | None = None) -> Target:
    _check_url(url, "--url")
    if health_url is not None:
        _check_url(health_url, "--health-url", schemes=("http://", "https://"))
    t = Target(name=name or (urlsplit(url).hostname or "target"), url=url, health_url=health_url)
    if timeout is not None:
        t = replace(t, timeouts=replace(t.timeouts, total=_positive(timeout, "--timeout")))
    return t


def read_toml(path: str | Path, what: str = "config") -> dict[str, Any]:
    """A TOML file as a dict, with errors that name the file."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what} {str(path)!r}: cannot read ({exc.strerror})") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {str(path)!r}: not valid TOML ({exc})") from None


def load_config(path: str | Path) -> list[Target]:
    return parse_config(read_toml(path), source=str(path))


def load_otel(path: str | Path) -> OtelConfig:
    """The config file's ``[otel]`` table (the targets are read by :func:`load_config`)."""
    return parse_otel(read_toml(path))


def parse_config(data: Mapping[str, Any], source: str = "config") -> list[Target]:
    unknown = set(data) - {"defaults", "targets", "otel"}
    if unknown:
        raise ConfigError(f"{source}: unknown top-level key(s) {sorted(unknown)}; expected 'defaults', 'targets' and 'otel'")
    otel = parse_otel(data)
    defaults = _table(data.get("defaults", {}), "defaults")
    targets = data.get("targets")
    if not isinstance(targets, list) or not targets:
        raise ConfigError(f"{source}: 'targets' must be a non-empty array of tables ([[targets]])")
    out = []
    for i, t in enumerate(targets):
        merged = {**defaults, **_table(t, f"targets[{i}]")}
        _opt_str(merged.get("service_name"), f"targets[{i}].service_name")
        out.append(replace(_parse_target(merged, f"targets[{i}]", defaults), tracestate=otel.tracestate))
    names = [t.name for t in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{source}: target names must be unique; repeated: {dupes}")
    return out


_TARGET_KEYS = {
    "name", "url", "health_url", "revision_field", "environment", "tags", "headers", "auth",
    "timeout_s", "deadlines", "welcome", "user_request", "insecure_skip_tls_verify", "service_name",
    "protocol", "auth_canary", "backend_test_headers",
}


def _parse_target(t: dict[str, Any], where: str, defaults: Mapping[str, Any]) -> Target:
    unknown = set(t) - _TARGET_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(_TARGET_KEYS)}")
    url = t.get("url")
    _check_url(url, f"{where}.url")
    name = _str(t.get("name") or urlsplit(url).hostname, f"{where}.name")
    deadlines = {**_table(defaults.get("deadlines", {}), "defaults.deadlines"), **_table(t.get("deadlines", {}), f"{where}.deadlines")}
    for phase, value in deadlines.items():
        if phase not in PHASES:
            raise ConfigError(f"{where}.deadlines.{phase}: not a phase; phases are {list(PHASES)}")
        deadlines[phase] = _positive(value, f"{where}.deadlines.{phase}")
    welcome = t.get("welcome", "connection_established")
    if welcome not in ("connection_established", "any"):
        raise ConfigError(f"{where}.welcome: must be 'connection_established' or 'any'")
    health = t.get("health_url")
    if health is not None:
        _check_url(health, f"{where}.health_url", schemes=("http://", "https://"))
    protocol = t.get("protocol", AUTO)
    if protocol not in DIALECT_NAMES:
        raise ConfigError(f"{where}.protocol: must be one of {list(DIALECT_NAMES)}, got {protocol!r}")
    auth = _parse_auth({**_table(defaults.get("auth", {}), "defaults.auth"), **_table(t.get("auth", {}), f"{where}.auth")}, f"{where}.auth")
    headers = _str_map(t.get("headers", {}), f"{where}.headers")
    for header in headers:
        if bypasses_auth(header):
            raise ConfigError(
                f"{where}.headers.{header}: a header whose name contains 'test' or 'e2e' switches the backend's auth bypass on "
                "(its JWT signature goes unchecked); set backend_test_headers = true to send the backend's test headers on purpose"
            )
    auth_canary = _bool(t.get("auth_canary", False), f"{where}.auth_canary")
    if auth_canary and auth.mode == "none":
        raise ConfigError(f"{where}.auth_canary: needs auth.mode 'jwt' or 'static' (a canary is a wrong token)")
    return Target(
        name=name,
        url=url,
        health_url=health,
        revision_field=_str(t.get("revision_field", "revision"), f"{where}.revision_field"),
        environment=_str(t.get("environment", "staging"), f"{where}.environment"),
        tags=_str_map(t.get("tags", {}), f"{where}.tags"),
        headers=headers,
        auth=auth,
        timeouts=Timeouts(total=_positive(t.get("timeout_s", DEFAULT_TIMEOUT_S), f"{where}.timeout_s"), phases=deadlines),
        welcome_any_first=welcome == "any",
        user_request=_str(t.get("user_request", DEFAULT_USER_REQUEST), f"{where}.user_request"),
        insecure_skip_tls_verify=_bool(t.get("insecure_skip_tls_verify", False), f"{where}.insecure_skip_tls_verify"),
        service_name=t.get("service_name"),
        protocol=protocol,
        auth_canary=auth_canary,
        backend_test_headers=_bool(t.get("backend_test_headers", False), f"{where}.backend_test_headers"),
    )


@dataclass(frozen=True)
class OtelConfig:
    """The probe config's ``[otel]`` table: where runs are exported as OTLP (none: not from the config)."""

    #: OTLP/HTTP base URL (``/v1/traces`` and ``/v1/metrics`` are appended), as OTEL_EXPORTER_OTLP_ENDPOINT.
    endpoint: str | None = None
    service_name: str | None = None
    #: The whole export's time budget at exit: a dead collector delays the run by at most about this.
    timeout_s: float | None = None
    tracestate: str | None = None


#: The longest export budget a config may ask for: an export must never hold cron up for long.
MAX_OTEL_TIMEOUT_S = 10.0
_OTEL_KEYS = {"endpoint", "service_name", "timeout_s", "tracestate"}


def parse_otel(data: Mapping[str, Any]) -> OtelConfig:
    """The ``[otel]`` table, checked (headers are secret-bearing: only OTEL_EXPORTER_OTLP_HEADERS, never the file)."""
    from probes.tracecontext import tracestate_problem

    o = _table(data.get("otel", {}), "otel")
    if "headers" in o:
        raise ConfigError("otel.headers: collector headers often hold API keys; set OTEL_EXPORTER_OTLP_HEADERS instead")
    unknown = set(o) - _OTEL_KEYS
    if unknown:
        raise ConfigError(f"otel: unknown key(s) {sorted(unknown)}; known: {sorted(_OTEL_KEYS)}")
    endpoint = _opt_str(o.get("endpoint"), "otel.endpoint")
    if endpoint is not None:
        check_http_url(endpoint, "otel.endpoint")
    timeout = o.get("timeout_s")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or not math.isfinite(timeout)
                                or not 0 < timeout <= MAX_OTEL_TIMEOUT_S):
        raise ConfigError(f"otel.timeout_s: must be a positive number of seconds, at most {MAX_OTEL_TIMEOUT_S:g}, got {_shown(timeout)}")
    tracestate = _opt_str(o.get("tracestate"), "otel.tracestate")
    if tracestate is not None and (why := tracestate_problem(tracestate)):
        raise ConfigError(f"otel.tracestate: {why}")
    service = _opt_str(o.get("service_name"), "otel.service_name")
    if service is not None and (len(service) > 200 or not service.isprintable()):
        raise ConfigError("otel.service_name: at most 200 printable characters")
    return OtelConfig(endpoint=endpoint, service_name=service, timeout_s=None if timeout is None else float(timeout), tracestate=tracestate)


def check_http_url(url: str, where: str) -> None:
    """An http(s) URL with a host (an OTLP endpoint); the message masks any user info it holds."""
    _check_url(url, where, schemes=("http://", "https://"))


_AUTH_KEYS = {"mode", "secret_env", "secret_file", "token_env", "token_file", "subject", "ttl_s", "claims", "transport"}


def _parse_auth(a: dict[str, Any], where: str) -> AuthConfig:
    for secretish in ("secret", "token", "jwt", "password"):
        if secretish in a:
            raise ConfigError(f"{where}.{secretish}: secrets never go in the config; name an env var or a file")
    unknown = set(a) - _AUTH_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(_AUTH_KEYS)}")
    mode = a.get("mode", "jwt")
    if mode not in AUTH_MODES:
        raise ConfigError(f"{where}.mode: must be one of {list(AUTH_MODES)}")
    transport = a.get("transport", "header")
    if transport not in TOKEN_TRANSPORTS:
        raise ConfigError(f"{where}.transport: must be one of {list(TOKEN_TRANSPORTS)}")
    if mode == "static" and not (a.get("token_env") or a.get("token_file")):
        raise ConfigError(f"{where}: mode 'static' needs token_env or token_file")
    ttl = a.get("ttl_s", 900)
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 < ttl <= MAX_SECONDS:
        raise ConfigError(f"{where}.ttl_s: must be a whole number of seconds from 1 to {MAX_SECONDS:.0f} (1 day), got {_shown(ttl)}")
    return AuthConfig(
        mode=mode,
        secret_env=_str(a.get("secret_env", "PATHWATCH_JWT_SECRET"), f"{where}.secret_env"),
        secret_file=_opt_str(a.get("secret_file"), f"{where}.secret_file"),
        token_env=_opt_str(a.get("token_env"), f"{where}.token_env"),
        token_file=_opt_str(a.get("token_file"), f"{where}.token_file"),
        subject=_str(a.get("subject", DEFAULT_SUBJECT), f"{where}.subject"),
        ttl_s=ttl,
        claims=_claims(a.get("claims", {}), f"{where}.claims"),
        transport=transport,
    )


#: Longest URL accepted; real endpoints are far shorter.
MAX_URL_LEN = 2048


def _check_url(url: Any, where: str, schemes: tuple[str, ...] = ("ws://", "wss://")) -> None:
    """A URL with one of ``schemes``, a host and a valid port; no spaces or control characters."""
    kinds = " or ".join(schemes)
    if not isinstance(url, str) or not url.startswith(schemes):
        raise ConfigError(f"{where}: must be {'an' if kinds.startswith('h') else 'a'} {kinds} URL, got {_shown(url)}")
    if len(url) > MAX_URL_LEN:
        raise ConfigError(f"{where}: longer than {MAX_URL_LEN} characters")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ConfigError(f"{where}: must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # "Invalid IPv6 URL", "Port out of range 0-65535", a port that is not a number
        what = "an invalid port" if "port" in str(exc).lower() else "an invalid host"
        raise ConfigError(f"{where}: {_shown(url)} has {what} ({exc})") from None
    if not parts.hostname:
        raise ConfigError(f"{where}: {_shown(url)} has no host")
    if port == 0:
        raise ConfigError(f"{where}: {_shown(url)} has an invalid port (0); ports are 1 to 65535")


_USERINFO = re.compile(r"(?<=//)[^/@?#]*@")


def _shown(v: Any) -> str:
    """A value as an error message shows it: TOML dates and times named as such; user info and tokens in a URL
    masked, then cut (repr keeps control characters inert)."""
    import datetime

    if isinstance(v, datetime.date | datetime.time):
        return f"a TOML date/time ({v.isoformat()}); put text in quotes"
    text = _USERINFO.sub(MASK + "@", v) if isinstance(v, str) else v
    return clip(repr(text), 120)


def _table(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, Mapping):
        raise ConfigError(f"{where}: must be a table, got {_shown(v)}")
    return dict(v)


def _str(v: Any, where: str) -> str:
    if not isinstance(v, str) or not v:
        raise ConfigError(f"{where}: must be a non-empty string, got {_shown(v)}")
    return v


def _opt_str(v: Any, where: str) -> str | None:
    """An optional string setting: absent is None, anything but non-empty text is an error."""
    return None if v is None else _str(v, where)


def _str_map(v: Any, where: str) -> dict[str, str]:
    """A table of text (tags, headers); no control characters, so nothing can smuggle a header line in."""
    out = {}
    for k, val in _table(v, where).items():
        text = _str(val, f"{where}.{k}")
        if not k or any(not c.isprintable() for c in k + text):
            raise ConfigError(f"{where}.{k}: must not be empty or hold control characters (newlines, tabs)")
        out[str(k)] = text
    return out


def _claims(v: Any, where: str) -> dict[str, Any]:
    """Extra JWT claims: JSON values only (text, whole numbers, finite numbers, booleans, arrays and tables of them)."""
    claims = _table(v, where)
    for k, val in claims.items():
        _json_value(val, f"{where}.{k}")
    return claims


def _json_value(v: Any, where: str) -> None:
    if isinstance(v, str | bool | int):
        return
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ConfigError(f"{where}: must be a finite number, got {v!r}")
        return
    if isinstance(v, list):
        for i, item in enumerate(v):
            _json_value(item, f"{where}[{i}]")
        return
    if isinstance(v, Mapping):
        for k, item in v.items():
            _json_value(item, f"{where}.{k}")
        return
    raise ConfigError(f"{where}: must be text, a number, true/false, an array or a table, got {_shown(v)}")


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(f"{where}: must be true or false, got {_shown(v)}")
    return v


def check_seconds(value: Any, where: str) -> float:
    """A flag or setting in seconds (``--every``, ``--timeout``), checked as the config's own deadlines are."""
    return _positive(value, where)


def _positive(v: Any, where: str) -> float:
    """Seconds: a finite number above zero and at most MAX_SECONDS (nan, inf, 0, negatives and 1e12 are refused)."""
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not 0 < v <= MAX_SECONDS:
        raise ConfigError(f"{where}: must be a positive number of seconds, at most {MAX_SECONDS:.0f} (1 day), got {_shown(v)}")
    return float(v)
