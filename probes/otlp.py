"""Whether and where a probe exports its runs as OpenTelemetry (OTLP/HTTP): settings only, no OpenTelemetry import.

Export is on with ``--otlp [URL]``, an ``[otel] endpoint`` in the probe config, or the standard
``OTEL_EXPORTER_OTLP_ENDPOINT``; the endpoint is taken in that order (default ``http://localhost:4318``). Headers for
the collector come only from ``OTEL_EXPORTER_OTLP_HEADERS`` (they often hold an API key: never printed or stored),
the service name from ``OTEL_SERVICE_NAME``, else ``[otel] service_name``, else ``pathwatch-probe``. The exporter
itself (``services.telemetry``) is imported only when this says export is on, so the cron path stays lean.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from probes.config import OtelConfig, check_http_url, strip_credentials
from probes.errors import ConfigError

ENV_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
ENV_HEADERS = "OTEL_EXPORTER_OTLP_HEADERS"
ENV_SERVICE = "OTEL_SERVICE_NAME"
DEFAULT_ENDPOINT = "http://localhost:4318"
DEFAULT_SERVICE = "pathwatch-probe"
#: The export's whole time budget at exit (traces, then metrics): a dead collector costs at most about this.
DEFAULT_TIMEOUT_S = 0.4
MAX_HEADERS = 32


@dataclass(frozen=True)
class ExportSettings:
    """Where and how runs are exported. ``headers`` are secrets: left out of ``repr``."""

    endpoint: str
    service_name: str = DEFAULT_SERVICE
    timeout_s: float = DEFAULT_TIMEOUT_S
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def shown_endpoint(self) -> str:
        """The endpoint as messages show it: no user info or query (where credentials hide)."""
        return strip_credentials(self.endpoint)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values to redact from anything printed about the export: the header values."""
        return tuple(v for v in self.headers.values() if v)


def parse_headers(value: str, where: str = ENV_HEADERS) -> dict[str, str]:
    """``key=value,key2=value2`` (values percent-decoded), as the OTLP exporter spec says. Errors name the variable
    and the member's position, never a value (it may be an API key)."""
    out: dict[str, str] = {}
    if not value.strip():
        return out
    members = value.split(",")
    if len(members) > MAX_HEADERS:
        raise ConfigError(f"{where}: at most {MAX_HEADERS} headers")
    for i, member in enumerate(members, 1):
        if not member.strip():  # "a=1," or "a=1,,b=2": empty members are skipped, as the SDK does
            continue
        key, eq, val = member.partition("=")
        key, val = unquote(key.strip()), unquote(val.strip())
        if not eq or not key or not all(c.isalnum() or c in "-_." for c in key):
            raise ConfigError(f"{where}: header {i} must be name=value with a name of letters, digits, '-', '_' or '.'")
        if any(not c.isprintable() for c in val):
            raise ConfigError(f"{where}: the value of header {i} ({key}) holds control characters")
        out[key] = val
    return out


def resolve_export(flag: str | None, config: OtelConfig | None, environ: Mapping[str, str]) -> ExportSettings | None:
    """The export settings, or None when nothing asks for export. ``flag`` is ``--otlp``'s value ("" when given
    without a URL, None when absent). A bad value is a :class:`ConfigError` naming where it came from."""
    config = config or OtelConfig()
    env_endpoint = environ.get(ENV_ENDPOINT, "").strip()
    if flag is None and not config.endpoint and not env_endpoint:
        return None
    if flag:
        endpoint, where = flag, "--otlp"
    elif config.endpoint:
        endpoint, where = config.endpoint, "otel.endpoint"
    elif env_endpoint:
        endpoint, where = env_endpoint, ENV_ENDPOINT
    else:
        endpoint, where = DEFAULT_ENDPOINT, "--otlp"
    check_http_url(endpoint, where)
    headers = parse_headers(environ.get(ENV_HEADERS, ""))
    service = environ.get(ENV_SERVICE, "").strip() or config.service_name or DEFAULT_SERVICE
    if len(service) > 200 or not service.isprintable():
        raise ConfigError(f"{ENV_SERVICE}: at most 200 printable characters")
    return ExportSettings(endpoint=endpoint.rstrip("/"), service_name=service, timeout_s=config.timeout_s or DEFAULT_TIMEOUT_S,
                          headers=headers)
