"""Settings for the analysis and the dashboard: SLO, business impact, incident rule, dashboard flags.

Parsed from a mapping (the TOML file named by ``PATHWATCH_SETTINGS``; see demo/settings.toml);
every error names the field, as the probe config does. Reading the file is the edge's work
(``services.settings.settings_from_env``): this module only checks what it is given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from analysis.alerting import ALERTING_KEYS, AlertingSettings, parse_alerting
from analysis.deploys import FixRule
from analysis.impact import ImpactConfig
from analysis.incidents import IncidentRule
from analysis.report import ReportConfig
from analysis.slo import SLOConfig
from probes.errors import ConfigError


@dataclass(frozen=True)
class DashboardSettings:
    #: Hide every editor (wall screens, managers).
    read_only: bool = False
    #: Rerun the page every N seconds (0: only on interaction).
    refresh_s: float = 0.0
    #: Public base URL of the dashboard, for links in GitHub bodies.
    public_url: str = ""


@dataclass(frozen=True)
class OtelSettings:
    #: The team's tracing UI for one trace: an http(s) URL template holding ``{trace_id}`` ("" shows trace ids only).
    trace_url: str = ""


@dataclass(frozen=True)
class Settings:
    report: ReportConfig = field(default_factory=ReportConfig)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    alerting: AlertingSettings = field(default_factory=AlertingSettings)
    otel: OtelSettings = field(default_factory=OtelSettings)


#: Ceilings that turn a typo into an error rather than a dashboard that never refreshes or an SLO nobody can meet.
MAX_THRESHOLD_S = 86400.0
MAX_WINDOW_DAYS = 366.0
MAX_REFRESH_S = 86400.0
MAX_GAP_S = 86400.0
MAX_RUNS = 100_000


def _number(v: Any, where: str, *, low: float = 0.0, high: float | None = None, strict: bool = False) -> float:
    """A finite number in [low, high] (above low when ``strict``): nan, inf and TOML dates are refused by name."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ConfigError(f"{where}: must be a number, got {_shown(v)}")
    if not math.isfinite(v):
        raise ConfigError(f"{where}: must be a finite number, got {v!r}")
    if v < low or (strict and v == low) or (high is not None and v > high):
        bounds = f"{'above' if strict else 'at least'} {low:g}" + ("" if high is None else f" and at most {high:g}")
        raise ConfigError(f"{where}: {v!r} is out of range (must be {bounds})")
    return float(v)


def _shown(v: Any) -> str:
    import datetime

    if isinstance(v, datetime.date | datetime.time):
        return f"a TOML date/time ({v.isoformat()})"
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def _section(data: Mapping[str, Any], name: str, source: str, allowed: set[str]) -> dict[str, Any]:
    sec = data.get(name, {})
    if not isinstance(sec, Mapping):
        raise ConfigError(f"{source}: [{name}] must be a table")
    unknown = set(sec) - allowed
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) in [{name}]: {sorted(unknown)}; allowed: {sorted(allowed)}")
    return dict(sec)


def parse_settings(data: Mapping[str, Any], source: str = "settings") -> Settings:
    unknown = set(data) - {"slo", "impact", "incidents", "dashboard", "alerting", "otel"}
    if unknown:
        raise ConfigError(f"{source}: unknown top-level key(s) {sorted(unknown)}")
    s = _section(data, "slo", source, {"objective", "threshold_s", "window_days"})
    slo = SLOConfig()
    if "objective" in s:
        slo = replace(slo, objective=_number(s["objective"], "slo.objective", low=0.0, high=0.99999, strict=True))
    if "threshold_s" in s:
        slo = replace(slo, threshold_s=_number(s["threshold_s"], "slo.threshold_s", high=MAX_THRESHOLD_S, strict=True))
    if "window_days" in s:
        slo = replace(slo, window_s=_number(s["window_days"], "slo.window_days", high=MAX_WINDOW_DAYS, strict=True) * 86400.0)
    i = _section(data, "impact", source, {f.name for f in fields(ImpactConfig)})
    imp = ImpactConfig()
    for k, v in i.items():
        if k == "currency":
            if not isinstance(v, str) or len(v) > 4 or not v.isprintable():
                raise ConfigError("impact.currency: must be a short text such as \"$\" or \"EUR \"")
            imp = replace(imp, currency=v)
        else:
            value = _number(v, f"impact.{k}", high=MAX_GAP_S if k == "max_gap_s" else None, strict=k == "max_gap_s")
            imp = replace(imp, **{k: int(value) if k == "active_users" else value})
    r = _section(data, "incidents", source, {"open_after", "close_after", "burn_alerts", "burn_min_runs"})
    rule = IncidentRule()
    for k, v in r.items():
        if k == "burn_alerts":
            if not isinstance(v, bool):
                raise ConfigError("incidents.burn_alerts: must be true or false")
            rule = replace(rule, burn_alerts=v)
            continue
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_RUNS:
            raise ConfigError(f"incidents.{k}: must be a whole number of runs from 1 to {MAX_RUNS}, got {_shown(v)}")
        rule = replace(rule, **{k: v})
    d = _section(data, "dashboard", source, {f.name for f in fields(DashboardSettings)})
    dash = DashboardSettings()
    if "read_only" in d:
        if not isinstance(d["read_only"], bool):
            raise ConfigError("dashboard.read_only: must be true or false")
        dash = replace(dash, read_only=d["read_only"])
    if "refresh_s" in d:
        refresh = _number(d["refresh_s"], "dashboard.refresh_s", high=MAX_REFRESH_S)
        if 0 < refresh < 1:
            raise ConfigError(f"dashboard.refresh_s: {refresh:g} would rerun every page many times a second; use 0 (off) or 1 or more")
        dash = replace(dash, refresh_s=refresh)
    if "public_url" in d:
        if not isinstance(d["public_url"], str) or not d["public_url"].startswith(("http://", "https://")):
            raise ConfigError("dashboard.public_url: must start with http:// or https://")
        dash = replace(dash, public_url=d["public_url"].rstrip("/"))
    alerting = parse_alerting(_section(data, "alerting", source, ALERTING_KEYS))
    o = _section(data, "otel", source, {f.name for f in fields(OtelSettings)})
    otel = OtelSettings()
    if "trace_url" in o:
        from analysis.traces import template_problem

        if not isinstance(o["trace_url"], str) or (why := template_problem(o["trace_url"])):
            raise ConfigError(f"otel.trace_url: {why if isinstance(o['trace_url'], str) else 'must be text'}, "
                              "e.g. \"https://console.cloud.google.com/traces/list?tid={trace_id}\"")
        otel = OtelSettings(trace_url=o["trace_url"])
    return Settings(ReportConfig(slo=slo, impact=imp, incidents=rule, fix=FixRule()), dash, alerting, otel)
